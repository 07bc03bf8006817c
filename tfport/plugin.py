"""The contract between the core and a target plugin.

A target pairs a converter (SavedModel -> artifact) with a runtime that executes the artifact.
The core calls only what is declared here and reads only the records declared here, so a new
target never needs a change in the core.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tfport.errors import BadInputError, ConversionError

if TYPE_CHECKING:  # a name in annotations only: the ground floor does not load parity
    from tfport.parity.tolerance import Tolerance

Feed = Mapping[str, np.ndarray]
RUNTIME_THREADS = "threads"  # a runner option every runtime honours (see Runner)
SignatureIO = dict[str, dict[str, dict[str, Any]]]  # {"inputs"|"outputs": {key: {"dtype", "shape", ...}}}


@dataclass
class RuntimeNeeds:
    """What a device must provide to run the artifact, as release manifests state it."""

    name: str  # the runtime, e.g. "onnxruntime"
    min_version: str | None = None
    min_version_source: str = ""  # how min_version was found
    needs: list[str] = field(default_factory=list)  # beyond the runtime itself, e.g. a delegate
    details: dict[str, Any] = field(default_factory=dict)  # facts of this runtime: ops, opsets, format

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "min_version": self.min_version, "min_version_source": self.min_version_source,
                "needs": list(self.needs), **self.details}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuntimeNeeds:
        known = {"name", "min_version", "min_version_source", "needs"}
        return cls(str(data["name"]), data.get("min_version"), str(data.get("min_version_source", "")),
                   [str(n) for n in data.get("needs", [])], {k: v for k, v in data.items() if k not in known})


@dataclass
class ArtifactMetadata:
    """Everything the core reads about an artifact, recorded in its tfport.json.

    `io` has one entry per signature the artifact holds (its tensors as the artifact declares
    them: quantized I/O changes dtypes); `signature_aliases` maps a signature that is the same
    function as another to the one kept; `target_data` is the target's own, for its runner only.
    """

    converter: str  # e.g. "tf2onnx 1.17.0"
    runtime: RuntimeNeeds
    io: dict[str, SignatureIO]
    signature_aliases: dict[str, str] = field(default_factory=dict)
    target_data: dict[str, Any] = field(default_factory=dict)

    def check(self, target: str, signatures: list[str]) -> None:
        """Refuse a record the core cannot use: a target's bug, named before anything is stored."""
        problems = [f"{name} is not {kind.__name__}" for name, kind in
                    (("converter", str), ("runtime", RuntimeNeeds), ("io", dict), ("signature_aliases", dict),
                     ("target_data", dict)) if not isinstance(getattr(self, name), kind)]
        if not problems:
            held = set(self.io) | set(self.signature_aliases)
            problems += [f"signature {key!r} is neither in io nor an alias" for key in signatures if key not in held]
            problems += [f"alias {a!r} points at {k!r}, which io lacks" for a, k in self.signature_aliases.items()
                         if k not in self.io]
            problems += [f"io[{key!r}] lacks inputs/outputs" for key, io in self.io.items()
                         if not {"inputs", "outputs"} <= set(io)]
        if problems:
            raise ConversionError(f"target {target} described its artifact wrongly: {'; '.join(problems)} — "
                                  "a bug in the target plugin")

    def signature_io(self, key: str) -> SignatureIO:
        return self.io[self.signature_aliases.get(key, key)]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["runtime"] = self.runtime.to_json()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ArtifactMetadata:
        return cls(str(data["converter"]), RuntimeNeeds.from_json(data["runtime"]), dict(data["io"]),
                   dict(data.get("signature_aliases", {})), dict(data.get("target_data", {})))


class Runner:
    """Executes one artifact, signature by signature, on arrays keyed by the SavedModel's names.

    Quantized inputs and outputs are (de)quantized by the runner with the tensor's own scale and
    zero point, so that the parity engine always compares values in the SavedModel's dtypes.

    The options given to `Target.open_runner` may hold `threads` (RUNTIME_THREADS): the intra-op
    thread count `tfport bench` asks of every runtime alike; absent, the runtime's own default.
    """

    @property
    def notes(self) -> list[str]:
        """Read after the run: what the report should say about how the artifact ran (e.g. which
        backend), as conversion notes say how it was made."""
        return []

    @property
    def unnamed(self) -> bool:
        """True when the artifact is one graph that names no signature (another tool made it, e.g.
        `tf2onnx.convert --output m.onnx`): it answers whichever signature it is asked for, and
        the caller chooses the one to check. Input and output names may then be the converter's
        own; the runner matches inputs, the parity engine outputs (tfport.parity.io_names)."""
        return False

    def run(self, signature: str, feed: Feed) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def intermediates(self, signature: str, feed: Feed) -> list[tuple[list[str], np.ndarray]]:
        """Every value the artifact computes for `feed`, in its execution order, each with the
        TensorFlow op names the converter kept for it (the op that produced it first, then the ops
        fused into it), as floats — what `tfport explain` matches against the SavedModel's own
        intermediate tensors. A target whose runtime cannot expose them keeps this default."""
        raise NotImplementedError("this target's runtime cannot expose intermediate values")

    def timed_runs(self, signature: str, feed: Feed, warmup: int, runs: int) -> list[float]:
        """Seconds per run. A runtime in another process overrides this to time inside it, so
        that bench does not count the trip between processes."""
        for _ in range(warmup):
            self.run(signature, feed)
        seconds = []
        for _ in range(runs):
            started = time.perf_counter()
            self.run(signature, feed)
            seconds.append(time.perf_counter() - started)
        return seconds

    def close(self) -> None:
        pass


@dataclass
class ConversionRequest:
    saved_model: Any  # tfport.savedmodel.reader.SavedModelInfo
    quantization: str
    out_dir: Path  # an empty staging directory that the converter writes into
    calibration: Callable[[], Any]  # yields (signature, feed) pairs, for calibrated modes
    options: Mapping[str, Any] = field(default_factory=dict)

    def samples_for(self, key: str) -> list[Feed]:
        """The calibration feeds one converted function must cover: those of signature `key` and of
        the signatures that are the same function (they run the same file, so its ranges must
        cover their inputs too). Refused when there are none."""
        answering = {key} | {alias for alias, kept in self.saved_model.aliases.items() if kept == key}
        samples = [feed for signature, feed in self.calibration() if signature in answering]
        if not samples:
            raise ConversionError(f"no calibration samples for signature {key!r}")
        return samples


@dataclass
class ConversionResult:
    artifact: Path  # the file (or directory) a user deploys, inside the request's out_dir
    metadata: ArtifactMetadata
    notes: list[str] = field(default_factory=list)  # shown in reports, e.g. "needs Flex delegate"


def lazy(reference: str) -> Callable[..., Any]:
    """`lazy("pkg.module:function")`: imports the module on first call, so listing targets
    (and `tfport --help`) never imports a converter's heavy dependencies."""
    module, _, name = reference.partition(":")

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__qualname__ = reference
    return call


@dataclass(frozen=True)
class TargetOption:
    """A target-specific command-line option, e.g. `--opset 17` or `--bundle`."""

    help: str
    type: type = str  # bool options are flags; others take a value
    default: Any = None


def _no_check(options: Mapping[str, Any]) -> None:
    pass


def listed_option(value: Any, known: tuple[str, ...], option: str) -> list[str]:
    """The names of a comma-separated option (`--tfjs-backend wasm,cpu`), each known, in order, once."""
    chosen = list(dict.fromkeys(part.strip() for part in str(value).split(",") if part.strip()))
    if not chosen or any(name not in known for name in chosen):
        raise BadInputError(f"{option} {value!r}: choose from {', '.join(known)} (comma-separated for several)")
    return chosen


def one_run(options: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The default of Target.parity_runs: the artifact is proven once, with the options as given."""
    return [("", dict(options))]


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    quantization_modes: tuple[str, ...]  # the first is the default
    tolerances: Mapping[str, Tolerance]  # default tolerance per quantization mode
    convert: Callable[[ConversionRequest], ConversionResult]
    open_runner: Callable[[Path, ArtifactMetadata, Mapping[str, Any]], Runner]  # artifact, metadata, options
    recognizes: Callable[[Path], bool]  # is this path an artifact of this target, by its content?
    runtime_problem: Callable[[], str | None]  # None when the runtime is usable here
    options: Mapping[str, TargetOption] = field(default_factory=dict)  # name with underscores
    check_options: Callable[[Mapping[str, Any]], None] = _no_check  # refuses bad values before any work
    # The runtimes one artifact is proven on, each a verdict of its own: (name for reports, runner
    # options). One unnamed run by default; `--tfjs-backend wasm,cpu` makes two, "wasm" and "cpu".
    parity_runs: Callable[[Mapping[str, Any]], list[tuple[str, dict[str, Any]]]] = one_run
    # Modes whose conversion reads ConversionRequest.calibration (the golden inputs). Only they wait
    # for the golden set and have it in their cache key; the others convert while it is recorded.
    calibrated_modes: tuple[str, ...] = ()
    setup: Callable[[], str] | None = None  # installs what the runtime needs; returns a summary
    # Starts, before the golden set is recorded, what this target's conversions will need (a
    # converter process importing its libraries), so that it gets ready meanwhile; the context
    # lasts the run. Called only when some artifact of the target is not in the cache.
    warm_up: Callable[[], AbstractContextManager[None]] | None = None
    packages: tuple[str, ...] = ()  # distributions whose versions shape the artifact (cache key)
    suffixes: tuple[str, ...] = ()  # file name endings of its format: a file no target recognizes by
    # content but named so is taken as this target's, so that its runner says what is wrong with it

    @property
    def default_mode(self) -> str:
        return self.quantization_modes[0]

"""The contract between the core and a target plugin.

A target pairs a converter (SavedModel -> artifact) with a runtime that executes the artifact.
The core calls only what is declared here, so a new target never needs a change in the core.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tfport.tolerance import Tolerance

Feed = Mapping[str, np.ndarray]
RUNTIME_THREADS = "threads"  # a runner option every runtime honours (see Runner)


class Runner(Protocol):
    """Executes one artifact, signature by signature, on arrays keyed by the SavedModel's names.

    Quantized inputs and outputs are (de)quantized by the runner with the tensor's own scale and
    zero point, so that the parity engine always compares values in the SavedModel's dtypes.

    The options given to `Target.open_runner` may hold `threads` (RUNTIME_THREADS): the intra-op
    thread count `tfport bench` asks of every runtime alike; absent, the runtime's own default.
    A runner whose runtime lives in another process may also offer
    `timed_runs(signature, feed, warmup, runs) -> list[float]`: seconds per run, timed inside the
    runtime, so that bench does not count the trip between processes.
    A runner may also offer `notes: list[str]`, read after the run: what the report should say
    about how the artifact ran (e.g. which backend), as conversion notes say how it was made.
    """

    def run(self, signature: str, feed: Feed) -> dict[str, np.ndarray]: ...

    def close(self) -> None: ...


@dataclass
class ConversionRequest:
    saved_model: Any  # tfport.savedmodel.SavedModelInfo
    quantization: str
    out_dir: Path  # an empty staging directory that the converter writes into
    calibration: Callable[[], Any]  # yields (signature, feed) pairs, for calibrated modes
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ConversionResult:
    artifact: Path  # the file (or directory) a user deploys, inside the request's out_dir
    notes: list[str] = field(default_factory=list)  # shown in reports, e.g. "needs Flex delegate"
    metadata: dict[str, Any] = field(default_factory=dict)  # recorded beside the artifact


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


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    quantization_modes: tuple[str, ...]  # the first is the default
    tolerances: Mapping[str, Tolerance]  # default tolerance per quantization mode
    convert: Callable[[ConversionRequest], ConversionResult]
    open_runner: Callable[[Path, Mapping[str, Any], Mapping[str, Any]], Runner]  # artifact, metadata, options
    recognizes: Callable[[Path], bool]  # is this path an artifact of this target?
    runtime_problem: Callable[[], str | None]  # None when the runtime is usable here
    options: Mapping[str, TargetOption] = field(default_factory=dict)  # name with underscores
    setup: Callable[[], str] | None = None  # installs what the runtime needs; returns a summary
    packages: tuple[str, ...] = ()  # distributions whose versions shape the artifact (cache key)

    @property
    def default_mode(self) -> str:
        return self.quantization_modes[0]

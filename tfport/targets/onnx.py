"""The ONNX target: tf2onnx paired with onnxruntime.

Default tolerances, per quantization mode (reasons and measurements in README, "### onnx"):
- float32: |Δ| ≤ 1e-4 + 1e-3·|ref| per element — same math, other kernels.
- fp16: weights and compute in float16 (inputs/outputs float32); cosine ≥ 0.999, SNR ≥ 30 dB.
- dynamic: int8 weights, activations quantized per run; cosine ≥ 0.995, SNR ≥ 20 dB.
- int8: static QDQ, uint8 activations, int8 per-channel weights (7-bit unless
  --full-range-weights), calibrated; cosine ≥ 0.99, SNR ≥ 15 dB, top-1 ≥ 0.95.

Nothing here imports onnx, onnxruntime or TensorFlow at module import (`tfport --help` stays light).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tfport.converters import onnx_labels as labels
from tfport.errors import BadInputError, RuntimeMissingError
from tfport.parity.io_names import inputs_matched
from tfport.parity.tolerance import Tolerance
from tfport.plugin import RUNTIME_THREADS, ArtifactMetadata, Feed, Runner, Target, TargetOption, lazy
from tfport.savedmodel.protowire import LENGTH, VARINT, WireError, read_varint

TOLERANCES = {
    "float32": Tolerance(atol=1e-4, rtol=1e-3),
    "fp16": Tolerance(min_cosine=0.999, min_snr_db=30.0),
    "dynamic": Tolerance(min_cosine=0.995, min_snr_db=20.0),
    "int8": Tolerance(min_cosine=0.99, min_snr_db=15.0, min_top1=0.95),
}
OPTIMIZATION_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
                       "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}
ORT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
             "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int16)": np.int16,
             "tensor(int8)": np.int8, "tensor(uint8)": np.uint8, "tensor(uint16)": np.uint16,
             "tensor(uint32)": np.uint32, "tensor(uint64)": np.uint64, "tensor(bool)": np.bool_}
CPU = "CPUExecutionProvider"


def session_settings(options: Mapping[str, Any]) -> tuple[Callable[[], Any], list[str]]:
    """(a factory of SessionOptions, the provider list) for --provider and --graph-optimization.

    An unknown optimization level or provider is refused; a provider onnxruntime knows but this
    installation lacks (e.g. CUDA without onnxruntime-gpu) is a missing runtime: both exit 2.
    """
    problem = runtime_problem()
    if problem:
        raise RuntimeMissingError(problem)
    import onnxruntime

    level = str(options.get("graph_optimization") or "all").lower()
    if level not in OPTIMIZATION_LEVELS:
        raise BadInputError(f"--graph-optimization {level!r}: choose one of {', '.join(OPTIMIZATION_LEVELS)}")
    provider = _provider(onnxruntime, str(options.get("provider") or "CPU"))

    def session_options():
        settings = onnxruntime.SessionOptions()
        settings.graph_optimization_level = getattr(onnxruntime.GraphOptimizationLevel, OPTIMIZATION_LEVELS[level])
        settings.log_severity_level = 3  # errors only; they reach tfport as exceptions anyway
        if options.get(RUNTIME_THREADS):
            settings.intra_op_num_threads, settings.inter_op_num_threads = options[RUNTIME_THREADS], 1
        return settings

    return session_options, [provider] if provider == CPU else [provider, CPU]


def _provider(onnxruntime, name: str) -> str:
    """`CUDA`, `cuda` or `CUDAExecutionProvider` -> `CUDAExecutionProvider`, if available here."""
    available = onnxruntime.get_available_providers()
    wanted = name.lower().removesuffix("executionprovider")
    known = {p.lower().removesuffix("executionprovider"): p for p in onnxruntime.get_all_providers()}
    listed = ", ".join(available)
    if wanted not in known:
        raise BadInputError(f"--provider {name!r} is not an onnxruntime execution provider — "
                            f"available here: {listed}")
    full = known[wanted]
    if full not in available:
        raise RuntimeMissingError(
            f"--provider {name}: this onnxruntime {onnxruntime.__version__} has no {full} — available here: "
            f"{listed} (a GPU provider needs e.g. the onnxruntime-gpu package instead of onnxruntime, and its drivers)"
        )
    return full


class OnnxRunner(Runner):
    """One onnxruntime session per signature file; feeds and outputs keyed by the SavedModel's keys.

    `artifact` is the directory of `<signature>.onnx` files, or one such file: then only that
    signature (and the signatures it answers for) can run.
    """

    def __init__(self, artifact: Path, metadata: ArtifactMetadata | None, options: Mapping[str, Any]):
        self._session_options, self._providers = session_settings(options)
        import onnxruntime

        self._ort = onnxruntime
        self._artifact = artifact
        files = [artifact] if artifact.is_file() else sorted(artifact.glob("*.onnx"))
        if not files:
            raise BadInputError(f"{artifact} holds no .onnx file")
        self._files = {path.name.removesuffix(".onnx"): path for path in files}
        self._aliases: dict[str, str] = dict(metadata.signature_aliases) if metadata else {}
        self._sessions: dict[str, tuple[Any, dict[str, str], dict[str, str]]] = {}
        self._inspected: dict[str, tuple[Any, list[tuple[str, str]]]] = {}  # sessions exposing every node
        self._unnamed = False
        if artifact.is_file():  # tfport labels the signature inside the file; another tool's file has no label
            (key,) = self._files
            named = self._session(key, key)[0].get_modelmeta().custom_metadata_map.get(labels.SIGNATURE)
            if named and named != key:
                self._files, self._sessions = {named: artifact}, {named: self._sessions.pop(key)}
            self._unnamed = not named

    @property
    def unnamed(self) -> bool:
        return self._unnamed

    def run(self, signature: str, feed: Feed) -> dict[str, np.ndarray]:
        session, inputs, outputs = self._session(self._file_for(signature), signature)
        names = [o.name for o in session.get_outputs()]
        values = session.run(names, _onnx_feed(session, inputs, feed, signature))
        return {outputs.get(name, name): _to_tensorflow(value) for name, value in zip(names, values)}

    def intermediates(self, signature: str, feed: Feed) -> list[tuple[list[str], np.ndarray]]:
        """Every node's first output, made a graph output of a copy of the file (tf2onnx names
        nodes after the TF ops they come from); values it computes channels-first stay so."""
        key = self._file_for(signature)
        _, inputs, _ = self._session(key, signature)
        if key not in self._inspected:
            import onnx

            model = onnx.load(str(self._files[key]))
            kept = {output.name for output in model.graph.output}
            produced = [(node.output[0], node.name) for node in model.graph.node if node.output and node.output[0]]
            model.graph.output.extend(onnx.ValueInfoProto(name=name) for name, _ in produced if name not in kept)
            session = self._ort.InferenceSession(model.SerializeToString(), self._session_options(),
                                                 providers=self._providers)
            self._inspected[key] = (session, produced)
        session, produced = self._inspected[key]
        values = session.run([name for name, _ in produced], _onnx_feed(session, inputs, feed, signature))
        return [([node, output], np.asarray(value)) for (output, node), value in zip(produced, values)
                if np.asarray(value).dtype.kind == "f"]

    def _file_for(self, signature: str) -> str:
        """The signature whose file answers `signature`: itself, or the one it aliases. Without
        tfport.json (a file copied elsewhere) each file's `tfport.aliases` says what it answers."""
        if self._unnamed:
            return next(iter(self._files))
        if signature not in self._files and signature not in self._aliases:
            for key in self._files:
                self._session(key, key)
                if signature in self._aliases:
                    break
        return self._aliases.get(signature, signature)

    def _session(self, key: str, asked: str):
        if key not in self._sessions:
            if key not in self._files:
                raise BadInputError(self._missing(asked))
            try:
                session = self._ort.InferenceSession(str(self._files[key]), self._session_options(),
                                                     providers=self._providers)
            except Exception as exc:  # onnxruntime's own exception types: a broken or foreign file
                reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
                what = ("is not an ONNX model, or a truncated one (its protobuf does not parse)"
                        if "INVALID_PROTOBUF" in reason or "Protobuf parsing failed" in reason
                        else "cannot be loaded")
                raise BadInputError(f"{self._files[key]} {what} — onnxruntime: {reason}; convert the model again, "
                                    "or copy the whole file") from None
            meta = session.get_modelmeta().custom_metadata_map
            try:
                found = {name: json.loads(meta.get(key, default))
                         for name, key, default in (("inputs", labels.INPUTS, "{}"), ("outputs", labels.OUTPUTS, "{}"),
                                                    ("aliases", labels.ALIASES, "[]"))}
            except json.JSONDecodeError as exc:
                raise BadInputError(f"{self._files[key]} has malformed tfport metadata ({exc}) — convert again") from None
            for alias in found["aliases"]:
                self._aliases.setdefault(alias, key)
            self._sessions[key] = (session, found["inputs"], found["outputs"])
        return self._sessions[key]

    def _missing(self, signature: str) -> str:
        held = ", ".join(sorted(self._files))
        if self._artifact.is_file():
            return (f"{self._artifact.name} holds signature {held} only, and the golden set also has {signature!r} — "
                    f"pass the artifact directory {self._artifact.parent} to check every signature, or a golden set "
                    f"recorded for {held} alone")
        return f"the ONNX artifact {self._artifact} has no {signature}.onnx (it has: {held})"

    def close(self) -> None:
        self._sessions.clear()
        self._inspected.clear()


def _onnx_feed(session, inputs: Mapping[str, str], feed: Feed, signature: str) -> dict[str, np.ndarray]:
    """The feed keyed by the session's input names, in its dtypes. A file tfport made says which
    key each input is (tfport.inputs); another tool's inputs are matched by name and spec."""
    graph_inputs = session.get_inputs()
    if not inputs:
        offered = {i.name: (_numpy_type(i.type), tuple(d if isinstance(d, int) else None for d in i.shape))
                   for i in graph_inputs}
        inputs = inputs_matched(feed, offered, f"the ONNX model's inputs for signature {signature!r}")
    onnx_feed = {}
    for graph_input in graph_inputs:
        key = inputs.get(graph_input.name, graph_input.name)
        if key not in feed:
            raise BadInputError(f"signature {signature!r} needs input {key!r}; the feed has {', '.join(feed)}")
        onnx_feed[graph_input.name] = _to_onnx(np.asarray(feed[key]), graph_input.type)
    return onnx_feed


def _numpy_type(onnx_type: str) -> str | None:
    if onnx_type == "tensor(string)":
        return "string"
    return np.dtype(ORT_TYPES[onnx_type]).name if onnx_type in ORT_TYPES else None


def _to_onnx(value: np.ndarray, onnx_type: str) -> np.ndarray:
    if onnx_type == "tensor(string)":  # onnxruntime takes str objects; TensorFlow's strings are bytes
        return np.char.decode(value, "utf-8").astype(object) if value.dtype.kind == "S" else value.astype(object)
    return value.astype(ORT_TYPES.get(onnx_type, value.dtype), copy=False)


def _to_tensorflow(value: np.ndarray) -> np.ndarray:
    """onnxruntime returns strings as Python str objects; TensorFlow's are bytes."""
    value = np.asarray(value)
    if value.dtype.kind in "OU":
        return np.char.encode(value.astype(str), "utf-8")
    return value


def runtime_problem() -> str | None:
    if importlib.util.find_spec("onnxruntime") is None:
        return "onnxruntime is not installed — pip install 'tfport[onnx]'"
    return None


# ModelProto's top-level fields and their wire types (onnx.proto): ir_version, producer_name and
# _version, domain, model_version, doc_string, graph, opset_import, metadata_props, functions…
MODEL_FIELDS = {1: VARINT, 2: LENGTH, 3: LENGTH, 4: LENGTH, 5: VARINT, 6: LENGTH, 7: LENGTH, 8: LENGTH,
                14: LENGTH, 20: LENGTH, 25: LENGTH}
MAX_FIELDS = 4096


def is_onnx_file(path: Path) -> bool:
    """Whether the file is an ONNX model by its content, whatever its name: its top-level fields,
    read by their keys alone (payloads are skipped, so a large model costs a few reads), are
    ModelProto's, with an ir_version and a graph, and end exactly at the end of the file."""
    try:
        size = path.stat().st_size
        seen: set[int] = set()
        with path.open("rb") as file:
            for _ in range(MAX_FIELDS):
                if file.tell() == size:
                    return {1, 7} <= seen
                key = _read_varint(file)
                number, wire_type = key >> 3, key & 7
                if MODEL_FIELDS.get(number) != wire_type:
                    return False
                seen.add(number)
                value = _read_varint(file)
                if wire_type == LENGTH:
                    file.seek(value, 1)
                if file.tell() > size:
                    return False
    except (OSError, WireError):
        return False
    return False


def _read_varint(file) -> int:
    data = file.read(10)
    value, used = read_varint(data, 0)
    file.seek(used - len(data), 1)
    return value


def recognizes(path: Path) -> bool:
    """An ONNX model file (by content), or a directory holding `.onnx` ones (what `convert` writes)."""
    if path.is_file():
        return is_onnx_file(path)
    return path.is_dir() and any(is_onnx_file(file) for file in path.glob("*.onnx"))


TARGET = Target(
    name="onnx",
    description="one ONNX model per signature for servers, run on onnxruntime",
    quantization_modes=tuple(TOLERANCES),
    tolerances=TOLERANCES,
    convert=lazy("tfport.converters.onnx:convert"),
    calibrated_modes=("int8",),
    open_runner=OnnxRunner,
    recognizes=recognizes,
    suffixes=(".onnx",),
    runtime_problem=runtime_problem,
    check_options=session_settings,  # an unknown level or an unavailable provider, before converting
    packages=("tensorflow", "tf2onnx", "onnx", "onnxruntime"),
    options={
        "opset": TargetOption("ONNX opset (default: the newest both tf2onnx and onnxruntime support)", int),
        "external_data": TargetOption("keep weights in <signature>.onnx.data (automatic above 2 GB)", bool, False),
        "provider": TargetOption("onnxruntime execution provider, e.g. CPU or CUDA", str, "CPU"),
        "graph_optimization": TargetOption("onnxruntime graph optimization: disable, basic, extended, all",
                                           str, "all"),
        "keep_float": TargetOption("int8 mode: nodes to leave in float, comma-separated (as `tfport explain` "
                                   "names them; --budget chooses them)", str, ""),
        "full_range_weights": TargetOption("int8 mode: 8-bit weights (default 7-bit: onnxruntime's uint8 x int8 "
                                           "kernels can overflow 8-bit ones on x86 CPUs without VNNI)", bool, False),
    },
)

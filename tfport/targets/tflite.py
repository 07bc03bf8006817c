"""The TFLite/LiteRT target: TFLiteConverter paired with the LiteRT interpreter.

Default tolerances, per quantization mode (reasons in README, "Tolerances"):
- float32: |Δ| ≤ 1e-4 + 1e-3·|ref| per element — same math, other kernels and summation order.
- fp16: weights rounded to 11 significant bits; cosine ≥ 0.9999 and SNR ≥ 40 dB.
- dynamic: int8 weights, float activations; cosine ≥ 0.995 and SNR ≥ 20 dB.
- int8: int8 weights and activations; cosine ≥ 0.99, SNR ≥ 15 dB, top-1 agreement ≥ 0.95.
- int16x8: int16 activations; cosine ≥ 0.999 and SNR ≥ 30 dB.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tfport.converters.tflite_calibration import CALIBRATED
from tfport.errors import BadInputError, CannotCheckHere, RuntimeMissingError
from tfport.parity.tolerance import Tolerance
from tfport.plugin import RUNTIME_THREADS, ArtifactMetadata, Feed, Runner, Target, TargetOption, lazy, listed_option
from tfport.savedmodel.fixed_batch import run_by_rows
from tfport.targets.tflite_flex import FlexInterpreter, environment_note

FILE_IDENTIFIER = b"TFL3"  # the flatbuffer's file identifier, bytes 4–8 of every TFLite model
TOLERANCES = {
    "float32": Tolerance(atol=1e-4, rtol=1e-3),
    "fp16": Tolerance(min_cosine=0.9999, min_snr_db=40.0),
    "dynamic": Tolerance(min_cosine=0.995, min_snr_db=20.0),
    "int8": Tolerance(min_cosine=0.99, min_snr_db=15.0, min_top1=0.95),
    "int16x8": Tolerance(min_cosine=0.999, min_snr_db=30.0),
}


class TFLiteRunner(Runner):
    """Runs a .tflite by signature on LiteRT. A file with Select TF ops runs on TensorFlow's own
    interpreter where that links Flex (TensorFlow ≤ 2.19), else on TensorFlow 2.19's in tfport's
    environment (tfport.targets.tflite_flex); only where that environment cannot be made is it
    `unchecked`. A batch-1 file made for builtin ops runs a batch row by row."""

    def __init__(self, artifact: Path, metadata: ArtifactMetadata | None, options: Mapping[str, Any]):
        problem = runtime_problem()
        if problem:
            raise RuntimeMissingError(problem)
        from ai_edge_litert.interpreter import Interpreter

        self._notes: list[str] = []
        threads = options.get(RUNTIME_THREADS)
        self._interpreter = _loaded(Interpreter, artifact, threads)
        if _needs_flex(self._interpreter):
            self._interpreter = self._flex_interpreter(artifact, metadata, threads)
        elif metadata and metadata.target_data.get("select_tf_ops"):  # LiteRT found TensorFlow's in this process
            self._notes.append(_ran_with_flex())
        self._runners: dict[str, Any] = {}
        self._artifact, self._threads, self._metadata = artifact, threads, metadata
        self._inspected = None  # an interpreter keeping every tensor, for `intermediates`
        self._aliases: Mapping[str, str] = metadata.signature_aliases if metadata else {}
        self._fixed_batch: Mapping[str, list[str]] = metadata.target_data.get("fixed_batch", {}) if metadata else {}

    @property
    def notes(self) -> list[str]:
        return self._notes

    def run(self, signature: str, feed: Feed) -> dict[str, np.ndarray]:
        key = self._aliases.get(signature, signature)
        if signature not in self._runners:
            self._runners[signature] = self._interpreter.get_signature_runner(key)
        runner = self._runners[signature]
        inputs, outputs = runner.get_input_details(), runner.get_output_details()

        def run_once(one: Feed) -> dict[str, np.ndarray]:
            answer = runner(**{name: quantize(value, inputs[name]) for name, value in one.items()})
            return {name: dequantize(value, outputs[name]) for name, value in answer.items()}

        try:
            return run_by_rows(run_once, feed, self._fixed_batch.get(key, []))
        except RuntimeError as exc:  # Flex ops met only once real inputs reached them
            if FLEX_REFUSED not in str(exc) or isinstance(self._interpreter, FlexInterpreter):
                raise
        self._interpreter = self._flex_interpreter(self._artifact, self._metadata, self._threads)
        self._runners.clear()
        return self.run(signature, feed)

    def timed_runs(self, signature: str, feed: Feed, warmup: int, runs: int) -> list[float]:
        """A Flex file in tfport's TensorFlow 2.19 environment is timed there, not across the pipe."""
        key = self._aliases.get(signature, signature)
        if not isinstance(self._interpreter, FlexInterpreter) or self._fixed_batch.get(key):
            return super().timed_runs(signature, feed, warmup, runs)
        runner = self._interpreter.get_signature_runner(key)
        inputs = runner.get_input_details()
        return runner.timed({name: quantize(value, inputs[name]) for name, value in feed.items()}, warmup, runs)

    def intermediates(self, signature: str, feed: Feed) -> list[tuple[list[str], np.ndarray]]:
        """Every tensor of the signature's subgraph after one call, dequantized; a tensor's name
        lists the TF ops fused into it, the producing op first (`a/Relu;a/BiasAdd;a/convolution`)."""
        if isinstance(self._interpreter, FlexInterpreter):
            raise NotImplementedError("a file with Select TF ops runs in tfport's TensorFlow 2.19 environment, "
                                      "which does not expose intermediate values")
        if self._inspected is None:
            with warnings.catch_warnings():  # "intended for debugging purposes only": so it is
                warnings.simplefilter("ignore")
                self._inspected = _loaded(type(self._interpreter), self._artifact, self._threads,
                                          experimental_preserve_all_tensors=True)
        runner = self._inspected.get_signature_runner(self._aliases.get(signature, signature))
        inputs = runner.get_input_details()
        runner(**{name: quantize(value, inputs[name]) for name, value in feed.items()})
        fed = {detail["index"] for detail in inputs.values()}
        values = []
        subgraph = runner._subgraph_index
        for detail in _in_execution_order(self._inspected, subgraph):
            if detail["index"] in fed or not detail["name"]:
                continue
            try:
                value = self._inspected.get_tensor(detail["index"], subgraph)
            except ValueError:  # no data: a tensor the interpreter never filled
                continue
            if np.asarray(value).dtype.kind in "fiu":
                values.append((detail["name"].split(";"), dequantize(value, detail)))
        return values

    def _flex_interpreter(self, artifact: Path, metadata: ArtifactMetadata | None, threads: int | None):
        """An interpreter that links the Flex delegate: TensorFlow's own up to 2.19, in this process;
        from 2.20 on, TensorFlow 2.19's in tfport's environment (tfport.targets.tflite_flex)."""
        if _tensorflow_links_flex():
            from tfport.savedmodel.tensorflow import tensorflow

            tf = tensorflow()
            with warnings.catch_warnings():  # its deprecation notice is for users of plain LiteRT
                warnings.simplefilter("ignore")
                interpreter = _loaded(tf.lite.Interpreter, artifact, threads)
            if not _needs_flex(interpreter):
                self._notes.append(_ran_with_flex())
                return interpreter
        ops = ", ".join(metadata.target_data.get("flex_ops", [])) if metadata else ""
        try:
            interpreter = FlexInterpreter(artifact, threads)
        except CannotCheckHere as exc:
            raise CannotCheckHere(f"it needs Select TF ops (Flex{': ' + ops if ops else ''}), which no interpreter "
                                  f"of this environment links; {exc}") from None
        self._notes.append(environment_note(interpreter.version))
        return interpreter

    def close(self) -> None:
        if isinstance(self._interpreter, FlexInterpreter):
            self._interpreter.close()
        self._runners.clear()
        self._interpreter = self._inspected = None


FLEX_REFUSED = "Select TensorFlow op"  # how LiteRT and TensorFlow's interpreter refuse Flex ops


def _tensorflow_links_flex() -> bool:
    """Whether the installed TensorFlow's interpreter links Flex (up to 2.19), read without importing it."""
    try:
        version = importlib.metadata.version("tensorflow")
    except importlib.metadata.PackageNotFoundError:
        return False
    return tuple(int(part) for part in version.split(".")[:2] if part.isdigit()) < (2, 20)


def _ran_with_flex() -> str:
    version = sys.modules["tensorflow"].__version__
    return (f"ran with the Flex delegate that TensorFlow {version} links (LiteRT's pip package has none; TensorFlow "
            "≥ 2.20 has none either)")


def _in_execution_order(interpreter, subgraph: int) -> list[dict]:
    """The details of the values the subgraph's ops compute, in the order the ops run. The
    interpreter lists tensors by index, where a converter puts weights first and late ops' outputs
    anywhere; it exposes the ops of the first subgraph only: other subgraphs keep index order."""
    details = interpreter.get_tensor_details(subgraph)
    if subgraph != 0:
        return details
    produced = {index: position for position, op in enumerate(interpreter._get_ops_details())
                for index in op["outputs"]}
    return sorted((d for d in details if d["index"] in produced), key=lambda detail: produced[detail["index"]])


def _loaded(interpreter_class, artifact: Path, threads: int | None, **options):
    try:
        return interpreter_class(model_path=str(artifact), num_threads=threads, **options)
    except ValueError as exc:
        raise BadInputError(_unloadable(Path(artifact), exc)) from None


def _needs_flex(interpreter) -> bool:
    """Whether the interpreter refuses the file's Select TF ops (it says so when allocating). Other
    failures wait for real inputs: open dims are 1 until then, too small for some models."""
    try:
        interpreter.allocate_tensors()
    except RuntimeError as exc:
        return FLEX_REFUSED in str(exc)
    return False


def _unloadable(artifact: Path, exc: ValueError) -> str:
    """Why LiteRT refused the file, in words: not a TFLite model at all, or a damaged one."""
    with open(artifact, "rb") as stream:
        head = stream.read(8)
    if head[4:8] != FILE_IDENTIFIER:
        what = f"is not a TFLite model (no {FILE_IDENTIFIER.decode()} flatbuffer identifier at byte 4)"
    else:
        what = f"is a damaged or truncated TFLite model ({artifact.stat().st_size:,} bytes)"
    return (f"{artifact} {what} — LiteRT cannot load it ({exc}); convert the model again, or copy the whole "
            "file")


def quantize(value: np.ndarray, detail: Mapping[str, Any]) -> np.ndarray:
    """A golden input in the tensor's dtype: quantized with its (scale, zero point) when it has one."""
    dtype = np.dtype(detail["dtype"])
    scale, zero_point = detail["quantization"]
    if scale and dtype.kind in "iu" and np.asarray(value).dtype.kind == "f":
        info = np.iinfo(dtype)
        return np.clip(np.round(value / scale + zero_point), info.min, info.max).astype(dtype)
    if dtype.kind == "O" or np.asarray(value).dtype.kind == "S":
        return np.asarray(value)
    return np.asarray(value).astype(dtype, copy=False)


def dequantize(value: np.ndarray, detail: Mapping[str, Any]) -> np.ndarray:
    """An output in float, as the SavedModel gives it, when the tensor is quantized."""
    scale, zero_point = detail["quantization"]
    value = np.asarray(value)
    if scale and value.dtype.kind in "iu":
        return ((value.astype(np.float32) - zero_point) * scale).astype(np.float32)
    if value.dtype.kind == "O":
        return value.astype(bytes)
    return value


def runtime_problem() -> str | None:
    if importlib.util.find_spec("ai_edge_litert") is None:
        return "the LiteRT runtime is not installed — pip install 'tfport[tflite]' (ai-edge-litert)"
    return None




def is_tflite_file(path: Path) -> bool:
    """Whether the file is a TFLite model by its content, whatever its name."""
    try:
        with path.open("rb") as file:
            return path.is_file() and file.read(8)[4:8] == FILE_IDENTIFIER
    except OSError:
        return False


def setup() -> str:
    """tfport's TensorFlow 2.19 environment, whose interpreter runs files with Select TF ops (Flex),
    and LiteRT.js for parity in Chromium."""
    from tfport.converters import tfjs_env
    from tfport.targets.tflite_browser import RUNTIME

    problem = RUNTIME.problem()
    browser = f"LiteRT.js not installed (only --runtime chromium needs it): {problem}" if problem else RUNTIME.setup()
    return "\n".join((tfjs_env.setup(), browser))


RUNTIMES = ("python", "chromium")  # LiteRT's Python interpreter; LiteRT.js in headless Chromium
ACCELERATORS = ("wasm", "webgpu")  # LiteRT.js's, in Chromium


def parity_runs(options: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """One parity run per `--runtime` (python, chromium) and, in Chromium, per `--litert-accelerator`
    (wasm, webgpu), each a verdict of its own."""
    runtimes = listed_option(options.get("runtime") or "python", RUNTIMES, "--runtime")
    accelerators = listed_option(options.get("litert_accelerator") or "wasm", ACCELERATORS, "--litert-accelerator")
    if accelerators != ["wasm"] and "chromium" not in runtimes:
        raise BadInputError("--litert-accelerator is LiteRT.js's, in the browser — add --runtime chromium")
    runs = [("python", "python", None)] if "python" in runtimes else []
    if "chromium" in runtimes:
        runs += [("chromium" if len(accelerators) == 1 else f"{accelerator} in chromium", "chromium", accelerator)
                 for accelerator in accelerators]
    return [("" if len(runs) == 1 else name, {**options, "runtime": runtime, "litert_accelerator": accelerator})
            for name, runtime, accelerator in runs]


def check_options(options: Mapping[str, Any]) -> None:
    parity_runs(options)


def open_runner(artifact: Path, metadata: ArtifactMetadata | None, options: Mapping[str, Any]) -> Runner:
    """LiteRT in this process, or LiteRT.js in Chromium with --runtime chromium."""
    if options.get("runtime") == "chromium":
        from tfport.targets.tflite_browser import LiteRtWebRunner

        return LiteRtWebRunner(artifact, metadata, options)
    return TFLiteRunner(artifact, metadata, options)


TARGET = Target(
    name="tflite",
    description="TFLite/LiteRT flatbuffer for mobile, IoT and the web, run on the LiteRT interpreter (or LiteRT.js "
                "in Chromium)",
    quantization_modes=tuple(TOLERANCES),
    tolerances=TOLERANCES,
    convert=lazy("tfport.converters.tflite:convert"),
    calibrated_modes=CALIBRATED,
    open_runner=open_runner,
    recognizes=is_tflite_file,
    suffixes=(".tflite",),
    runtime_problem=runtime_problem,
    setup=setup,
    check_options=check_options,
    parity_runs=parity_runs,
    packages=("tensorflow", "ai-edge-litert"),  # LiteRT.js is pinned by a lockfile inside tfport (in every key)
    options={
        "int8_io": TargetOption("int8 mode: keep int8 inputs and outputs (quantize on device)", bool, False),
        "keep_float": TargetOption("int8 mode: output tensors whose ops stay float, comma-separated (as `tfport "
                                   "explain` names them; --budget chooses them)", str, ""),
        "bundle": TargetOption("also write a LiteRT.js browser bundle beside the .tflite: ES module, typings, "
                               "self-test page", bool, False),
        "runtime": TargetOption("where parity runs, comma-separated: python (LiteRT), chromium (LiteRT.js in "
                                "headless Chromium)", str, "python"),
        "litert_accelerator": TargetOption("LiteRT.js accelerators to prove with --runtime chromium, "
                                           "comma-separated: wasm, webgpu (software adapter)", str, "wasm"),
        "dynamic_batch": TargetOption("keep an open batch where builtin ops need a fixed one (recurrent loops): "
                                      "the file then needs Select TF ops (Flex), which most devices lack", bool, False),
    },
)

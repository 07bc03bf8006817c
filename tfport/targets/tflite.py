"""The TFLite/LiteRT target: TFLiteConverter paired with the LiteRT interpreter.

Default tolerances, per quantization mode (reasons in README, "Tolerances"):
- float32: |Δ| ≤ 1e-4 + 1e-3·|ref| per element — same math, other kernels and summation order.
- fp16: weights rounded to 11 significant bits; cosine ≥ 0.9999 and SNR ≥ 40 dB.
- dynamic: int8 weights, float activations; cosine ≥ 0.995 and SNR ≥ 20 dB.
- int8: int8 weights and activations; cosine ≥ 0.99, SNR ≥ 15 dB, top-1 agreement ≥ 0.95.
- int16x8: int16 activations; cosine ≥ 0.999 and SNR ≥ 30 dB.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tfport.errors import BadInputError, RuntimeMissingError
from tfport.parity.tolerance import Tolerance
from tfport.plugin import RUNTIME_THREADS, ArtifactMetadata, Feed, Runner, Target, TargetOption, lazy

TOLERANCES = {
    "float32": Tolerance(atol=1e-4, rtol=1e-3),
    "fp16": Tolerance(min_cosine=0.9999, min_snr_db=40.0),
    "dynamic": Tolerance(min_cosine=0.995, min_snr_db=20.0),
    "int8": Tolerance(min_cosine=0.99, min_snr_db=15.0, min_top1=0.95),
    "int16x8": Tolerance(min_cosine=0.999, min_snr_db=30.0),
}
FILE_IDENTIFIER = b"TFL3"  # the flatbuffer file identifier of TFLite's schema


class TFLiteRunner(Runner):
    """Runs a .tflite by signature; Flex artifacts need TensorFlow's interpreter, which links Flex."""

    def __init__(self, artifact: Path, metadata: ArtifactMetadata | None, options: Mapping[str, Any]):
        if metadata and metadata.target_data.get("select_tf_ops"):
            from tfport.savedmodel.tensorflow import tensorflow

            with warnings.catch_warnings():  # its deprecation notice is for users of plain LiteRT
                warnings.simplefilter("ignore")
                interpreter_class = tensorflow().lite.Interpreter
        else:
            problem = runtime_problem()
            if problem:
                raise RuntimeMissingError(problem)
            from ai_edge_litert.interpreter import Interpreter as interpreter_class
        try:
            self._interpreter = interpreter_class(model_path=str(artifact), num_threads=options.get(RUNTIME_THREADS))
        except ValueError as exc:
            raise BadInputError(_unloadable(Path(artifact), exc)) from None
        self._runners: dict[str, Any] = {}
        self._aliases: Mapping[str, str] = metadata.signature_aliases if metadata else {}

    def run(self, signature: str, feed: Feed) -> dict[str, np.ndarray]:
        if signature not in self._runners:
            key = self._aliases.get(signature, signature)
            self._runners[signature] = self._interpreter.get_signature_runner(key)
        runner = self._runners[signature]
        inputs = runner.get_input_details()
        quantized = {name: _quantize(value, inputs[name]) for name, value in feed.items()}
        outputs = runner(**quantized)
        details = runner.get_output_details()
        return {name: _dequantize(value, details[name]) for name, value in outputs.items()}

    def close(self) -> None:
        self._runners.clear()
        self._interpreter = None


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


def _quantize(value: np.ndarray, detail: Mapping[str, Any]) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    scale, zero_point = detail["quantization"]
    if scale and dtype.kind in "iu" and np.asarray(value).dtype.kind == "f":
        info = np.iinfo(dtype)
        return np.clip(np.round(value / scale + zero_point), info.min, info.max).astype(dtype)
    if dtype.kind == "O" or np.asarray(value).dtype.kind == "S":
        return np.asarray(value)
    return np.asarray(value).astype(dtype, copy=False)


def _dequantize(value: np.ndarray, detail: Mapping[str, Any]) -> np.ndarray:
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


TARGET = Target(
    name="tflite",
    description="TFLite/LiteRT flatbuffer for mobile and IoT, run on the LiteRT interpreter",
    quantization_modes=tuple(TOLERANCES),
    tolerances=TOLERANCES,
    convert=lazy("tfport.converters.tflite:convert"),
    open_runner=TFLiteRunner,
    recognizes=lambda path: path.is_file() and path.suffix == ".tflite",
    runtime_problem=runtime_problem,
    packages=("tensorflow", "ai-edge-litert"),
    options={"int8_io": TargetOption("int8 mode: keep int8 inputs and outputs (quantize on device)", bool, False)},
)

"""What a .tflite file declares of its signatures, read with LiteRT (no TensorFlow)."""

from __future__ import annotations

import numpy as np

from tfport.errors import ConversionError


def signature_io(flatbuffer: bytes, expected: list[str] | None = None) -> dict[str, dict]:
    """Each signature's tensors as the artifact declares them (int8 I/O changes dtypes), for release
    manifests and browser bundles; `expected`: the signatures it must hold (default: those it has)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer)
    expected = list(interpreter.get_signature_list()) if expected is None else expected
    dropped = [key for key in expected if key not in interpreter.get_signature_list()]
    if dropped:
        raise ConversionError(f"the TFLite converter dropped signature(s) {', '.join(dropped)}")
    io = {}
    for key in expected:
        runner = interpreter.get_signature_runner(key)
        io[key] = {"inputs": _tensors(runner.get_input_details()), "outputs": _tensors(runner.get_output_details())}
    return io


def _tensors(details: dict) -> dict[str, dict]:
    described = {}
    for name, detail in details.items():
        spec = {"dtype": np.dtype(detail["dtype"]).name,
                "shape": [None if d < 0 else int(d) for d in detail["shape_signature"]]}
        scale, zero_point = detail["quantization"]
        if scale:
            spec["quantization"] = {"scale": float(scale), "zero_point": int(zero_point)}
        described[name] = spec
    return described

"""SavedModel -> one OpenVINO IR (`<signature>.xml` + `.bin`) per signature, with openvino.convert_model.

Layout: `<out_dir>/<model>.openvino/<signature>.xml` and `.bin`. Each distinct signature function
is converted once (Keras exports `serve` and `serving_default`); its aliases run its files.
OpenVINO's TensorFlow frontend names the model's inputs and outputs by the signature's keys;
every file is checked for that before it counts, so the runner can feed and read by key.

Modes: float32; fp16 (weights stored as float16, `compress_to_fp16`); int8 (NNCF post-training
quantization of weights and activations, calibrated on the same samples as the other targets).
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import sys
from importlib.metadata import version
from pathlib import Path
from types import ModuleType
from typing import Any

from tfport.errors import ConversionError, RuntimeMissingError
from tfport.logfile import native_errors, with_native_reason
from tfport.plugin import ArtifactMetadata, ConversionRequest, ConversionResult, RuntimeNeeds
from tfport.savedmodel.reader import read_saved_model_proto, signature_op_types
from tfport.savedmodel.rewrites.apply import rewritten_model
from tfport.savedmodel.tensorflow import tensorflow

CALIBRATION_SAMPLES = 300  # NNCF's default subset size


def convert(request: ConversionRequest) -> ConversionResult:
    tf = tensorflow()
    openvino = import_openvino()

    model = request.saved_model
    artifact = request.out_dir / f"{model.name}.openvino"
    artifact.mkdir()
    notes = [_mode_note(request.quantization)]
    io: dict[str, dict] = {}
    with rewritten_model(model.path, erfc=True) as (source, rewrite_notes):
        notes += rewrite_notes
        loaded = tf.saved_model.load(str(source), tags=model.tags or None)
        for key in model.distinct_signatures:
            ov_model = _convert_signature(openvino, loaded.signatures[key], key, model.path)
            io[key] = _name_ports_by_key(ov_model, model.signatures[key], key)
            if request.quantization == "int8":
                ov_model = _quantize(ov_model, request.samples_for(key), key)
            openvino.save_model(ov_model, str(artifact / f"{key}.xml"),
                                compress_to_fp16=request.quantization == "fp16")
    notes += model.alias_notes(lambda kept: f"it runs {kept}.xml")
    metadata = ArtifactMetadata(
        converter=f"openvino.convert_model {version('openvino')}",
        runtime=RuntimeNeeds(name="OpenVINO Runtime", min_version=version("openvino").split("-")[0],
                             min_version_source="the OpenVINO release that converted and ran it (IR v11; older "
                                                "releases are not checked)",
                             details={"ir_version": 11}),
        io=io, signature_aliases=model.aliases,
        target_data={"files": {key: f"{key}.xml" for key in model.distinct_signatures}})
    return ConversionResult(artifact=artifact, metadata=metadata, notes=notes)


def import_openvino() -> ModuleType:
    """`import openvino`, sending no usage data from tfport's process.

    OpenVINO's converter and NNCF send usage data unless the user opted out (openvino_telemetry,
    Google Analytics): for one MobileNetV2, 45 events, each from a fork of this process that waits on
    the network — 1.3 s of a 2.1 s conversion, and 2.5 s of CPU. tfport's runs send none: where
    openvino_telemetry cannot be imported, OpenVINO and NNCF use their own no-op stand-ins. Nothing
    else changes (a user's choice for `ovc` itself stays in ~/intel/openvino_telemetry); a process
    that imported it already keeps it. `import openvino` imports the converter, so this comes first.
    """
    sys.modules.setdefault("openvino_telemetry", None)
    import openvino

    return openvino


def _convert_signature(openvino, function, key: str, saved_model: Path):
    with native_errors() as logged:
        try:
            return openvino.convert_model(function)
        except Exception as exc:  # OpConversionFailure, GeneralFailure, ...: the frontend's own types
            reason = with_native_reason(_reason(str(exc)), logged())
    ops = set(signature_op_types(read_saved_model_proto(saved_model), key))
    tables = sorted({op for op in ops if "HashTable" in op or "LookupTable" in op})
    built = sorted(ops & {"Complex", "Conj"})
    if tables:  # the frontend's own words ("undeclared parameters") do not say it is the table
        reason = f"OpenVINO cannot convert lookup tables (ops {', '.join(tables)}; OpenVINO: {reason})"
    elif built:  # nor that complex values made from real ones are what it cannot take
        reason = (f"OpenVINO converts complex values only from FFTs, not built by {', '.join(built)} for arithmetic "
                  f"(OpenVINO: {reason})")
    raise ConversionError(f"OpenVINO cannot convert signature {key!r}: {reason}")


def _reason(message: str) -> str:
    """The ops OpenVINO's TensorFlow frontend has no conversion for, or its last line."""
    missing = re.search(r"No conversion rule found for operations: ([^\n]+)", message)
    if missing:
        return f"OpenVINO has no conversion for TensorFlow op(s) {missing.group(1).strip().rstrip('.')}"
    lines = [line.strip() for line in message.splitlines() if line.strip() and not line.startswith("Traceback")]
    return lines[-1] if lines else "unknown error"


def _name_ports_by_key(ov_model, signature, key: str) -> dict[str, dict]:
    """Name every port by its signature key alone (convert_model may add tensor names such as
    `model/dense/MatMul:0`), so the IR runs by key even without tfport.json; and describe them with
    OpenVINO's types and shapes. A port that carries no signature key is refused."""
    described = {}
    for side, ports, keys in (("inputs", ov_model.inputs, signature.inputs),
                              ("outputs", ov_model.outputs, signature.outputs)):
        named = {}
        for port in ports:
            found = sorted(set(port.get_names()) & set(keys))
            if not found:
                raise ConversionError(f"OpenVINO's model of signature {key!r} has an {side[:-1]} named "
                                      f"{sorted(port.get_names())}, none of them a signature key ({', '.join(keys)})")
            port.get_tensor().set_names({found[0]})
            shape = port.get_partial_shape()
            named[found[0]] = {"dtype": port.get_element_type().to_dtype().name if port.get_element_type().is_static()
                               else "dynamic",
                               "shape": None if shape.rank.is_dynamic else
                               [d.get_length() if d.is_static else None for d in shape]}
        missing = sorted(set(keys) - set(named))
        if missing:
            raise ConversionError(f"OpenVINO's model of signature {key!r} lost {side} {', '.join(missing)}")
        described[side] = named
    return described


def _quantize(ov_model, samples: list[dict[str, Any]], key: str):
    try:
        import nncf
    except ImportError:
        raise RuntimeMissingError("int8 needs NNCF — pip install 'tfport[openvino]' (nncf)") from None
    nncf.set_log_level(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # NNCF draws progress bars on stdout
            return nncf.quantize(ov_model, nncf.Dataset(samples), subset_size=min(len(samples), CALIBRATION_SAMPLES))
    except Exception as exc:  # nncf's own error types
        raise ConversionError(f"NNCF cannot quantize signature {key!r}: {_reason(str(exc))}") from None


def _mode_note(mode: str) -> str:
    return {
        "float32": "float32 weights; run with f32 inference precision (the CPU plugin's default may be bf16)",
        "fp16": "weights stored as float16 (compress_to_fp16), computed in float32",
        "int8": "int8 weights and activations (NNCF post-training quantization, calibrated on the golden samples)",
    }[mode]

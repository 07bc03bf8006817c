"""SavedModel -> one .tflite holding every signature, with TFLiteConverter."""

from __future__ import annotations

from pathlib import Path

from tfport.converters.tflite_bundle import write_bundle
from tfport.converters.tflite_calibration import CALIBRATED, calibrated_once, representative_dataset
from tfport.converters.tflite_io import signature_io
from tfport.errors import ConversionError
from tfport.logfile import file_logger
from tfport.plugin import ArtifactMetadata, ConversionRequest, ConversionResult, RuntimeNeeds
from tfport.savedmodel import shared_load
from tfport.savedmodel.fixed_batch import fixed_batch_model
from tfport.savedmodel.rewrites.apply import rewritten_model
from tfport.savedmodel.tensorflow import tensorflow

FLEX_NEEDED = "ERROR_NEEDS_FLEX_OPS"


def convert(request: ConversionRequest) -> ConversionResult:
    """Convert with builtin ops; where they cannot hold a recurrent loop's open batch, with a batch
    of 1; where they still cannot express the model, with Select TF ops (Flex)."""
    tf = tensorflow()
    from tensorflow.lite.python import lite

    shared_load.route(lite.__name__, "_load")  # TFLiteConverter keeps its own name for tf.saved_model.load
    model = request.saved_model
    artifact = request.out_dir / f"{model.name}.tflite"
    notes: list[str] = []
    facts = {"select_tf_ops": False, "flex_ops": [], "fixed_batch": {},
             "int8_io": bool(request.options.get("int8_io")), "kept_float": kept_float(request.options)}
    with rewritten_model(model.path, unfused_lstm=True) as (source, rewrite_notes):
        notes += rewrite_notes
        flatbuffer = _convert_with_fallback(tf, request, source, notes, facts)
    metadata = ArtifactMetadata(
        converter=f"tensorflow {tf.__version__}", runtime=_runtime_needs(flatbuffer, facts),
        io=signature_io(flatbuffer, model.distinct_signatures), signature_aliases=model.aliases, target_data=facts)
    notes += model.alias_notes(lambda kept: "the artifact holds it once")
    artifact.write_bytes(flatbuffer)
    if request.options.get("bundle"):
        notes.append(write_bundle(request.out_dir, artifact.name, model.name, metadata.io, model.aliases))
    return ConversionResult(artifact=artifact, notes=notes, metadata=metadata)


LOOP_BATCH = ("builtin TFLite ops cannot hold the TensorLists of a recurrent loop whose batch is open — a batch of N "
              "runs as N calls; --dynamic-batch keeps the open batch with Select TF ops (Flex), which most devices "
              "cannot run")
WEB_BATCH = ("LiteRT.js runs static shapes only (@litertjs/core 2.5 has no input resize), and --bundle or --runtime "
             "chromium asks for a file that runs in a web page — a batch of N runs as N calls")


def for_browsers(options) -> bool:
    """Whether the file must run on LiteRT.js: a browser bundle is asked for, or parity in Chromium."""
    return bool(options.get("bundle")) or "chromium" in str(options.get("runtime") or "").split(",")


def _convert_with_fallback(tf, request: ConversionRequest, source: Path, notes: list[str], facts: dict) -> bytes:
    if for_browsers(request.options):
        converted, _ = _convert_fixed_batch(tf, request, source, [], notes, facts, WEB_BATCH)
        if converted is not None:
            return converted
    try:
        return _convert(tf, request, source)
    except Exception as exc:
        problems = _problems(exc)
        if not _needs_flex(problems):
            raise ConversionError(_reason(exc)) from None
    if _open_batch_tensor_lists(problems):
        if request.options.get("dynamic_batch"):
            notes.append("kept the open batch (--dynamic-batch): builtin TFLite ops need a fixed batch for the "
                         "TensorLists of this model's loops, so the artifact needs Select TF ops (Flex)")
        elif request.quantization in CALIBRATED:
            notes.append(f"kept the open batch: calibrating ({request.quantization}) a batch-1 recurrent loop crashes "
                         "TFLite's quantizer (a segmentation fault, TensorFlow 2.19 and 2.21), so this artifact needs "
                         "Select TF ops (Flex); float32, fp16 and dynamic get builtin ops with a batch of 1")
        else:
            converted, problems = _convert_fixed_batch(tf, request, source, problems, notes, facts, LOOP_BATCH)
            if converted is not None:
                return converted
    facts["select_tf_ops"] = True
    facts["flex_ops"] = _flex_ops(problems)
    facts["flex_reasons"] = {op: why_flex(op, facts["flex_ops"]) for op in facts["flex_ops"]}
    listed = "; ".join(f"{op} ({why})" for op, why in facts["flex_reasons"].items()) or "some ops"
    notes.append(f"builtin TFLite ops cannot express {listed}; converted with Select TF ops — the artifact needs the "
                 "Flex delegate on device (not in LiteRT's pip package, LiteRT.js, GPU delegates or NPUs)")
    try:
        return _convert(tf, request, source, select_tf_ops=True)
    except Exception as retry_exc:
        if request.quantization in CALIBRATED and "Select TensorFlow op" in str(retry_exc):
            raise ConversionError(
                f"{request.quantization} calibration runs the model, and its Select TF ops "
                f"({', '.join(facts['flex_ops'])}) need the Flex delegate, which TensorFlow {tf.__version__} does "
                "not link (2.19 does) — use --quantize dynamic or fp16 (builtin ops), or convert on TensorFlow 2.19"
            ) from None
        raise ConversionError(_reason(retry_exc)) from None


def _convert_fixed_batch(tf, request: ConversionRequest, source: Path, problems: list[tuple[str, str, str]],
                         notes: list[str], facts: dict, why: str) -> tuple[bytes | None, list[tuple[str, str, str]]]:
    """(the builtin-only flatbuffer of a batch-1 copy, []), or (None, what still needs Flex: the
    copy's problems, or the original's when the copy failed otherwise). `why`: the note's reason."""
    model = request.saved_model
    try:
        with fixed_batch_model(source, model.tags, model.distinct_signatures) as (copy, fixed):
            if not fixed:  # every batch is already fixed: the loops are open for another reason
                return None, problems
            flatbuffer = _convert(tf, request, copy, fixed=fixed)
    except Exception as exc:
        remaining = _problems(exc)
        if _needs_flex(remaining):
            return None, remaining
        file_logger().info("batch-1 copy for TFLite failed", exc_info=True)
        notes.append(f"a batch-1 copy for builtin ops failed ({_reason(exc)})")
        return None, problems
    facts["fixed_batch"] = fixed
    listed = "; ".join(f"{key}: {', '.join(names)}" for key, names in fixed.items())
    notes.append(f"converted with a batch of 1 ({listed}): {why}")
    return flatbuffer, []


def _convert(tf, request: ConversionRequest, source: Path, select_tf_ops: bool = False,
             fixed: dict[str, list[str]] | None = None) -> bytes:
    """`fixed`: the inputs of a batch-1 copy by signature. int8 with ops kept in float is
    calibrated (once for a row of such conversions), then quantized leaving those ops float."""
    if not (request.quantization == "int8" and kept_float(request.options)):
        return _converted(tf, request, source, select_tf_ops, fixed)
    from tensorflow.lite.python import convert as lite_convert

    calibrated = calibrated_once(request, (select_tf_ops, fixed),
                                 lambda: _converted(tf, request, source, select_tf_ops, fixed))
    return lite_convert.mlir_quantize(calibrated, disable_per_channel=False,
                                      fully_quantize=bool(request.options.get("int8_io")),
                                      denylisted_nodes=kept_float(request.options))


def _converted(tf, request: ConversionRequest, source: Path, select_tf_ops: bool,
               fixed: dict[str, list[str]] | None) -> bytes:
    model = request.saved_model
    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(source), signature_keys=model.distinct_signatures, tags=set(model.tags) or None
    )
    converter.experimental_enable_resource_variables = True
    ops = _configure_quantization(tf, converter, request)
    if select_tf_ops:
        ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
        converter._experimental_lower_tensor_list_ops = False
    if fixed is not None:
        # Keras 3 builds its loops' TensorLists with the open batch as a constant -1: read it as 1.
        converter._experimental_default_to_single_batch_in_tensor_list_ops = True
    converter.target_spec.supported_ops = ops
    return converter.convert()


def kept_float(options) -> list[str]:
    """--keep-float: the output tensors whose ops int8 leaves in float (as `tfport explain` names them)."""
    return [name for name in (options.get("keep_float") or "").split(",") if name]


def _needs_flex(problems: list[tuple[str, str, str]]) -> bool:
    return any(code == FLEX_NEEDED or "Select TF ops" in text for _, code, text in problems)


def _open_batch_tensor_lists(problems: list[tuple[str, str, str]]) -> bool:
    """Whether TensorList ops are among what builtin ops failed on (a loop's open batch)."""
    return any("TensorList" in op for op, _, _ in problems)


def _flex_ops(problems: list[tuple[str, str, str]]) -> list[str]:
    return sorted({op for op, code, _ in problems if code == FLEX_NEEDED or "TensorList" in op})


TEXT_OPS = ("String", "StaticRegex", "RegexReplace", "Unicode", "Substr", "Ragged", "Lookup", "Sentencepiece")
COMPLEX_BUILDERS = {"Complex", "Conj", "ComplexAbs", "Real", "Imag"}


def why_flex(op: str, ops: list[str]) -> str:
    """Why builtin TFLite ops cannot express `op` (one of `ops`, all that needed Flex), in the user's terms."""
    if op.startswith(TEXT_OPS):
        return "text processing: TFLite builtins do not compute on strings or ragged splits of them"
    if "TensorList" in op:
        return ("a TensorArray or TensorList whose element shape is unknown when converting: TFLite lowers tensor "
                "lists to builtin ops only with a known element shape (tf.TensorArray(..., element_shape=...))")
    if COMPLEX_BUILDERS & set(ops) and op in {"AddV2", "Sub", "Mul", "RealDiv", "Complex", "Conj", "Neg"}:
        return "complex64 arithmetic: TFLite builtins take complex values only in RFFT2D, COMPLEX_ABS, REAL and IMAG"
    return "no builtin TFLite op computes it"


def _configure_quantization(tf, converter, request: ConversionRequest) -> list:
    mode = request.quantization
    if mode == "float32":
        return [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "fp16":
        converter.target_spec.supported_types = [tf.float16]
        return [tf.lite.OpsSet.TFLITE_BUILTINS]
    if mode == "dynamic":
        return [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.representative_dataset = representative_dataset(request)
    if mode == "int16x8":
        return [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    if request.options.get("int8_io"):
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    if kept_float(request.options):  # calibrated here, quantized after, leaving these tensors' ops float
        converter._experimental_calibrate_only = True
    return [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]


def _runtime_needs(flatbuffer: bytes, facts: dict) -> RuntimeNeeds:
    """What a device needs: the converter's min_runtime_version stamp, the ops, Flex or not."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.Model.GetRootAs(flatbuffer, 0)
    stamps = [model.Buffers(model.Metadata(i).Buffer()) for i in range(model.MetadataLength())
              if model.Metadata(i).Name() == b"min_runtime_version"]  # quantization may add a second one
    versions = [b.DataAsNumpy().tobytes().rstrip(b"\0").decode() for b in stamps if b.DataLength()]
    minimum = max(versions, key=lambda v: tuple(int(p) for p in v.split(".") if p.isdigit()), default=None)
    names = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    ops = set()
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        custom = code.CustomCode()
        ops.add(custom.decode() if custom else names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "?"))
    return RuntimeNeeds(
        name="LiteRT (TensorFlow Lite)", min_version=minimum,
        min_version_source="min_runtime_version stamped by the TFLite converter (op versions used)",
        needs=["Flex delegate (Select TF ops): " + ", ".join(facts["flex_ops"])] if facts["select_tf_ops"] else [],
        details={"ops": sorted(ops)},
    )


def _problems(exc: Exception) -> list[tuple[str, str, str]]:
    """(op, error code, first line of the message) for each error the converter reported."""
    problems = []
    for error in getattr(exc, "errors", []):
        op = error.operator.name.removeprefix("tf.") if error.HasField("operator") else ""
        code = error.ErrorCode.Name(error.error_code)
        problems.append((op, code, error.error_message.splitlines()[0] if error.error_message else ""))
    return problems


def _reason(exc: Exception) -> str:
    """The converter's own reason and the ops involved, without traceback or MLIR locations."""
    problems = [(op, text) for op, _, text in _problems(exc) if op != "Const"]
    if not problems:
        lines = [line for line in str(exc).splitlines() if line.strip()]
        return f"TFLite conversion failed: {lines[-1] if lines else type(exc).__name__}"
    reasons = "; ".join(dict.fromkeys(text for _, text in problems))
    ops = sorted({op for op, _ in problems if op})
    return f"TFLite conversion failed: {reasons} (ops: {', '.join(ops)})"

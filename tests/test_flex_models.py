"""The model kinds that sent TFLite files to Flex or lost a verdict on TensorFlow ≥ 2.20 (issue 22):
each converted to every target, builtin-only on TFLite where a rewrite applies, and every artifact
checked on its runtime — a Flex file in tfport's TensorFlow 2.19 environment where this
TensorFlow's interpreter has no Flex delegate."""

import pytest

from tfport.golden.synthesis import SynthesisOptions
from tfport.parity.tolerance import load_policy
from tfport.pipeline.convert import ConvertJob, convert

TARGETS = ("tflite", "onnx", "tfjs", "openvino")

# model: (verdict per target, TFLite's Select TF ops or () for builtin-only, a note each rewrite leaves)
EXPECTED = {
    # TF.js's wasm backend, the one parity proves by default, has no FFT or ComplexAbs kernel (cpu has).
    "stft_frontend": ({"tfjs": "error"}, (), {"onnx": "as a real DFT"}),
    "combined_nms": ({}, (), {t: "CombinedNonMaxSuppression op(s) as one NonMaxSuppressionV5" for t in TARGETS}),
    "attention_mask_none": ({}, (), {t: "StridedSlice op(s) as the slice without new axes" for t in TARGETS}),
    "shifted_windows": ({}, (), {t: "Roll op(s) as a Gather" for t in TARGETS}),
    "causal_mask": ({}, (), {t: "MatrixSetDiagV3 op(s) as a Select on row == column" for t in TARGETS}),
    "print_left_in": ({}, (), {t: "removed 1 tf.print call(s)" for t in TARGETS}),
    # TF.js runs no TensorList loop written by tf.TensorArray (cpu or wasm: "Cannot read properties of
    # undefined (reading 'backend')"); TFLite keeps the lists in Flex: their element shape is unknown.
    "tensorarray_decoder": ({"tfjs": "error"}, ("TensorListReserve",), {"tfjs": "ResourceGather"}),
    "complex_arithmetic": ({"onnx": "error", "tfjs": "error", "openvino": "error"}, ("AddV2", "Complex"), {}),
    # String ops: no builtin TFLite op, no ONNX, TF.js or OpenVINO conversion. The Flex file fails on its
    # runtime too: TensorFlow 2.19's RaggedTensorToTensor kernel refuses a one-word sentence in an
    # interpreter's first call (later calls, and longer first sentences, run).
    "text_vectorization": ({t: "error" for t in TARGETS}, ("StringLower", "StringSplitV2"), {}),
}
ERRORS = {  # what an error verdict must name: the op and the runtime that lacks it
    ("stft_frontend", "tfjs"): "a web app on TF.js's wasm backend fails the same way",
    ("complex_arithmetic", "onnx"): "ONNX has no complex tensors",
    ("complex_arithmetic", "tfjs"): "TF.js has no kernel for op(s) Conj",
    ("complex_arithmetic", "openvino"): "OpenVINO converts complex values only from FFTs, not built by Complex, Conj",
    ("text_vectorization", "onnx"): "no conversion for TensorFlow op(s) StaticRegexReplace",
    ("text_vectorization", "tfjs"): "TF.js has no kernel for op(s) StringLower",
    ("text_vectorization", "openvino"): "OpenVINO cannot convert lookup tables",
    ("text_vectorization", "tflite"): "TfLiteFlexDelegate) failed to invoke",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXPECTED))
def test_every_target_gets_a_checked_verdict(saved_model, tmp_path, name):
    verdicts, flex_ops, rewrite_notes = EXPECTED[name]
    report, _ = convert(ConvertJob(model_path=saved_model(name), targets=[(t, "float32") for t in TARGETS],
                                   policy=load_policy(search_dir=tmp_path), out_dir=tmp_path / "out",
                                   synthesis=SynthesisOptions(samples=4)))
    results = {r.target: r for r in report.results}
    for target in TARGETS:
        result = results[target]
        assert result.verdict == verdicts.get(target, "pass"), (target, result.error, result.unchecked,
                                                                [o.summary() for o in result.outputs])
        if (name, target) in ERRORS:
            assert ERRORS[name, target] in result.error
        if target in rewrite_notes:
            assert any(rewrite_notes[target] in note for note in result.notes), (target, result.notes)
    tflite = results["tflite"].metadata.target_data
    assert tflite["select_tf_ops"] is bool(flex_ops)
    assert set(flex_ops) <= set(tflite["flex_ops"])
    if flex_ops:  # each op that still needs Flex, with the reason, and the interpreter that ran the file
        assert all(tflite["flex_reasons"][op] for op in tflite["flex_ops"])
        assert results["tflite"].error or any("ran with the Flex delegate" in n for n in results["tflite"].notes)

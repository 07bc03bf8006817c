"""Signatures as models from elsewhere have them, ported to every target and proven.

Each model here once failed for a reason inside tfport: TF.js artifacts keyed by tensor names,
a scalar input sent as shape [1], complex64 and string outputs, debug ops TF.js cannot run,
upper-case keys lower-cased on the way to ONNX.
"""

import json

import numpy as np
import pytest

TARGETS = ("tflite", "onnx", "tfjs")


def _passes(result) -> None:
    assert not result.error, result.error
    assert result.outputs and all(o.verdict == "pass" for o in result.outputs), \
        [(o.output, o.summary()) for o in result.outputs]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", ["same_shaped_inputs", "scalar_input", "upper_case_keys", "with_asserts",
                                  "string_output", "tf_keras_two_inputs", "int32_table"])
def test_ports_pass_on_every_target(convert_model, name, target):
    if name == "tf_keras_two_inputs":
        pytest.importorskip("tf_keras")
    result = convert_model(target, name)
    _passes(result)
    expected = {"same_shaped_inputs": {"sum", "product"}, "scalar_input": {"y"}, "upper_case_keys": {"Y"},
                "with_asserts": {"pooled"}, "string_output": {"words", "known"},
                "tf_keras_two_inputs": {"scores", "offsets"}, "int32_table": {"ids", "next"}}[name]
    assert {o.output for o in result.outputs} == expected


def test_tfjs_model_json_is_keyed_by_the_signature(convert_model, tmp_path):
    result = convert_model("tfjs", "same_shaped_inputs")
    _passes(result)
    signature = json.loads((tmp_path / "out" / result.artifact / "serving_default" / "model.json").read_text())["signature"]
    assert set(signature["inputs"]) == {"a", "b", "c"} and set(signature["outputs"]) == {"sum", "product"}
    assert not any("no output depends" in note for note in result.notes)


def test_tfjs_strips_debug_ops_and_says_so(convert_model):
    result = convert_model("tfjs", "with_asserts")
    _passes(result)
    assert any("stripped debug op(s) Assert, CheckNumerics" in note for note in result.notes), result.notes


def test_tfjs_lookups_keep_the_keys_shape(convert_model):
    result = convert_model("tfjs", "string_output")
    _passes(result)
    assert any("table lookups (1) take flattened keys" in note for note in result.notes), result.notes


def test_onnx_keeps_upper_case_names(convert_model, tmp_path):
    import onnx

    result = convert_model("onnx", "upper_case_keys")
    _passes(result)
    proto = onnx.load(str(tmp_path / "out" / result.artifact / "Predict.onnx"))
    assert [i.name for i in proto.graph.input] == ["X"] and [o.name for o in proto.graph.output] == ["Y"]


@pytest.mark.parametrize("target", ["tflite", "tfjs"])
def test_complex_outputs_are_compared_as_numbers(convert_model, target):
    """On TF.js the cpu backend: wasm, the default, has no Complex kernel (and says so)."""
    options = {"tfjs_backend": "cpu"} if target == "tfjs" else {}
    result = convert_model(target, "complex_output", target_options=options)
    _passes(result)
    spectrum = next(o for o in result.outputs if o.output == "spectrum")
    assert "max_abs_error" in spectrum.metrics and "top1_agreement" not in spectrum.metrics


def test_tfjs_complex_output_is_an_error_on_wasm_naming_the_kernel(convert_model):
    result = convert_model("tfjs", "complex_output", samples=2)
    assert "Kernel 'Complex' not registered for backend 'wasm'" in result.error


def test_onnx_complex_output_fails_naming_the_op(convert_model):
    result = convert_model("onnx", "complex_output")
    assert result.error and "RFFT" in result.error and "ComplexAbs" in result.error


def test_string_outputs_are_stored_without_pickles(saved_model, tmp_path):
    from tfport.golden.golden_set import read_golden
    from tfport.golden.recording import make_golden
    from tfport.golden.synthesis import SynthesisOptions
    from tfport.savedmodel.reader import inspect_saved_model

    model = inspect_saved_model(saved_model("string_output"))
    golden = make_golden(model, tmp_path / "golden", SynthesisOptions(samples=3), None)
    words = read_golden(golden.path).outputs["serving_default"]["words"]
    assert words.dtype.kind == "S" and words.shape == (3, 1, 3)
    assert set(np.unique(words)) <= {w.encode() for w in ["apple", "banana", "cherry", "date", "elderberry", "[UNK]"]}


def test_int32_table_is_held_as_int64_without_flex(convert_model):
    result = convert_model("tflite", "int32_table")
    _passes(result)
    assert any("holds int64 instead of int32" in note for note in result.notes), result.notes
    assert not result.metadata.target_data["select_tf_ops"]

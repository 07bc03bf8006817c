"""Keras 3 layers that converters trip on, converted to every target and proven on its runtime:
grouped Conv2D (a jit_compile function), argmax (a sign-bit test on a float's bits) and
StringLookup(invert=True)."""

import numpy as np
import pytest

from tfport.savedmodel.reader import inspect_saved_model
from tfport.savedmodel.rewrites.apply import rewrite_saved_model
from tfport.savedmodel.tensorflow import tensorflow

TARGETS = ["tflite", "onnx", "tfjs"]
UNMARKED = "dropped jit_compile (_XlaMustCompile, _noinline) from 2 function(s) so converters inline them"
DEPTHWISE = "rewrote 1 grouped Conv2D(s) with groups == input channels as DepthwiseConv2dNative"
SPLIT = "rewrote 1 grouped Conv2D(s) as Split, one Conv2D per group and ConcatV2"
SIGN_BIT = "rewrote 1 sign-bit test(s) on a float's bits"


def _passed(result) -> None:
    assert result.verdict == "pass", result.error or [o.message for o in result.outputs if o.verdict != "pass"]


@pytest.mark.parametrize("target", TARGETS)
def test_grouped_conv_passes_on_every_target(convert_model, target):
    result = convert_model(target, "grouped_conv")
    _passed(result)
    assert any(note.startswith(UNMARKED) for note in result.notes)
    assert (DEPTHWISE in result.notes and SPLIT in result.notes) == (target == "tfjs"), result.notes


@pytest.mark.parametrize("target", TARGETS)
def test_convnext_block_passes_on_every_target(convert_model, target):
    result = convert_model(target, "convnext_block")
    _passed(result)
    assert any(note.startswith("dropped jit_compile") for note in result.notes)
    assert (DEPTHWISE in result.notes) == (target == "tfjs"), result.notes


def _functions(path):
    tensorflow()
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((path / "saved_model.pb").read_bytes())
    return saved_model.meta_graphs[0].graph_def.library.function


def test_grouped_conv_rewrite_keeps_the_function(saved_model, tmp_path):
    """The TF.js copy holds a depthwise conv with its filter reshaped, and a conv per group; with
    no grouped Conv2D left, TensorFlow can run it, and it computes what the original does."""
    tf = tensorflow()
    original = saved_model("grouped_conv")
    notes = rewrite_saved_model(original, tmp_path / "copy", grouped_conv=True)
    assert notes[1:] == [DEPTHWISE, SPLIT]
    functions = _functions(tmp_path / "copy")
    assert not any("_XlaMustCompile" in f.attr or "_noinline" in f.attr for f in functions)
    ops = sorted(sorted(n.op for n in f.node_def if n.op not in ("Identity", "NoOp", "ReadVariableOp"))
                 for f in functions if any(n.op in ("Conv2D", "DepthwiseConv2dNative") for n in f.node_def))
    assert ops == [["ConcatV2", "Const", "Const", "Conv2D", "Conv2D", "Split", "Split"],
                   ["Const", "DepthwiseConv2dNative", "Reshape"]]
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 8, 8, 4)).astype(np.float32))
    (name,) = tf.saved_model.load(str(original)).signatures["serving_default"].structured_input_signature[1]
    expected = tf.saved_model.load(str(original)).signatures["serving_default"](**{name: x})["output_0"]
    rewritten = tf.saved_model.load(str(tmp_path / "copy")).signatures["serving_default"](**{name: x})["output_0"]
    np.testing.assert_allclose(rewritten.numpy(), expected.numpy(), atol=1e-5)


def _signed_zero_inputs(path, tmp_path):
    """Rows where only the sign of zero decides argmax, and the answers TensorFlow gives."""
    tf = tensorflow()
    rows = np.array([[-0.0, 0.0, -1, -2, -3, -4], [0.0, -0.0, -1, -2, -3, -4], [-1, -0.0, -2, -3, -0.0, 0.0],
                     [-0.0, -0.0, -1, -2, -3, -4], [-0.0, -5, 0.0, -1, -0.0, -2]], np.float32)
    (name,) = inspect_saved_model(path).signatures["serving_default"].inputs
    inputs = tmp_path / "signed_zeros.npz"
    np.savez(inputs, **{name: rows})
    answers = tf.saved_model.load(str(path)).signatures["serving_default"](**{name: tf.constant(rows)})["output_0"]
    return inputs, answers.numpy().tolist()


@pytest.mark.parametrize("target", TARGETS)
def test_keras_argmax_tells_signed_zeros_apart_on_every_target(convert_model, saved_model, tmp_path, target):
    inputs, answers = _signed_zero_inputs(saved_model("keras_argmax"), tmp_path)
    assert answers == [1, 0, 5, 0, 2], "Keras ranks -0.0 below +0.0: the inputs test the sign bit"
    result = convert_model(target, "keras_argmax", inputs_file=inputs)
    _passed(result)
    assert any(note.startswith(SIGN_BIT) for note in result.notes)
    if target == "tflite":
        assert not result.metadata.target_data["select_tf_ops"], "BitwiseAnd is gone: builtin ops suffice"


@pytest.mark.parametrize("target", TARGETS)
def test_string_lookup_invert_passes_on_every_target(convert_model, target):
    _passed(convert_model(target, "string_lookup_invert"))

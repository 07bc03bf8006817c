"""Rewritten SavedModel copies compute exactly what the originals did."""

import numpy as np
import pytest
from models import VOCABULARY

from tfport.savedmodel.rewrites.apply import rewrite_saved_model
from tfport.savedmodel.tensorflow import tensorflow


def test_folded_copy_answers_like_the_original(saved_model, tmp_path):
    tf = tensorflow()
    notes = rewrite_saved_model(saved_model("string_vocabulary"), tmp_path / "folded")
    assert notes[0] == f"folded vocabulary table into the graph: string_vocabulary-vocabulary.txt: {len(VOCABULARY)} entries"
    assert notes[1:] == ["rewrote 1 gather(s) from a variable (ResourceGather, e.g. an embedding in a loop) as a read of "
                         "the variable and a GatherV2, which freezing makes constant"]  # its embedding lookup
    assert not (tmp_path / "folded" / "fingerprint.pb").exists(), "the content changed: no stale fingerprint"
    words = tf.constant(["cherry", "unknown", "apple"])
    original = tf.saved_model.load(str(saved_model("string_vocabulary"))).signatures["serving_default"](word=words)
    copy = tf.saved_model.load(str(tmp_path / "folded")).signatures["serving_default"](word=words)
    assert copy["ids"].numpy().tolist() == original["ids"].numpy().tolist() == [2, -1, 0]
    assert np.array_equal(copy["vector"].numpy(), original["vector"].numpy())


def test_erfc_becomes_one_minus_erf_with_identical_outputs(saved_model, tmp_path):
    tf = tensorflow()
    notes = rewrite_saved_model(saved_model("gelu"), tmp_path / "rewritten", erfc=True)
    assert notes == ["rewrote 1 Erfc op(s) (Keras exact GELU) as 1 - Erf"]
    x = tf.constant(np.linspace(-3, 3, 12, dtype=np.float32).reshape(2, 6))
    original = tf.saved_model.load(str(saved_model("gelu"))).signatures["serving_default"]
    rewritten = tf.saved_model.load(str(tmp_path / "rewritten")).signatures["serving_default"]
    (name,) = original.structured_input_signature[1]
    np.testing.assert_allclose(rewritten(**{name: x})["output_0"], original(**{name: x})["output_0"], atol=1e-6)


def test_erfc_inside_a_loop_body_keeps_its_dtype(tmp_path):
    tf = tensorflow()

    class Loop(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float64, name="x")])
        def serve(self, x):
            _, y = tf.while_loop(lambda i, v: i < 3, lambda i, v: (i + 1, tf.math.erfc(v) * 0.5), [0, x])
            return {"y": y}

    module = Loop()
    tf.saved_model.save(module, str(tmp_path / "model"), signatures={"serving_default": module.serve})
    assert rewrite_saved_model(tmp_path / "model", tmp_path / "rewritten", erfc=True) == [
        "rewrote 1 Erfc op(s) (Keras exact GELU) as 1 - Erf"]
    x = tf.constant(np.linspace(-2, 2, 9))
    original = tf.saved_model.load(str(tmp_path / "model")).signatures["serving_default"](x=x)["y"]
    rewritten = tf.saved_model.load(str(tmp_path / "rewritten")).signatures["serving_default"](x=x)["y"]
    assert rewritten.dtype == tf.float64
    np.testing.assert_allclose(rewritten.numpy(), original.numpy(), atol=1e-12)


@pytest.mark.parametrize("name, rewritten", [
    ("attention_mask_none", "StridedSlice"), ("shifted_windows", "Roll"), ("causal_mask", "MatrixSetDiagV3"),
    ("combined_nms", "CombinedNonMaxSuppression"), ("print_left_in", "tf.print"),
])
def test_builtin_forms_answer_exactly_like_the_original(saved_model, tmp_path, name, rewritten):
    """The replacements compute the same values in TensorFlow itself, on batches and lengths the
    golden sets do not use (batch 3, length 7)."""
    tf = tensorflow()
    notes = rewrite_saved_model(saved_model(name), tmp_path / "copy")
    assert any(rewritten in note for note in notes), notes
    original = tf.saved_model.load(str(saved_model(name))).signatures["serving_default"]
    copy = tf.saved_model.load(str(tmp_path / "copy")).signatures["serving_default"]
    rng = np.random.default_rng(3)
    feed = {key: tf.constant(rng.random([3 if d is None and i == 0 else 7 if d is None else d
                                         for i, d in enumerate(spec.shape.as_list())]).astype(np.float32))
            for key, spec in original.structured_input_signature[1].items()}
    expected, answered = original(**feed), copy(**feed)
    for key in expected:
        assert np.array_equal(expected[key].numpy(), answered[key].numpy()), key
    ops = {node.op for f in copy.graph.as_graph_def().library.function for node in f.node_def}
    assert {"Roll", "MatrixSetDiagV3", "MatrixBandPart", "CombinedNonMaxSuppression", "PrintV2"}.isdisjoint(ops)


@pytest.mark.parametrize("equation, shapes", [
    ("btd,dhk->bthk", [(3, 5, 4), (4, 2, 3)]),  # EinsumDense's projection (tests/models.py einsum)
    ("aecd,abcd->acbe", [(2, 5, 3, 4), (2, 6, 3, 4)]),  # MultiHeadAttention's scores
    ("acbe,aecd->abcd", [(2, 3, 6, 5), (2, 5, 3, 4)]),  # … and its weighted values
    ("abcd,cde->abe", [(2, 6, 3, 4), (3, 4, 7)]),  # its output projection
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("ij,kj->ik", [(3, 4), (5, 4)]),
])
def test_einsum_as_matmuls_matches_tf_einsum(tmp_path, equation, shapes):
    """The TF.js form of Einsum (Transpose, Reshape, a batched MatMul) computes what tf.einsum does."""
    from tfport.savedmodel.rewrites.builtin_forms import EINSUM_FORMS, FORMS

    tf = tensorflow()

    class Einsum(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, *s[1:]], tf.float32, name=n) for s, n in zip(shapes, "ab")])
        def serve(self, a, b):
            return {"y": tf.einsum(equation, a, b)}

    module = Einsum()
    tf.saved_model.save(module, str(tmp_path / "model"), signatures={"serving_default": module.serve})
    notes = rewrite_saved_model(tmp_path / "model", tmp_path / "copy", einsum_matmuls=True)
    assert any("1 Einsum op(s)" in note for note in notes), notes
    assert "Einsum" in EINSUM_FORMS and "Einsum" not in FORMS  # for TF.js alone: the other targets have Einsum
    rng = np.random.default_rng(5)
    feed = {n: tf.constant(rng.random(s).astype(np.float32)) for s, n in zip(shapes, "ab")}
    expected = tf.saved_model.load(str(tmp_path / "model")).signatures["serving_default"](**feed)["y"]
    answered = tf.saved_model.load(str(tmp_path / "copy")).signatures["serving_default"](**feed)["y"]
    np.testing.assert_allclose(answered.numpy(), expected.numpy(), rtol=1e-6, atol=1e-6)

"""The TFLite target end to end: real conversions, the LiteRT runtime, parity verdicts."""

import json

import numpy as np
import pytest

from tfport.errors import EXIT_BAD_INPUT, EXIT_CONVERSION_FAILED, EXIT_OK, EXIT_PARITY_FAILED, EXIT_UNCHECKED
from tfport.savedmodel.tensorflow import tensorflow

MODEL_KINDS = [
    "keras_mlp", "dict_io", "two_signatures", "lstm", "gru", "embedding_gru", "gelu", "embedding",
    "string_vocabulary", "control_flow", "unknown_batch_cnn",
]


@pytest.mark.parametrize("name", MODEL_KINDS)
def test_every_model_kind_passes_float32_parity(convert_model, tmp_path, name):
    result = convert_model("tflite", name)
    assert result.error == ""
    assert result.verdict == "pass", [o.summary() for o in result.outputs]
    assert result.exit_code == EXIT_OK
    assert (tmp_path / "out" / result.artifact).is_file()
    assert result.size_bytes > 0 and len(result.sha256) == 64


@pytest.mark.parametrize("mode", ["fp16", "dynamic", "int8", "int16x8"])
def test_every_quantization_mode_yields_a_verdict(convert_model, tmp_path, mode):
    result = convert_model("tflite", "unknown_batch_cnn", mode)
    assert result.error == ""
    assert result.verdict in {"pass", "fail"}
    assert {c.metric for o in result.outputs for c in o.checks} >= {"cosine", "snr_db"}


def test_int8_model_is_integer_and_keeps_a_trained_cnn_accurate(convert_model, tmp_path):
    from ai_edge_litert.interpreter import Interpreter
    from quadrants import quadrant_images

    images, _ = quadrant_images(200, seed=99)
    np.savez(tmp_path / "images.npz", image=images)
    result = convert_model("tflite", "trained_cnn", "int8", inputs_file=tmp_path / "images.npz",
                    target_options={"int8_io": "true"})
    assert result.verdict == "pass"
    for output in result.outputs:
        assert output.metrics["cosine"] >= 0.99
        assert output.metrics["top1_agreement"] >= 0.95
    interpreter = Interpreter(model_path=str(tmp_path / "out" / result.artifact))
    runner = interpreter.get_signature_runner("serving_default")
    assert runner.get_input_details()["image"]["dtype"] == np.int8
    assert runner.get_output_details()["output_0"]["dtype"] == np.int8
    conv_weights = [t for t in interpreter.get_tensor_details() if len(t["shape"]) == 4 and t["dtype"] == np.int8]
    assert conv_weights, "int8 mode must store int8 convolution weights"


# TensorFlow's own interpreter links the Flex delegate up to 2.19; no pip runtime does after that,
# and tfport then runs Flex files with TensorFlow 2.19's interpreter in its own environment.
FLEX_RUNS_HERE = tuple(int(p) for p in tensorflow().__version__.split(".")[:2]) < (2, 20)


def _flex_verdict_is_honest(result, tmp_path) -> None:
    """Flex files get a real verdict: in process where TensorFlow links Flex, else in tfport's
    TensorFlow 2.19 environment, and the notes say which interpreter ran them."""
    assert result.verdict == "pass", result.unchecked or result.error or [o.summary() for o in result.outputs]
    ran = "ran with the Flex delegate that TensorFlow" if FLEX_RUNS_HERE else "in tfport's TensorFlow 2.19 environment"
    assert any(ran in note for note in result.notes), result.notes


@pytest.mark.skipif(FLEX_RUNS_HERE, reason="this TensorFlow's own interpreter links Flex")
def test_flex_artifact_is_unchecked_only_where_the_environment_cannot_be_made(convert_model, tmp_path, monkeypatch):
    monkeypatch.setenv("TFPORT_TFJS_ENV", str(tmp_path / "no-env"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # as offline: pip finds no TensorFlow 2.19 to install
    result = convert_model("tflite", "flex_only")
    assert result.verdict == "unchecked" and result.exit_code == EXIT_UNCHECKED and not result.outputs
    assert "Flex: MatrixDeterminant" in result.unchecked and "`tfport setup tflite` makes it" in result.unchecked
    assert (tmp_path / "out" / result.artifact).is_file(), "the artifact is kept: a device with Flex can run it"
    assert not list((tmp_path / "no-env").glob("*/tfport-ready")), "no half-made environment is left as ready"


def test_select_tf_ops_fallback_is_reported(convert_model, tmp_path):
    result = convert_model("tflite", "flex_only")
    _flex_verdict_is_honest(result, tmp_path)
    assert result.metadata.target_data["select_tf_ops"] is True
    assert result.metadata.target_data["flex_ops"] == ["MatrixDeterminant"]
    assert result.metadata.runtime.needs == ["Flex delegate (Select TF ops): MatrixDeterminant"]
    assert any("cannot express MatrixDeterminant" in note for note in result.notes)


@pytest.mark.parametrize("name", ["lstm", "gru", "embedding_gru", "tf_keras_lstm"])
def test_recurrent_models_get_builtin_ops_with_a_batch_of_1(convert_model, name):
    if name == "tf_keras_lstm":
        pytest.importorskip("tf_keras")
    result = convert_model("tflite", name)
    assert result.verdict == "pass", result.error or [o.summary() for o in result.outputs]
    data, needs = result.metadata.target_data, result.metadata.runtime
    assert data["select_tf_ops"] is False and needs.needs == []
    assert not [op for op in needs.details["ops"] if op.startswith("Flex")]
    (key, inputs), = data["fixed_batch"].items()
    for name_ in inputs:
        assert result.metadata.io[key]["inputs"][name_]["shape"][0] == 1, "the manifest shows the fixed batch"
    assert any("converted with a batch of 1" in note for note in result.notes)
    if name == "tf_keras_lstm":  # the fused op would carry its state from one call into the next
        assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in needs.details["ops"] and "WHILE" in needs.details["ops"]
        assert any("unmarked" in note and "LSTM" in note for note in result.notes)


def test_a_batch_1_artifact_runs_larger_batches_row_by_row(convert_model, saved_model, tmp_path):
    from tfport.savedmodel.reader import inspect_saved_model

    (name,) = inspect_saved_model(saved_model("lstm")).signatures["serving_default"].inputs
    samples = np.random.default_rng(0).random((3, 4, 5, 3), dtype=np.float32)  # 3 samples of batch 4
    np.savez(tmp_path / "batches.npz", **{name: samples})
    result = convert_model("tflite", "lstm", inputs_file=tmp_path / "batches.npz")
    assert result.verdict == "pass", result.error or [o.summary() for o in result.outputs]
    assert result.metadata.target_data["fixed_batch"]


@pytest.mark.parametrize("mode", ["fp16", "dynamic", "int8"])
def test_quantized_recurrent_models(convert_model, tmp_path, mode):
    """Builtin ops with a batch of 1 where nothing calibrates; int8 keeps Flex, since calibrating a
    batch-1 loop crashes TFLite's quantizer (a segmentation fault, measured on 2.19 and 2.21)."""
    result = convert_model("tflite", "gru", mode)
    if mode == "int8" and not FLEX_RUNS_HERE:  # calibration itself would need Flex
        assert result.exit_code == EXIT_CONVERSION_FAILED
        assert "calibration runs the model" in result.error and "--quantize dynamic or fp16" in result.error
        return
    data = result.metadata.target_data
    if mode == "int8":
        assert data["select_tf_ops"] is True and data["fixed_batch"] == {}
        assert any("crashes TFLite's quantizer" in note for note in result.notes)
    else:
        assert data["select_tf_ops"] is False and data["fixed_batch"]
    assert result.verdict in {"pass", "fail"} and result.outputs


def test_dynamic_batch_keeps_the_flex_form_and_names_what_forced_it(convert_model, tmp_path):
    result = convert_model("tflite", "lstm", target_options={"dynamic_batch": "true"})
    data = result.metadata.target_data
    assert data["select_tf_ops"] is True and data["fixed_batch"] == {}
    assert "TensorListReserve" in data["flex_ops"]
    assert any("kept the open batch (--dynamic-batch)" in note for note in result.notes)
    _flex_verdict_is_honest(result, tmp_path)


def test_unsupported_op_is_a_conversion_failure_naming_the_op(cli, saved_model, tmp_path):
    outcome = cli("convert", saved_model("unconvertible"), "--samples", "2")
    assert outcome.exit_code == EXIT_CONVERSION_FAILED
    report = json.loads((tmp_path / "dist" / "unconvertible" / "report.json").read_text())
    assert "Erfinv" in report["results"][0]["error"]
    assert not (tmp_path / "dist" / "unconvertible" / "tflite-float32").exists(), "no half-written artifact"


def test_cli_convert_writes_reports_and_reuses_golden(cli, saved_model, tmp_path):
    first = cli("convert", saved_model("dict_io"), "--to", "tflite", "--samples", "4")
    assert first.exit_code == EXIT_OK, first.output
    out = tmp_path / "dist" / "dict_io"
    assert {"report.json", "junit.xml", "report.md", "golden", "tflite-float32"} <= {p.name for p in out.iterdir()}
    assert "PASS" in first.output and "probabilities" in first.output
    second = cli("convert", saved_model("dict_io"), "--samples", "4")
    assert "reused the golden set" in second.output


def test_parity_failure_exits_1_and_tolerance_flags_apply(cli, saved_model, tmp_path):
    # int8 always loses some precision; dynamic range can leave a small model's weights float (bit-exact)
    failed = cli("convert", saved_model("unknown_batch_cnn"), "--quantize", "int8", "--min-snr-db", "250", "--samples", "4")
    assert failed.exit_code == EXIT_PARITY_FAILED, failed.output
    assert "FAIL" in failed.output and "snr_db" in failed.output
    (tmp_path / "tfport.toml").write_text("[tolerance.tflite.int8]\nmin_snr_db = 250\n")
    assert cli("convert", saved_model("unknown_batch_cnn"), "--quantize", "int8", "--samples", "4").exit_code == 1


def test_parity_command_checks_an_existing_artifact(cli, saved_model, tmp_path):
    assert cli("convert", saved_model("two_signatures"), "--samples", "3").exit_code == EXIT_OK
    artifact = tmp_path / "dist" / "two_signatures" / "tflite-float32" / "two_signatures.tflite"
    golden = tmp_path / "dist" / "two_signatures" / "golden"
    checked = cli("parity", artifact, "--golden", golden)
    assert checked.exit_code == EXIT_OK, checked.output
    assert (artifact.parent / "report.json").is_file()
    other = tmp_path / "other-golden"
    assert cli("golden", saved_model("dict_io"), "--samples", "2", "--out", other).exit_code == EXIT_OK
    mismatch = cli("parity", artifact, "--golden", other)
    assert mismatch.exit_code == EXIT_BAD_INPUT
    assert "recorded from another SavedModel" in mismatch.output


def test_out_dir_that_tfport_did_not_write_is_refused(cli, saved_model, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    outcome = cli("convert", saved_model("keras_mlp"), "--out", tmp_path / "mine")
    assert outcome.exit_code == EXIT_BAD_INPUT
    assert "was not written by tfport" in outcome.output
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"

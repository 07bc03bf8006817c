"""`tfport explain`: the first op whose value diverges, on TFLite, ONNX and TF.js."""

import json

import pytest

from tfport.errors import EXIT_PARITY_FAILED, BadInputError
from tfport.parity.tolerance import load_policy
from tfport.pipeline.explain import explain_artifact

TARGETS = ("tflite", "onnx", "tfjs")


@pytest.fixture(scope="module")
def original_golden(saved_model, tmp_path_factory):
    from tfport.golden.recording import make_golden
    from tfport.golden.synthesis import SynthesisOptions
    from tfport.savedmodel.reader import inspect_saved_model

    golden = tmp_path_factory.mktemp("golden") / "layered_cnn"
    make_golden(inspect_saved_model(saved_model("layered_cnn")), golden, SynthesisOptions(samples=4), None)
    return golden


@pytest.mark.parametrize("target", TARGETS)
def test_explain_names_the_changed_layer(convert_model, saved_model, original_golden, tmp_path, target):
    """Converted from a copy whose conv2 kernel is scaled by 1.05, against the original's golden set."""
    result = convert_model(target, "layered_cnn_conv2_scaled", samples=2)
    assert result.verdict == "pass", "the copy's own port is faithful"
    (explanation,), written = explain_artifact(tmp_path / "out" / result.artifact, original_golden,
                                               load_policy(search_dir=tmp_path), saved_model("layered_cnn"))
    first = explanation["first_divergent"]
    assert first is not None and first["op"].startswith("conv2/"), explanation
    assert explanation["matched"] >= 3
    conv1 = [op for op in explanation["ops"] if op["op"].startswith("conv1/")]
    assert conv1 and not any(op["diverges"] for op in conv1), "the layers before it agree"
    assert json.loads(written.read_text())["signatures"][0]["first_divergent"]["op"] == first["op"]


@pytest.mark.parametrize("target", ["tflite", "onnx"])
def test_a_faithful_port_has_no_divergent_op(convert_model, saved_model, original_golden, tmp_path, target):
    result = convert_model(target, "layered_cnn", samples=2)
    (explanation,), _ = explain_artifact(tmp_path / "out" / result.artifact, original_golden,
                                         load_policy(search_dir=tmp_path))
    assert explanation["first_divergent"] is None and explanation["matched"] >= 3


def test_convert_explain_reports_where_a_failing_port_diverges(cli, saved_model, tmp_path):
    outcome = cli("convert", saved_model("layered_cnn"), "--quantize", "int8", "--min-snr-db", "200",
                  "--samples", "8", "--explain")
    assert outcome.exit_code == EXIT_PARITY_FAILED, outcome.output
    report = json.loads((tmp_path / "dist" / "layered_cnn" / "report.json").read_text())
    (explanation,) = report["results"][0]["explanations"]
    assert explanation["first_divergent"]["op"].startswith("conv1/"), "int8 error starts at the first layer"
    assert "first divergent op conv1/" in " ".join(outcome.output.split())
    html = (tmp_path / "dist" / "layered_cnn" / "report.html").read_text()
    assert "SNR of each matched op by depth" in html and "class=\"ring\"" in html


def test_explain_command_prints_the_first_divergent_op(cli, saved_model, original_golden, tmp_path):
    assert cli("convert", saved_model("layered_cnn_conv2_scaled"), "--samples", "2").exit_code == 0
    outcome = cli("explain", tmp_path / "dist" / "layered_cnn_conv2_scaled" / "tflite-float32", "--golden",
                  original_golden, "--model", saved_model("layered_cnn"), "--report-dir", tmp_path / "why")
    assert outcome.exit_code == 0, outcome.output
    said = " ".join(outcome.output.split())
    assert "first divergent op conv2/" in said and "explain.json" in said
    assert (tmp_path / "why" / "explain.json").is_file(), "kept out of the artifact's directory when asked"


def test_a_target_that_cannot_expose_values_is_refused_in_words(convert_model, original_golden, tmp_path):
    result = convert_model("openvino", "layered_cnn", samples=2)
    with pytest.raises(BadInputError, match="cannot look inside openvino artifacts"):
        explain_artifact(tmp_path / "out" / result.artifact, original_golden, load_policy(search_dir=tmp_path))


def test_a_model_freezing_cannot_run_is_refused_in_words(cli, saved_model, tmp_path):
    assert cli("convert", saved_model("string_vocabulary"), "--samples", "2").exit_code == 0
    out = tmp_path / "dist" / "string_vocabulary"
    outcome = cli("explain", out / "tflite-float32", "--golden", out / "golden")
    assert outcome.exit_code == 2 and "Traceback" not in outcome.output
    assert "freezing it leaves 1 resource(s) unfed" in " ".join(outcome.output.split())


@pytest.mark.parametrize("target", ["tflite", "onnx"])
def test_the_artifacts_values_come_in_execution_order(convert_model, saved_model, original_golden, tmp_path, target):
    """--budget's mixes are runs of this order: TFLite lists tensors weights first and by index,
    so its values are put in the order its ops run, weights left out (they are not computed)."""
    result = convert_model(target, "layered_cnn", samples=2)
    (explanation,), _ = explain_artifact(tmp_path / "out" / result.artifact, original_golden,
                                         load_policy(search_dir=tmp_path), saved_model("layered_cnn"))
    order = explanation["artifact_order"]
    positions = [order.index(op["artifact_name"]) for op in explanation["ops"]]
    assert positions == sorted(positions), (order, [op["op"] for op in explanation["ops"]])
    assert explanation["ops"][0]["op"].startswith("conv1/") and positions[0] <= 2, order
    assert len(order) == explanation["artifact_values"]

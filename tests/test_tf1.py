"""TF1 SavedModels (SavedModelBuilder, Estimator-style exports): scanned, converted and proven — or refused up front."""

import pytest

from tfport.errors import EXIT_BAD_INPUT
from tfport.savedmodel.reader import read_saved_model_proto
from tfport.savedmodel.scan import scan_saved_model

CHECKPOINT = {"SaveV2", "RestoreV2", "MergeV2Checkpoints"}


def top_level_ops(model) -> set[str]:
    return {node.string(2) for node in read_saved_model_proto(model).message(2).messages(1)}


def test_scan_expects_the_tf1_saver_and_flags_only_a_real_write(saved_model):
    for name in ["tf1_lookup", "tf1_int32_lookup"]:
        assert top_level_ops(saved_model(name)) >= CHECKPOINT, "the Saver lives in the top-level graph"
        assert scan_saved_model(saved_model(name)) == [], name
    findings = scan_saved_model(saved_model("tf1_write_file"))
    assert top_level_ops(saved_model("tf1_write_file")) >= CHECKPOINT
    assert [(f.op, f.node, f.function, f.category) for f in findings] == [("WriteFile", "log", "", "file system")]


@pytest.mark.parametrize("target", ["tflite", "onnx", "tfjs"])
def test_tf1_table_filled_by_the_collection_alone_passes_parity(convert_model, target):
    result = convert_model(target, "tf1_lookup")
    assert result.error == ""
    assert result.verdict == "pass", [o.summary() for o in result.outputs]
    assert any("added main op" in note for note in result.notes), result.notes


@pytest.mark.parametrize("target", ["tflite", "onnx", "tfjs"])
@pytest.mark.parametrize("name", ["tf1_int32_lookup", "tf1_int32_keys"])
def test_tf1_int32_table_of_an_estimator_export_passes_parity(convert_model, target, name):
    result = convert_model(target, name)
    assert result.error == ""
    assert result.verdict == "pass", [o.summary() for o in result.outputs]
    assert any("holds int64 instead of int32" in note for note in result.notes), result.notes
    if target == "tflite":
        assert result.metadata.target_data["select_tf_ops"] is False, "an int64 table runs on builtin ops"


@pytest.mark.parametrize("name", ["tf1_no_signature", "module_no_signature"])
def test_model_without_signatures_is_refused_before_anything_is_written(cli, saved_model, tmp_path, name):
    model = saved_model(name)
    for command in ["convert", "golden"]:
        refused = cli(command, model, "--to", "tflite") if command == "convert" else cli(command, model)
        message = " ".join(refused.output.split())  # as printed, wrapped to the terminal
        assert refused.exit_code == EXIT_BAD_INPUT, message
        assert "has no signatures" in message and "signature_def_map=" in message and "signatures=" in message
        assert list(tmp_path.iterdir()) == [], "no golden set, out dir or temp dir"
    assert cli("inspect", model).exit_code == 0, "inspect still describes it"

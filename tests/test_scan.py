"""`tfport scan`, and `convert`/`golden` refusing models that reach outside themselves."""

import json

import numpy as np

from tfport.errors import EXIT_BAD_INPUT
from tfport.savedmodel.scan import scan_saved_model

ORDINARY = ["keras_mlp", "lstm", "string_vocabulary", "control_flow", "two_signatures"]


def test_file_access_is_found_and_checkpoint_io_is_not(saved_model):
    findings = scan_saved_model(saved_model("file_touching"))
    assert {f.op for f in findings} == {"ReadFile", "WriteFile", "PrintV2"}
    assert all(f.category == "file system" and f.function.startswith("__inference_serve") for f in findings)
    for name in ORDINARY:
        assert scan_saved_model(saved_model(name)) == [], name


def test_scan_cli_exit_code_and_json(cli, saved_model):
    flagged = cli("scan", saved_model("file_touching"), "--json")
    assert flagged.exit_code == 1
    assert {f["op"] for f in json.loads(flagged.stdout)} == {"ReadFile", "WriteFile", "PrintV2"}
    clean = cli("scan", saved_model("keras_mlp"))
    assert clean.exit_code == 0 and "no ops that reach outside" in clean.output


def test_convert_and_golden_refuse_flagged_model_unless_trusted(cli, saved_model, tmp_path):
    refused = cli("convert", saved_model("file_touching"))
    assert refused.exit_code == EXIT_BAD_INPUT
    assert "ReadFile" in refused.output and "--trust" in refused.output
    assert not (tmp_path / "dist").exists(), "nothing is written before the model is trusted"
    assert cli("golden", saved_model("file_touching")).exit_code == EXIT_BAD_INPUT
    inputs = tmp_path / "in.npz"
    np.savez(inputs, where=np.array([str(tmp_path / "copy.txt").encode()]))
    trusted = cli("golden", saved_model("file_touching"), "--trust", "--inputs", inputs, "--out", tmp_path / "g")
    assert trusted.exit_code == 0, trusted.output

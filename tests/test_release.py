"""Release directories: only what passed parity ships, the manifest describes it, verify re-checks it."""

import hashlib
import json
import os

import pytest
from tfport_process import run_tfport


@pytest.fixture(scope="module")
def released(tmp_path_factory, saved_model):
    """A release of the unknown-batch CNN: tflite float32 + int8 and onnx float32, with int8 made to fail."""
    from typer.testing import CliRunner

    from tfport.cli.app import app

    work = tmp_path_factory.mktemp("release")
    (work / "tfport.toml").write_text('[tolerance."tflite.int8"]\nmin_snr_db = 99\n')
    result = CliRunner().invoke(app, ["release", str(saved_model("unknown_batch_cnn")), "--to", "tflite,onnx",
                                      "--quantize", "float32,int8", "--samples", "6", "--out", str(work / "rel"),
                                      "--config", str(work / "tfport.toml")])
    return work, result


def manifest_of(directory):
    return json.loads((directory / "manifest.json").read_text())


def test_failed_artifacts_are_left_out_with_the_reason(released):
    work, result = released
    assert result.exit_code == 1, "a release with a parity failure still fails the job"
    manifest = manifest_of(work / "rel")
    shipped = {(a["target"], a["quantization"]) for a in manifest["artifacts"]}
    assert shipped == {("tflite", "float32"), ("onnx", "float32"), ("onnx", "int8")}
    [left_out] = manifest["excluded"]
    assert (left_out["target"], left_out["quantization"]) == ("tflite", "int8")
    assert "snr_db" in left_out["reason"] and "99" in left_out["reason"]
    assert not (work / "rel" / "tflite-int8").exists()
    assert "left out tflite-int8" in result.output


def test_manifest_describes_each_artifact(released):
    work, _ = released
    manifest = manifest_of(work / "rel")
    assert manifest["model"]["fingerprint"] and manifest["versions"]["tensorflow"]
    by_label = {f"{a['target']}-{a['quantization']}": a for a in manifest["artifacts"]}
    tflite = by_label["tflite-float32"]
    artifact = work / "rel" / tflite["path"]
    assert tflite["sha256"] == hashlib.sha256(artifact.read_bytes()).hexdigest()
    assert tflite["files"][tflite["path"]]["size_bytes"] == artifact.stat().st_size == tflite["size_bytes"]
    spec = tflite["signatures"]["serving_default"]
    [input_spec] = spec["inputs"].values()
    assert input_spec == {"dtype": "float32", "shape": [None, 12, 12, 1]}
    assert tflite["signatures"]["serve"]["same_as"] == "serving_default"
    assert tflite["runtime"]["min_version"] and "CONV_2D" in tflite["runtime"]["ops"]
    assert tflite["parity"]["verdict"] == "pass" and tflite["parity"]["worst"]["max_abs_error"] < 1e-4
    onnx = by_label["onnx-int8"]
    assert onnx["runtime"]["opsets"]["ai.onnx"] == 18 and onnx["runtime"]["min_version"] == "1.14"
    assert onnx["parity"]["outputs"][0]["tolerance"]["min_snr_db"] == 15.0  # the tolerance applied is recorded
    assert set(manifest["golden"]["files"]) >= {"golden/manifest.json", "golden/serving_default.inputs.npz"}


def test_allow_failed_keeps_failed_artifacts_marked(released, cli, saved_model, tmp_path):
    (tmp_path / "tfport.toml").write_text('[tolerance."tflite.int8"]\nmin_snr_db = 99\n')
    result = cli("release", saved_model("unknown_batch_cnn"), "--quantize", "int8", "--samples", "6",
                 "--out", "rel", "--allow-failed")
    assert result.exit_code == 1
    [entry] = manifest_of(tmp_path / "rel")["artifacts"]
    assert entry["released_despite_failure"] and entry["verdict"] == "fail"
    assert manifest_of(tmp_path / "rel")["verdict"] == "fail"


def test_verify_passes_an_intact_release_without_tensorflow(released):
    work, _ = released
    output = run_tfport("verify", work / "rel", cwd=work, env=os.environ)
    assert "exit 0" in output and "no TF" in output


def test_verify_names_a_tampered_file_and_fails(released, cli, tmp_path):
    import shutil

    work, _ = released
    copy = tmp_path / "copy"
    shutil.copytree(work / "rel", copy)
    artifact = next(copy.glob("tflite-float32/*.tflite"))
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    (copy / "onnx-float32" / "extra.txt").write_text("not released")
    result = cli("verify", copy)
    assert result.exit_code == 1
    assert f"tflite-float32/{artifact.name} changed" in result.output
    assert "onnx-float32/extra.txt is not in the manifest" in result.output
    assert "onnx" in result.output and "PASS" in result.output, "untouched artifacts are still checked"


def test_verify_refuses_a_directory_without_manifest(cli, tmp_path):
    result = cli("verify", tmp_path)
    assert result.exit_code == 2 and "has no manifest.json" in result.output


def test_release_from_an_outside_golden_set_carries_it(cli, tmp_path):
    from pathlib import Path

    root = Path(__file__).parent.parent
    result = cli("release", root / "examples" / "quadrants", "--golden", root / "golden" / "quadrants",
                 "--out", "rel")
    assert result.exit_code == 0
    assert (tmp_path / "rel" / "golden" / "manifest.json").is_file()
    assert cli("verify", tmp_path / "rel").exit_code == 0

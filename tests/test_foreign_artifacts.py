"""`tfport parity` on what the official converters write, named as they name it: tflite_convert's
file, `python -m tf2onnx.convert`'s file, tensorflowjs_converter's web_model/ directory."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tfport.errors import EXIT_BAD_INPUT, EXIT_OK

pytestmark = pytest.mark.slow

MODELS = ("keras_mlp", "tf_keras_two_inputs")  # one input (Keras 3 export), two inputs and outputs (tf_keras save)


def _official(tool: str, model: Path, out: Path) -> Path:
    """Run one official converter as its README says, in the environment it needs."""
    from tfport.converters.tfjs_env import environment_dir

    commands = {
        "tflite_convert": [str(Path(sys.executable).parent / "tflite_convert"), "--saved_model_dir", str(model),
                           "--output_file", str(out)],
        "tf2onnx": [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(model), "--output", str(out)],
        "tensorflowjs_converter": [str(environment_dir() / "bin" / "tensorflowjs_converter"),
                                   "--input_format=tf_saved_model", str(model), str(out)],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(commands[tool], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def official(saved_model, tmp_path_factory):
    """official(model, tool) -> the artifact that tool wrote, with the name a user would give it."""
    root = tmp_path_factory.mktemp("official")
    made: dict[tuple[str, str], Path] = {}
    names = {"tflite_convert": "model.tflite", "tf2onnx": "m.onnx", "tensorflowjs_converter": "web_model"}

    def make(model: str, tool: str) -> Path:
        if (model, tool) not in made:
            made[model, tool] = _official(tool, saved_model(model), root / model / names[tool])
        return made[model, tool]

    return make


@pytest.fixture(scope="module")
def golden_sets(saved_model, tmp_path_factory):
    from typer.testing import CliRunner

    from tfport.cli.app import app

    root = tmp_path_factory.mktemp("golden")
    for model in MODELS:
        result = CliRunner().invoke(app, ["golden", str(saved_model(model)), "--samples", "4", "--out", str(root / model)])
        assert result.exit_code == EXIT_OK, result.output
    return root


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("tool", ["tflite_convert", "tf2onnx", "tensorflowjs_converter"])
def test_official_converters_output_passes_as_named(cli, official, golden_sets, model, tool):
    artifact = official(model, tool)
    checked = cli("parity", artifact, "--golden", golden_sets / model)
    assert checked.exit_code == EXIT_OK, checked.output
    report = json.loads((artifact.parent / "report.json").read_text())
    outputs = {(o["signature"], o["output"]) for r in report["results"] for o in r["outputs"] if o["verdict"] == "pass"}
    expected = {"keras_mlp": {"output_0"}, "tf_keras_two_inputs": {"offsets", "scores"}}[model]
    assert {output for _, output in outputs} == expected
    if tool != "tflite_convert":  # one graph, no signature names: checked as serving_default (and its aliases)
        assert "serving_default" in {signature for signature, _ in outputs}
        assert "names no signature" in " ".join(checked.output.split())


def test_artifacts_are_recognised_by_content_not_by_name(cli, official, golden_sets, tmp_path):
    model_json = official("tf_keras_two_inputs", "tensorflowjs_converter") / "model.json"
    assert cli("parity", model_json, "--golden", golden_sets / "tf_keras_two_inputs").exit_code == EXIT_OK
    copy = shutil.copytree(model_json.parent, tmp_path / "m.tfjs")
    assert cli("parity", copy, "--golden", golden_sets / "tf_keras_two_inputs").exit_code == EXIT_OK
    renamed = shutil.copy(official("keras_mlp", "tf2onnx"), tmp_path / "classifier.bin")
    assert cli("parity", renamed, "--golden", golden_sets / "keras_mlp").exit_code == EXIT_OK
    chosen = cli("parity", renamed, "--golden", golden_sets / "keras_mlp", "--signature", "serve")
    assert chosen.exit_code == EXIT_OK and "'serve'" in chosen.output


def test_a_model_json_whose_weights_leave_its_directory_is_refused_for_that(cli, official, golden_sets, tmp_path):
    escaping = shutil.copytree(official("keras_mlp", "tensorflowjs_converter"), tmp_path / "web_model")
    data = json.loads((escaping / "model.json").read_text())
    data["weightsManifest"][0]["paths"] = ["../../secrets/group1-shard1of1.bin"]
    (escaping / "model.json").write_text(json.dumps(data))
    refused = cli("parity", escaping, "--golden", golden_sets / "keras_mlp")
    assert refused.exit_code == EXIT_BAD_INPUT
    (error,) = [r["error"] for r in json.loads((tmp_path / "report.json").read_text())["results"]]
    assert "names weight file '../../secrets/group1-shard1of1.bin' outside its directory" in error


def test_golden_set_of_another_model_names_both_sides(cli, official, golden_sets, tmp_path):
    refused = cli("parity", official("keras_mlp", "tf2onnx"), "--golden", golden_sets / "tf_keras_two_inputs",
                  "--report-dir", tmp_path)
    assert refused.exit_code == EXIT_BAD_INPUT
    (error,) = [r["error"] for r in json.loads((tmp_path / "report.json").read_text())["results"]]
    assert "cannot be matched to the golden set's inputs left, right: nothing fits keras_tensor" in error

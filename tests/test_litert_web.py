"""The .tflite in a web page: LiteRT.js (@litertjs/core, pinned) in Debian's headless Chromium."""

from __future__ import annotations

import json

import pytest

from tfport.errors import EXIT_BAD_INPUT, EXIT_CONVERSION_FAILED
from tfport.targets.browser import chromium_path

needs_chromium = pytest.mark.skipif(
    chromium_path() is None,
    reason="Chromium is not installed (apt-get install chromium; .ci/run installs it when it runs as root)",
)


def _results(path):
    return json.loads(path.read_text())["results"]


@needs_chromium
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["float32", "int8"])
def test_the_same_file_passes_on_litert_and_on_litert_js(cli, saved_model, tmp_path, mode):
    done = cli("convert", saved_model("trained_cnn"), "--to", "tflite", "--quantize", mode, "--runtime",
               "python,chromium", "--samples", "4")
    assert done.exit_code == 0, done.output
    results = _results(tmp_path / "dist" / "trained_cnn" / "report.json")
    assert {r["runtime"]: r["verdict"] for r in results} == {"python": "pass", "chromium": "pass"}
    assert len({r["sha256"] for r in results}) == 1, "one file, two runtimes"
    browser = next(r for r in results if r["runtime"] == "chromium")
    assert any(n.startswith("ran on LiteRT.js 2.5.3 in Chromium (wasm accelerator)") for n in browser["notes"])
    assert any("converted with a batch of 1" in n and "static shapes only" in n for n in browser["notes"])


@needs_chromium
def test_the_bundle_is_what_runs_in_the_browser(cli, saved_model, tmp_path):
    assert cli("convert", saved_model("dict_io"), "--to", "tflite", "--bundle", "--samples", "3").exit_code == 0
    directory = tmp_path / "dist" / "dict_io" / "tflite-float32"
    assert {"index.js", "index.d.ts", "README.md", "parity.html", "dict_io.tflite"} <= {p.name for p in directory.iterdir()}
    typings = (directory / "index.d.ts").read_text()
    assert '"features": { data: Float32Array; shape: number[] }' in typings and "shape [1, 4]" in typings
    assert 'export const modelFile = "dict_io.tflite";' in (directory / "index.js").read_text()
    (tmp_path / "reports").mkdir()
    checked = cli("parity", directory / "dict_io.tflite", "--golden", tmp_path / "dist" / "dict_io" / "golden",
                  "--runtime", "chromium", "--report-dir", tmp_path / "reports")
    assert checked.exit_code == 0, checked.output
    (result,) = _results(tmp_path / "reports" / "report.json")
    assert any("through the LiteRT.js bundle beside it" in n for n in result["notes"])
    assert {o["output"] for o in result["outputs"]} == {"probabilities", "total"}


@needs_chromium
def test_an_open_batch_is_named_as_what_litert_js_cannot_run(cli, saved_model, tmp_path):
    """A file made without --runtime chromium keeps its open batch: LiteRT.js 2.5 cannot resize inputs."""
    assert cli("convert", saved_model("keras_mlp"), "--to", "tflite", "--samples", "2").exit_code == 0
    out = tmp_path / "dist" / "keras_mlp"
    checked = cli("parity", out / "tflite-float32" / "keras_mlp.tflite", "--golden", out / "golden",
                  "--runtime", "chromium")
    assert checked.exit_code == EXIT_CONVERSION_FAILED
    (result,) = _results(out / "tflite-float32" / "report.json")
    assert "runs static shapes only" in result["error"] and "convert with --runtime chromium or --bundle" in result["error"]


def test_unknown_runtimes_are_refused_before_any_work(cli, saved_model, tmp_path):
    refused = cli("convert", saved_model("keras_mlp"), "--to", "tflite", "--runtime", "python,node", "--samples", "2")
    assert refused.exit_code == EXIT_BAD_INPUT
    (result,) = _results(tmp_path / "dist" / "keras_mlp" / "report.json")
    assert "--runtime 'python,node': choose from python, chromium" in result["error"]


@needs_chromium
def test_a_string_model_is_named_as_what_a_web_page_cannot_run(cli, saved_model, tmp_path):
    done = cli("convert", saved_model("string_vocabulary"), "--to", "tflite", "--runtime", "chromium", "--samples", "2")
    assert done.exit_code == EXIT_CONVERSION_FAILED
    (result,) = _results(tmp_path / "dist" / "string_vocabulary" / "report.json")
    assert "has float32, int32 and uint8 tensors only" in result["error"] and "input" in result["error"]

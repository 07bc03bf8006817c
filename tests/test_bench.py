"""tfport bench: every runtime measured alike, with the numbers a choice of target needs."""

import json
import os

import pytest


@pytest.fixture(scope="module")
def bench_json(tmp_path_factory, saved_model):
    """bench of the unknown-batch CNN converted to tflite (float32, int8), onnx and tfjs."""
    from typer.testing import CliRunner

    from tfport.cli.app import app

    work = tmp_path_factory.mktemp("bench")
    result = CliRunner().invoke(app, [
        "bench", str(saved_model("unknown_batch_cnn")), "--to", "tflite,onnx,tfjs", "--quantize", "float32,int8",
        "--out", str(work / "out"), "--runs", "7", "--warmup", "2", "--batch", "4", "--json", str(work / "bench.json")])
    assert result.exit_code == 0, result.output
    return json.loads((work / "bench.json").read_text()), work


def test_every_runtime_gets_a_row_with_the_asked_counts(bench_json):
    bench, _ = bench_json
    rows = {(r["artifact"], r["signature"]): r for r in bench["rows"]}
    artifacts = {artifact for artifact, _ in rows}
    assert artifacts == {"savedmodel", "tflite-float32", "tflite-int8", "onnx-float32", "onnx-int8", "tfjs-float32",
                         "tfjs-int8"}
    cores = bench["settings"].pop("pinned_cores")
    assert bench["settings"] == {"runs": 7, "warmup": 2, "batch": 4, "threads": 1, "target_options": {}}
    assert len(cores) == 1 and cores[0] in os.sched_getaffinity(0), "every runtime pinned to the same one core"
    assert 0 <= bench["machine"]["other_processes_cpu_share"] <= 1
    assert bench["machine"]["noisy"] == (bench["machine"]["other_processes_cpu_share"] > 0.10)
    for row in rows.values():
        assert row["parity"] in {"pass", "fail", "reference"} and (row["size_bytes"] or 0) >= 0
        assert row["runs"] == 7 and row["load_s"] >= 0
        latency = row["latency_ms"]
        assert 0 < latency["min"] <= latency["p50"] <= latency["p95"] <= latency["max"]
        assert row["throughput_per_s"] > 0, row.get("throughput_note")
        assert row["peak_rss_mb"] > row["baseline_rss_mb"] > 0


def test_the_tfjs_backend_is_named(bench_json):
    bench, _ = bench_json
    notes = {r["artifact"]: r["runtime_notes"] for r in bench["rows"]}
    assert notes["tfjs-float32"] == ["ran on TF.js on Node.js, wasm backend"] and notes["tflite-int8"] == []


def test_aliased_signatures_are_measured_once(bench_json):
    bench, _ = bench_json
    assert {r["signature"] for r in bench["rows"]} == {"serving_default"}, "Keras `serve` is the same function"


def test_an_out_directory_is_benched_as_it_is(bench_json, cli):
    _, work = bench_json
    result = cli("bench", work / "out", "--runs", "3", "--warmup", "0", "--json", "-")
    assert result.exit_code == 0
    bench = json.loads(result.output)
    assert bench["model"], "the SavedModel named in report.json is benched too"
    assert len({r["artifact"] for r in bench["rows"]}) == 7


def test_a_directory_without_artifacts_is_refused(cli, tmp_path):
    result = cli("bench", tmp_path)
    assert result.exit_code == 2 and "holds no artifacts" in result.output

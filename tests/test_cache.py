"""Work already done is not redone: a second identical run reuses golden set and artifact."""

import json
import os
import subprocess
import sys

from tfport_process import SCRIPT, run_tfport


def test_identical_rerun_reuses_everything_without_tensorflow(saved_model, tmp_path):
    env = {**os.environ, "TFPORT_CACHE": str(tmp_path / "cache")}
    model = saved_model("unknown_batch_cnn")
    first = run_tfport("convert", model, "--quantize", "dynamic", "--samples", "4", cwd=tmp_path, env=env)
    assert "exit 0" in first and "reused" not in first
    second = run_tfport("convert", model, "--quantize", "dynamic", "--samples", "4", cwd=tmp_path, env=env)
    assert "exit 0" in second
    assert "reused the golden set" in second and "reused the cached artifact" in second
    assert "reused the parity results" in second
    assert second.strip().endswith("no TF"), "a cached TFLite run needs no TensorFlow"
    forced = run_tfport("convert", model, "--quantize", "dynamic", "--samples", "4", "--force", cwd=tmp_path, env=env)
    assert "reused" not in forced and "exit 0" in forced


def test_changed_options_miss_the_cache(cli, saved_model):
    model = saved_model("unknown_batch_cnn")
    assert cli("convert", model, "--quantize", "int8", "--samples", "4").exit_code == 0
    other = cli("convert", model, "--quantize", "int8", "--samples", "4", "--int8-io")
    assert other.exit_code == 0 and "reused the cached artifact" not in other.output
    again = cli("convert", model, "--quantize", "int8", "--samples", "4", "--int8-io")
    assert "reused the cached artifact" in again.output and "reused the parity results" in again.output
    stricter = cli("convert", model, "--quantize", "int8", "--samples", "4", "--int8-io", "--min-snr-db", "99")
    assert "reused the parity results" not in stricter.output, "other tolerances: parity runs again"
    assert stricter.exit_code == 1


def test_two_runs_on_one_out_dir_take_turns(saved_model, tmp_path):
    env = {**os.environ, "TFPORT_CACHE": str(tmp_path / "cache")}
    model = saved_model("two_signatures")
    runs = [subprocess.Popen([sys.executable, "-c", SCRIPT, "convert", str(model), "--quantize", mode, "--samples", "3",
                              "--out", str(tmp_path / "out")], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True)
            for mode in ("float32", "fp16")]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert all("exit 0" in output for output in outputs), outputs
    for mode in ("float32", "fp16"):
        assert (tmp_path / "out" / f"tflite-{mode}" / "two_signatures.tflite").is_file()
    assert not [p for p in (tmp_path / "out").iterdir() if ".partial-" in p.name or ".old-" in p.name]


def test_artifacts_that_read_no_golden_inputs_outlive_a_new_golden_set(cli, saved_model, tmp_path):
    """float32 converts without the golden set (it is recorded meanwhile), so other golden samples
    reuse the float32 artifact; int8 calibrates on them, so it converts again — and parity, which
    depends on the golden set, runs again for both."""
    model = saved_model("unknown_batch_cnn")
    first = cli("convert", model, "--quantize", "float32,int8", "--samples", "4", "--out", tmp_path / "a")
    assert first.exit_code == 0, first.output
    other = cli("convert", model, "--quantize", "float32,int8", "--samples", "5", "--out", tmp_path / "b")
    assert other.exit_code == 0, other.output
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    notes = {result["quantization"]: " ".join(result["notes"]) for result in report["results"]}
    assert "reused the cached artifact" in notes["float32"] and "reused the cached artifact" not in notes["int8"]
    assert not any("reused the parity results" in text for text in notes.values())
    assert report["golden"]["seconds"] > 0, "the recording's time is in the report"


def test_a_cached_artifact_needs_no_warm_up(cli, saved_model, tmp_path):
    """The warm-up check computes the key the conversion does: a float32 artifact in the cache (its
    key holds no golden set) starts no converter process; an int8 one waits for the golden set."""
    from tfport.golden.golden_set import read_golden
    from tfport.parity.tolerance import load_policy
    from tfport.pipeline.convert import ConvertJob, _done, _will_convert, model_to_load
    from tfport.registry import get_target

    model = saved_model("unknown_batch_cnn")
    assert cli("convert", model, "--samples", "4", "--out", tmp_path / "out").exit_code == 0
    job = ConvertJob(model, [("tflite", "float32")], load_policy())
    info, tflite = model_to_load(model, False), get_target("tflite")
    golden = _done(read_golden(tmp_path / "out" / "golden"))
    assert not _will_convert(tflite, "float32", info, golden, job)
    assert not _will_convert(tflite, "float32", info, None, job), "float32's key needs no golden set"
    assert _will_convert(tflite, "int8", info, None, job), "int8's key waits for the recording"

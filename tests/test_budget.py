"""`--budget`: int8 that meets an accuracy budget, with the fewest ops kept in float."""

import json

import pytest

from tfport.errors import EXIT_BAD_INPUT, EXIT_OK


@pytest.mark.parametrize("target", ["tflite", "onnx"])
def test_plain_int8_that_meets_the_budget_keeps_every_op_int8(convert_model, tmp_path, target):
    import numpy as np
    from quadrants import quadrant_images

    images, _ = quadrant_images(64, seed=99)
    np.savez(tmp_path / "images.npz", image=images)
    result = convert_model(target, "trained_cnn", "int8", inputs_file=tmp_path / "images.npz",
                           budget={"top1": 0.95})
    search = result.metadata.target_data["budget"]
    assert search["met"] and search["kept_float"] == [] and len(search["trials"]) == 1
    assert any("plain int8 meets it" in note and "every op stays int8" in note for note in result.notes)


@pytest.mark.parametrize("target", ["tflite", "onnx"])
def test_a_budget_plain_int8_misses_is_met_by_keeping_ops_in_float(convert_model, target):
    plain = convert_model(target, "layered_cnn", "int8", samples=16)
    snr = min(o.metrics["snr_db"] for o in plain.outputs)
    result = convert_model(target, "layered_cnn", "int8", samples=16, budget={"snr_db": snr + 6})
    search = result.metadata.target_data["budget"]
    assert search["trials"][0]["mix"] == "plain int8" and search["trials"][0]["reached"]["snr_db"] < snr + 6
    assert search["met"] and search["kept_float"], search
    meeting = [trial for trial in search["trials"] if trial["reached"]["snr_db"] >= snr + 6]
    assert search["size_bytes"] == min(trial["size_bytes"] for trial in meeting), "the smallest mix that meets it"
    assert min(o.metrics["snr_db"] for o in result.outputs) >= snr + 6, "the parity run agrees with the search"
    assert any("--budget snr_db" in note and "kept in float" in note and "met with" in note for note in result.notes)
    from tfport.reports.html import html_report
    from tfport.reports.report import Report

    page = html_report(Report(model={"name": "layered_cnn"}, golden={}, results=[result]))
    assert "--budget snr_db ≥" in page and "plain int8" in page


def test_an_unknown_budget_metric_is_refused(cli, saved_model):
    outcome = cli("convert", saved_model("layered_cnn"), "--quantize", "int8", "--budget", "accuracy=0.9")
    assert outcome.exit_code == EXIT_BAD_INPUT
    assert "write METRIC=VALUE with METRIC one of snr_db, cosine, top1" in " ".join(outcome.output.split())


def test_release_manifest_keeps_the_recipe_and_a_rerun_reuses_it(cli, saved_model, tmp_path):
    args = ("release", saved_model("layered_cnn"), "--to", "tflite", "--quantize", "int8", "--samples", "16",
            "--budget", "snr_db=30", "--out", tmp_path / "release", "--allow-failed")
    first = cli(*args)
    assert first.exit_code in (EXIT_OK, 1), first.output
    (entry,) = json.loads((tmp_path / "release" / "manifest.json").read_text())["artifacts"]
    assert entry["budget"]["budget"] == {"snr_db": 30.0} and "kept_float" in entry["budget"]
    second = cli(*args)
    assert "reused the cached artifact" in second.output


def test_calibration_that_misses_the_golden_ranges_is_warned_about(convert_model, saved_model, tmp_path):
    import numpy as np

    from tfport.savedmodel.reader import inspect_saved_model

    (name,) = inspect_saved_model(saved_model("layered_cnn")).signatures["serving_default"].inputs
    dark = np.random.default_rng(0).random((8, 1, 12, 12, 3), dtype=np.float32) * 0.2  # golden: [0, 1)
    np.savez(tmp_path / "dark.npz", **{name: dark})
    result = convert_model("tflite", "layered_cnn", "int8", calibration_file=tmp_path / "dark.npz")
    (warning,) = [note for note in result.notes if note.startswith("calibration covers")]
    assert f"serving_default/{name} in [" in warning and "int8 clips what calibration never saw" in warning


def test_a_met_budget_ends_in_an_artifact_that_passes_its_verdict(convert_model, tmp_path):
    """The budget asks less than the mode's tolerance does: the search goes on until the artifact
    passes every check of its verdict, not just the budget's (a budget met at SNR 20 dB used to end
    in FAIL on int8's top-1 agreement)."""
    plain = convert_model("tflite", "layered_cnn", "int8", samples=16)
    snr = min(o.metrics["snr_db"] for o in plain.outputs)
    (tmp_path / "tfport.toml").write_text(f'[tolerance."tflite.int8"]\nmin_snr_db = {snr + 6:.2f}\n')
    result = convert_model("tflite", "layered_cnn", "int8", samples=16, budget={"snr_db": snr - 3}, force=True)
    search = result.metadata.target_data["budget"]
    assert search["trials"][0]["reached"]["snr_db"] >= snr - 3 and search["trials"][0]["failed_checks"]
    assert search["met"] and search["kept_float"], search
    assert result.verdict == "pass", [o.summary() for o in result.outputs]


def test_the_search_finds_a_small_mix_of_both_ends_where_no_prefix_alone_meets_it():
    """A model whose output int8 ruins (a softmax: steps of 1/256) and whose early layers amplify
    error: only its last value and its first 10 together meet the budget. Sizes grow toward the
    tail, where the weights are. The search is measured here on a stand-in for conversion and
    parity: what it tries, and what it picks, follow from the measurements alone."""
    from tfport.pipeline.budget import Trial, _mixes

    order = [f"value{i}" for i in range(40)]
    tried = []

    def attempt(kept, why):
        index = {name: i for i, name in enumerate(order)}
        positions = sorted(index[name] for name in kept)
        first = next((i for i, p in enumerate(positions) if p != i), len(positions))
        snr = 30.0 if "value39" in kept and first >= 10 else 10.0
        trial = Trial(list(kept), 1000 + sum(10 * (p + 1) ** 2 for p in positions), {"snr_db": snr}, why)
        tried.append(trial)
        return trial

    _mixes([], order, attempt, {"snr_db": 20})
    met = [trial for trial in tried if trial.meets({"snr_db": 20})]
    best = min(met, key=lambda trial: trial.size)
    assert best.kept_float == order[:10] + order[-1:], best.why
    assert best.why == "the first 10 and last 1 values in execution order"
    converted = {tuple(trial.kept_float): trial.why for trial in tried}  # the search converts each mix once
    assert len(converted) <= 10, list(converted.values())  # 3 + a bisection of 40 + the last 2: larger

"""Float32 verdicts relative to the SavedModel's own noise floor (issue 13): a correct port of an
ill-conditioned model passes, ports of a well-conditioned model with one deliberate change fail on
every target while its correct ports pass — real converters, real runtimes."""

import json
import shutil

import pytest
from models import gelu_mlp

from tfport.golden.golden_set import MANIFEST, read_golden
from tfport.golden.synthesis import SynthesisOptions
from tfport.parity.metrics import OutputResult
from tfport.parity.noise_limit import GIVEN, NOISE
from tfport.parity.tolerance import load_policy
from tfport.pipeline.check import check_artifact
from tfport.pipeline.convert import ConvertJob, convert

TARGETS = ("tflite", "onnx", "tfjs")
RUNTIMES = [("tflite", {}), ("onnx", {}), ("tfjs", {}), ("tfjs", {"tfjs_backend": "cpu"})]  # tfjs: wasm, cpu
FIXED = {"atol": 1e-4, "rtol": 1e-3}  # the targets' fixed float32 default, given as flags: no noise floor then
CHANGES = ("gelu_mlp_weight_scaled", "gelu_mlp_approximate_gelu", "gelu_mlp_bias_dropped")
assert gelu_mlp  # the builders below are tests/models.py's, by name


@pytest.fixture(scope="module")
def ported(saved_model, tmp_path_factory):
    """ported(model) -> (golden dir, {target: artifact}): converted once to every target."""
    made = {}

    def port(name: str):
        if name not in made:
            out = tmp_path_factory.mktemp(name)
            report, _ = convert(ConvertJob(model_path=saved_model(name), targets=[(t, "float32") for t in TARGETS],
                                           policy=load_policy(search_dir=out), out_dir=out,
                                           synthesis=SynthesisOptions(samples=8)))
            assert not [r.error for r in report.results if r.error]
            made[name] = out / "golden", {r.target: out / r.artifact for r in report.results}
        return made[name]

    return port


def check(artifact, golden_dir, tmp_path, options, cli=None):
    report, _ = check_artifact(artifact, golden_dir, load_policy(search_dir=tmp_path, cli=cli),
                               report_dir=tmp_path / "report", options=options)
    (result,) = report.results
    assert not result.error, result.error
    return result


def recorded_as(golden_dir, artifact, to):
    """A copy of `golden_dir` that claims the artifact's SavedModel: the port of a changed model is
    then checked against the original's outputs (test only — tfport refuses another model's set)."""
    shutil.copytree(golden_dir, to)
    record = json.loads((artifact.parent / "tfport.json").read_text())
    manifest = json.loads((to / MANIFEST).read_text())
    manifest["model"]["fingerprint"] = record["model"]["fingerprint"]
    (to / MANIFEST).write_text(json.dumps(manifest))
    return to


def test_noise_floor_is_recorded_per_output_and_older_sets_keep_fixed_limits(ported, tmp_path):
    golden_dir, artifacts = ported("gelu_mlp")
    golden = read_golden(golden_dir)
    floor = golden.noise_floor("serving_default", "output_0")
    assert 1e-8 < floor.max_abs < 1e-5 and 0.1 < floor.scale < 10
    assert "1 ± 2^-20" in golden.manifest["noise_floor_method"]

    older = tmp_path / "older"
    shutil.copytree(golden_dir, older)
    manifest = json.loads((older / MANIFEST).read_text())
    del manifest["noise_floor"]
    (older / MANIFEST).write_text(json.dumps(manifest))
    assert read_golden(older).noise_floor("serving_default", "output_0") is None
    result = check(artifacts["onnx"], older, tmp_path, {})
    assert result.verdict == "pass" and all(o.limits == {} and o.tolerance == FIXED for o in result.outputs)


@pytest.mark.parametrize("target, options", RUNTIMES, ids=["tflite", "onnx", "tfjs-wasm", "tfjs-cpu"])
def test_correct_port_of_an_ill_conditioned_model_passes_where_fixed_limits_fail(ported, tmp_path, target, options):
    golden_dir, artifacts = ported("deep_tanh")
    result = check(artifacts[target], golden_dir, tmp_path, options)
    assert result.verdict == "pass", [o.summary() for o in result.outputs]
    (output,) = result.outputs
    assert output.limits["applied"] == NOISE and output.limits["noise_limit"] > output.limits["fixed_limit"]
    fixed = check(artifacts[target], golden_dir, tmp_path, options, cli=FIXED)
    assert fixed.verdict == "fail", "the model must be ill conditioned enough to fail today's fixed limit"
    assert fixed.outputs[0].limits["applied"] == GIVEN  # what the user sets stays authoritative


@pytest.mark.parametrize("target, options", RUNTIMES, ids=["tflite", "onnx", "tfjs-wasm", "tfjs-cpu"])
def test_correct_ports_of_a_well_conditioned_model_pass(ported, tmp_path, target, options):
    golden_dir, artifacts = ported("gelu_mlp")
    result = check(artifacts[target], golden_dir, tmp_path, options)
    assert result.verdict == "pass", [o.summary() for o in result.outputs]
    assert {o.limits["applied"] for o in result.outputs} == {NOISE}


@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize("target, options", RUNTIMES, ids=["tflite", "onnx", "tfjs-wasm", "tfjs-cpu"])
def test_ports_of_a_deliberately_changed_model_fail(ported, tmp_path, change, target, options):
    golden_dir, _ = ported("gelu_mlp")
    _, artifacts = ported(change)
    claimed = recorded_as(golden_dir, artifacts[target], tmp_path / "golden")
    result = check(artifacts[target], claimed, tmp_path, options)
    assert result.verdict == "fail", [o.summary() for o in result.outputs]
    if change != "gelu_mlp_bias_dropped":  # the subtle two: today's fixed limit lets them through
        assert check(artifacts[target], claimed, tmp_path, options, cli=FIXED).verdict == "pass"


def test_reports_show_the_fixed_and_the_noise_floor_limit(ported, tmp_path):
    from rich.console import Console

    from tfport.reports.terminal import print_report

    golden_dir, artifacts = ported("deep_tanh")
    report, report_dir = check_artifact(artifacts["tflite"], golden_dir, load_policy(search_dir=tmp_path),
                                        report_dir=tmp_path)
    limits = json.loads((report_dir / "report.json").read_text())["results"][0]["outputs"][0]["limits"]
    assert limits["applied"] == NOISE and limits["k"] == 8 and limits["noise_floor"] > 0
    output = report.results[0].outputs[0]
    assert OutputResult.from_json(output.to_json()).limits == output.limits == limits
    assert output.tolerance == {"atol": limits["noise_limit"], "rtol": 0.0}  # what a release re-applies
    expected = "max_abs_error limit 8 × noise floor"
    console = Console(width=300, record=True)
    print_report(report, console)
    text = console.export_text()
    assert expected in text and "(applied); fixed ≤ 0.00" in text
    for name in ("report.md", "report.html"):
        assert expected in (report_dir / name).read_text() and "fixed ≤" in (report_dir / name).read_text()

"""The GitHub Actions recipe in examples/ works: its shell steps, run here as the runner would run them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).parent.parent
WORKFLOW = ROOT / "examples" / "github-actions" / "tfport-release.yml"
SETUP_STEPS = {"Install tfport"}  # done once for the whole test session by .ci/run


def shell_steps(job: str) -> list[dict]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    return [step for step in workflow["jobs"][job]["steps"] if "run" in step and step["name"] not in SETUP_STEPS]


def run_job(job: str, cwd: Path) -> list[int]:
    """Each step's exit code; like GitHub, later steps run only if earlier ones passed or say `if: always()`."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    env = {**os.environ, **workflow["env"], "MODEL": str(ROOT / workflow["env"]["MODEL"]),
           "GOLDEN": str(ROOT / workflow["env"]["GOLDEN"]), "GITHUB_STEP_SUMMARY": str(cwd / "summary.md"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # this venv's `tfport`
    codes: list[int] = []
    for step in shell_steps(job):
        if any(codes) and step.get("if") != "always()":
            continue
        codes.append(subprocess.run(["bash", "-e", "-c", step["run"]], cwd=cwd, env=env,
                                    capture_output=True).returncode)
    return codes


def test_recipe_releases_summarises_and_verifies(tmp_path):
    assert run_job("release", tmp_path) == [0, 0]
    release = tmp_path / "release"
    manifest = json.loads((release / "manifest.json").read_text())
    from tfport.registry import targets

    assert {(a["target"], a["quantization"]) for a in manifest["artifacts"]} == {
        (target, mode) for target in targets() for mode in ("float32", "int8")}, "--to all: every installed target"
    assert (release / "report.html").is_file() and (release / "junit.xml").is_file()
    assert "| tflite" in (tmp_path / "summary.md").read_text(), "report.md goes to the step summary"
    assert run_job("verify", tmp_path) == [0]


def test_recipe_fails_the_job_on_a_parity_failure_and_still_reports(tmp_path):
    (tmp_path / "tfport.toml").write_text("[tolerance]\nmin_snr_db = 300\n")  # no port can meet this
    codes = run_job("release", tmp_path)
    assert codes[0] == 1, "the release step fails the job"
    assert codes[1:] == [0], "the summary step runs anyway"
    assert "❌ fail" in (tmp_path / "summary.md").read_text()

"""The plugin contract: the core knows no target, and a third party's target goes through every
command (convert, parity, release, verify, bench) by the contract alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

THIRD_PARTY = Path(__file__).parent / "third_party"


def _plugin_site(tmp_path: Path, *entries: str) -> dict[str, str]:
    """An environment in which the third-party target is installed the way pip installs one: its
    module on the path, and a dist-info whose entry_points.txt registers it."""
    site = tmp_path / "site"
    site.mkdir()
    dist = site / "resaved_target-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: resaved-target\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[tfport.targets]\n" + "\n".join(entries) + "\n")
    (site / "resaved_target.py").write_text((THIRD_PARTY / "resaved_target.py").read_text())
    path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**os.environ, "PYTHONPATH": path, "COLUMNS": "400"}


def _tfport(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tfport", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=600)


def test_two_targets_with_one_name_are_refused(tmp_path):
    env = _plugin_site(tmp_path, "clash = resaved_target:CLASH")
    listed = _tfport(env, "targets")
    assert "failed to load" in listed.stdout, "`tfport targets` shows the clash"
    refused = _tfport(env, "convert", tmp_path / "nothing", "--to", "tflite")
    said = " ".join((refused.stdout + refused.stderr).split())
    assert refused.returncode == 2 and "2 installed targets are named 'tflite'" in said, said
    assert "resaved_target:CLASH" in said and "uninstall all but one" in said


@pytest.mark.slow
def test_a_third_party_target_goes_through_every_command(tmp_path, saved_model):
    env = _plugin_site(tmp_path, "resaved = resaved_target:TARGET")
    model = saved_model("two_signatures")
    out = tmp_path / "out"
    converted = _tfport(env, "convert", model, "--to", "resaved", "--out", out)
    assert converted.returncode == 0, converted.stdout + converted.stderr
    record = json.loads((out / "resaved-float32" / "tfport.json").read_text())
    assert record["metadata"]["target_data"] == {"saved_by": "resaved"}
    assert "ran on TensorFlow, loaded from the re-saved copy" in converted.stdout

    for named in (out / "resaved-float32", out / "resaved-float32" / f"{model.name}.resaved"):
        checked = _tfport(env, "parity", named, "--golden", out / "golden", "--report-dir", tmp_path / "r")
        assert checked.returncode == 0, checked.stdout + checked.stderr

    release = tmp_path / "release"
    released = _tfport(env, "release", model, "--to", "resaved", "--out", release)
    assert released.returncode == 0, released.stdout + released.stderr
    manifest = json.loads((release / "manifest.json").read_text())
    (entry,) = manifest["artifacts"]
    assert entry["runtime"]["name"] == "TensorFlow" and entry["converter"].startswith("tf.saved_model.save")
    verified = _tfport(env, "verify", release)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    for path in (release, release / "resaved-float32"):
        benched = _tfport(env, "bench", path, "--runs", "2", "--warmup", "0", "--json", "-")
        assert benched.returncode == 0, benched.stdout + benched.stderr
        rows = json.loads(benched.stdout)["rows"]
        assert {row["target"] for row in rows if "error" not in row} >= {"resaved"}

"""Shared fixtures: real SavedModels built once per test session, and a CLI runner."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parent.parent / "examples")]


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Keep the log file and caches of test runs out of the user's home — all but the tensorflowjs
    converter environment (2.9 GB, made once by `tfport setup tfjs`), used where tfport keeps it."""
    from tfport.converters.tfjs_env import environment_dir

    os.environ.setdefault("TFPORT_TFJS_ENV", str(environment_dir().parent))
    os.environ["TFPORT_CACHE"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def saved_model(tmp_path_factory):
    """saved_model("lstm") -> path of that model from tests/models.py, built once per session."""
    import models

    root = tmp_path_factory.mktemp("models")
    built: dict[str, Path] = {}

    def build(name: str) -> Path:
        if name not in built:
            built[name] = getattr(models, name)(root / name)
        return built[name]

    return build


@pytest.fixture
def cli(monkeypatch, tmp_path):
    """Run `tfport ARGS...` in-process (TensorFlow stays loaded between tests); cwd is tmp_path."""
    from typer.testing import CliRunner

    from tfport.cli.app import app

    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str | Path):
        return runner.invoke(app, [str(a) for a in args])

    return run


@pytest.fixture
def convert_model(saved_model, tmp_path):
    """convert_model("tflite", "lstm", mode="int8", samples=8, **ConvertJob fields) -> ArtifactResult."""
    from tfport.golden.synthesis import SynthesisOptions
    from tfport.parity.tolerance import load_policy
    from tfport.pipeline.convert import ConvertJob, convert

    def run(target: str, name: str, mode: str = "float32", samples: int = 8, **job):
        report, _ = convert(ConvertJob(
            model_path=saved_model(name), targets=[(target, mode)], policy=load_policy(search_dir=tmp_path),
            out_dir=tmp_path / "out", synthesis=SynthesisOptions(samples=samples), **job,
        ))
        return report.results[0]

    return run


@pytest.fixture
def golden_of(saved_model, tmp_path):
    """golden_of("bert_style", **SynthesisOptions fields) -> the GoldenSet recorded for that model (8 samples)."""
    from tfport.golden.recording import make_golden
    from tfport.golden.synthesis import SynthesisOptions
    from tfport.savedmodel.reader import inspect_saved_model

    def record(name: str, **options):
        model = inspect_saved_model(saved_model(name))
        return make_golden(model, tmp_path / f"golden-{name}", SynthesisOptions(**{"samples": 8, **options}), None)

    return record

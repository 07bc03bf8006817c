"""One run loads the SavedModel once: the golden recording and every converter share it."""

import pytest

from tfport.golden.synthesis import SynthesisOptions
from tfport.parity.tolerance import load_policy
from tfport.pipeline.convert import ConvertJob, convert

FLOAT32 = [("tflite", "float32"), ("onnx", "float32"), ("tfjs", "float32")]


@pytest.fixture
def loads(monkeypatch):
    """Paths TensorFlow restored a SavedModel from, during the test."""
    from tensorflow.python.saved_model import load as load_module

    restored = []
    original = load_module.load_partial

    def counting(export_dir, *args, **kwargs):
        restored.append(str(export_dir))
        return original(export_dir, *args, **kwargs)

    monkeypatch.setattr(load_module, "load_partial", counting)
    return restored


def _convert(saved_model, tmp_path, name, targets):
    synthesis = SynthesisOptions(samples=4, strings=("apple", "kiwi", "date"))
    report, _ = convert(ConvertJob(model_path=saved_model(name), targets=targets, policy=load_policy(search_dir=tmp_path),
                                   out_dir=tmp_path / "out", synthesis=synthesis, force=True))
    assert [r.verdict for r in report.results] == ["pass"] * len(targets), [r.error for r in report.results]


def test_golden_and_all_converters_share_one_load(saved_model, tmp_path, loads):
    _convert(saved_model, tmp_path, "keras_mlp", [*FLOAT32, ("tflite", "int8")])
    assert loads == [str(saved_model("keras_mlp"))]


def test_models_with_tables_are_loaded_anew_for_each_converter(saved_model, tmp_path, loads):
    """Converters modify a loaded model's tables: shared, tensorflowjs fails ("Identity is not in graph")."""
    _convert(saved_model, tmp_path, "constant_table", FLOAT32)
    assert len(loads) > len(FLOAT32)

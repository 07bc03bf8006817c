"""Golden sets: deterministic synthesis, user inputs, storage, and the checks on reading."""

import json
import subprocess
import sys

import numpy as np
import pytest
from models import VOCABULARY

from tfport.errors import BadInputError
from tfport.golden.golden_set import read_golden, signature_file
from tfport.golden.recording import make_golden
from tfport.golden.synthesis import SynthesisOptions, inputs_from_file, synthesize_inputs
from tfport.savedmodel.reader import inspect_saved_model


def test_synthesis_is_deterministic_and_follows_shape_options(saved_model):
    signature = inspect_saved_model(saved_model("unknown_batch_cnn")).signatures["serving_default"]
    name = next(iter(signature.inputs))
    first = synthesize_inputs(signature, SynthesisOptions(samples=4, seed=1))
    assert first[name].shape == (4, 1, 12, 12, 1)
    assert np.array_equal(first[name], synthesize_inputs(signature, SynthesisOptions(samples=4, seed=1))[name])
    assert not np.array_equal(first[name], synthesize_inputs(signature, SynthesisOptions(samples=4, seed=2))[name])
    batched = synthesize_inputs(signature, SynthesisOptions(samples=2, shapes={name: (3, 12, 12, 1)}))
    assert batched[name].shape == (2, 3, 12, 12, 1)
    with pytest.raises(BadInputError, match="does not fit"):
        synthesize_inputs(signature, SynthesisOptions(shapes={name: (1, 5, 5, 1)}))


def test_strings_come_from_the_vocabulary_asset(saved_model, tmp_path):
    model = inspect_saved_model(saved_model("string_vocabulary"))
    golden = make_golden(model, tmp_path / "golden", SynthesisOptions(samples=6), None)
    words = golden.inputs["serving_default"]["word"]
    assert words.dtype.kind == "S"
    assert set(words.ravel()) <= {b"apple", b"banana", b"cherry", b"date", b"elderberry", b"<tfport-unknown>"}
    ids = golden.outputs["serving_default"]["ids"]
    assert ids.dtype == np.int64 and ids.shape == (6, 1)


def test_strings_come_from_a_constant_tables_keys(saved_model, tmp_path):
    """No vocabulary file: the words are the keys the model's table is filled with."""
    model = inspect_saved_model(saved_model("constant_table"))
    golden = make_golden(model, tmp_path / "golden", SynthesisOptions(samples=16), None)
    words = set(np.unique(golden.inputs["ids"]["word"]))
    assert words <= {w.encode() for w in VOCABULARY} | {b"<tfport-unknown>"} and len(words) > 3
    assert (golden.outputs["ids"]["ids"] >= 0).mean() > 0.5, "most words are found in the table"


def test_user_inputs_batch_is_split_into_samples(saved_model, tmp_path):
    model = inspect_saved_model(saved_model("dict_io"))
    np.savez(tmp_path / "in.npz", features=np.ones((5, 4), np.float32), bias=np.zeros((5, 3), np.float32))
    inputs = inputs_from_file(tmp_path / "in.npz", model.signatures)
    assert inputs["serving_default"]["features"].shape == (5, 1, 4)
    np.savez(tmp_path / "bad.npz", features=np.ones((5, 4), np.float32))
    with pytest.raises(BadInputError, match="no array for input 'bias'"):
        inputs_from_file(tmp_path / "bad.npz", model.signatures)


def test_golden_round_trip_needs_no_tensorflow(saved_model, tmp_path):
    model = inspect_saved_model(saved_model("two_signatures"))
    golden = make_golden(model, tmp_path / "golden", SynthesisOptions(samples=3, seed=5), None)
    manifest = json.loads((tmp_path / "golden" / "manifest.json").read_text())
    assert manifest["model"]["fingerprint"] == model.fingerprint
    assert manifest["request"]["seed"] == 5 and manifest["signatures"]["norm"]["samples"] == 3
    assert "tensorflow" in manifest["versions"]
    script = (
        "import sys; from tfport.golden.golden_set import read_golden; from tfport.parity.metrics import compare_signature;"
        "from tfport.parity.tolerance import Tolerance;"
        f"g = read_golden(r'{tmp_path / 'golden'}');"
        "r = compare_signature('norm', g.outputs['norm'], g.outputs['norm'], lambda _: Tolerance(atol=0));"
        "assert r[0].verdict == 'pass';"
        "print('tensorflow' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
    assert np.array_equal(read_golden(tmp_path / "golden").outputs["norm"]["norm"], golden.outputs["norm"]["norm"])


def test_golden_from_another_model_and_missing_input_are_reported(saved_model, tmp_path):
    mlp = inspect_saved_model(saved_model("keras_mlp"))
    golden = make_golden(inspect_saved_model(saved_model("two_signatures")), tmp_path / "g", SynthesisOptions(samples=1), None)
    with pytest.raises(BadInputError, match="recorded from another SavedModel"):
        golden.check_model(mlp.fingerprint, mlp.signatures, "the model")
    np.savez(tmp_path / "g" / signature_file("norm", "inputs"), y=np.zeros((1, 1, 3), np.float32))
    with pytest.raises(BadInputError, match="norm.inputs.npz changed"):
        read_golden(tmp_path / "g")
    manifest = json.loads((tmp_path / "g" / "manifest.json").read_text())
    del manifest["files"]  # a set edited by hand, hashes and all: its contents are still checked
    (tmp_path / "g" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BadInputError, match="lacks x"):
        read_golden(tmp_path / "g")
    (tmp_path / "g" / signature_file("norm", "inputs")).unlink()
    with pytest.raises(BadInputError, match="golden file missing"):
        read_golden(tmp_path / "g")
    with pytest.raises(BadInputError, match="no manifest.json"):
        read_golden(tmp_path)


def test_pickled_arrays_are_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "objects.npz", x=np.array([{"a": 1}], dtype=object))
    from tfport.golden.golden_set import load_npz

    with pytest.raises(BadInputError, match="plain arrays"):
        load_npz(tmp_path / "objects.npz")

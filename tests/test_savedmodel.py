"""Finding and describing SavedModels, and the messages for paths that are not one."""

import json
import shutil

import pytest

from tfport.errors import BadInputError
from tfport.savedmodel.reader import fingerprint, inspect_saved_model, resolve_model_dir


def test_keras_export_is_described(saved_model):
    info = inspect_saved_model(saved_model("keras_mlp"))
    assert info.tags == ["serve"]
    assert set(info.signatures) == {"serve", "serving_default"}
    assert info.aliases == {"serve": "serving_default"}
    (name, spec), = info.signatures["serving_default"].inputs.items()
    assert spec.dtype == "float32" and spec.shape == (None, 6)
    assert any(v.shape == (6, 16) and v.dtype == "float32" and v.bytes == 384 for v in info.variables)
    assert info.variable_bytes >= (6 * 16 + 16 + 16 * 3 + 3) * 4
    assert info.fingerprint_source == "fingerprint.pb"


def test_two_signatures_dicts_and_assets(saved_model):
    assert set(inspect_saved_model(saved_model("two_signatures")).signatures) == {"norm", "scale"}
    dict_model = inspect_saved_model(saved_model("dict_io")).signatures["serving_default"]
    assert set(dict_model.inputs) == {"features", "bias"}
    assert set(dict_model.outputs) == {"probabilities", "total"}
    vocabulary = inspect_saved_model(saved_model("string_vocabulary"))
    assert [a.path for a in vocabulary.assets] == ["string_vocabulary-vocabulary.txt"]
    assert vocabulary.signatures["serving_default"].inputs["word"].dtype == "string"


def test_versioned_base_directory_takes_highest_version(saved_model, tmp_path):
    for version in (1, 3, 2):
        shutil.copytree(saved_model("keras_mlp"), tmp_path / "model" / str(version))
    model_dir, version = resolve_model_dir(tmp_path / "model")
    assert version == 3 and model_dir == tmp_path / "model" / "3"
    assert inspect_saved_model(tmp_path / "model").name == "model"


def test_fingerprint_without_fingerprint_pb_hashes_content(saved_model, tmp_path):
    copy = shutil.copytree(saved_model("keras_mlp"), tmp_path / "copy")
    (copy / "fingerprint.pb").unlink()
    first, source = fingerprint(copy)
    assert source == "content hash"
    (copy / "variables" / "variables.data-00000-of-00001").write_bytes(b"changed")
    assert fingerprint(copy)[0] != first


def test_bad_paths_get_one_clear_message(saved_model, tmp_path):
    with pytest.raises(BadInputError, match="no such path"):
        inspect_saved_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match="no saved_model.pb in"):
        inspect_saved_model(tmp_path / "empty")
    with pytest.raises(BadInputError, match="pass its directory"):
        inspect_saved_model(saved_model("keras_mlp") / "saved_model.pb")
    corrupt = shutil.copytree(saved_model("keras_mlp"), tmp_path / "corrupt")
    (corrupt / "saved_model.pb").write_bytes(b"\x08\x01garbage\xff\xff")
    with pytest.raises(BadInputError, match="not a valid SavedModel"):
        inspect_saved_model(corrupt)
    original = (saved_model("keras_mlp") / "saved_model.pb").read_bytes()
    (corrupt / "saved_model.pb").write_bytes(original[: len(original) // 2])
    with pytest.raises(BadInputError, match="not a valid SavedModel"):
        inspect_saved_model(corrupt)


def test_inspect_json_cli(cli, saved_model):
    result = cli("inspect", saved_model("two_signatures"), "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["signatures"]["scale"]["inputs"]["x"] == {"dtype": "float32", "shape": [None, 3]}
    assert data["fingerprint_source"] == "fingerprint.pb"

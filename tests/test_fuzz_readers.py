"""Readers of files from elsewhere never crash: any bytes give data or the documented error."""

import json
import shutil

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfport.errors import BadInputError
from tfport.golden.golden_set import load_npz, read_golden
from tfport.parity.tolerance import Tolerance, load_policy
from tfport.savedmodel.reader import inspect_saved_model
from tfport.savedmodel.scan import scan_saved_model

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def survives(reader, *args) -> None:
    """The reader returns, or raises the documented error; anything else fails the test."""
    try:
        reader(*args)
    except BadInputError:
        pass


@FUZZ
@given(data=st.binary(max_size=2048))
def test_saved_model_pb_bytes(tmp_path_factory, data):
    model = tmp_path_factory.mktemp("model")
    (model / "saved_model.pb").write_bytes(data)
    for reader in (inspect_saved_model, scan_saved_model):
        survives(reader, model)


@FUZZ
@given(data=st.binary(max_size=512), flip=st.integers(min_value=0, max_value=10_000))
def test_mutated_real_saved_model(saved_model, tmp_path_factory, data, flip):
    model = tmp_path_factory.mktemp("model")
    shutil.copytree(saved_model("keras_mlp"), model, dirs_exist_ok=True)
    original = bytearray((model / "saved_model.pb").read_bytes())
    position = flip % len(original)
    original[position:position + len(data)] = data
    (model / "saved_model.pb").write_bytes(bytes(original))
    index = model / "variables" / "variables.index"
    index.write_bytes(index.read_bytes()[: flip % 200])
    for reader in (inspect_saved_model, scan_saved_model):
        survives(reader, model)


@FUZZ
@given(manifest=JSON, npz=st.binary(max_size=256))
def test_golden_manifest_and_npz(tmp_path_factory, manifest, npz):
    golden = tmp_path_factory.mktemp("golden")
    (golden / "manifest.json").write_text(json.dumps(manifest))
    (golden / "serving_default.inputs.npz").write_bytes(npz)
    survives(read_golden, golden)
    survives(load_npz, golden / "serving_default.inputs.npz")


@FUZZ
@given(text=st.text(max_size=300))
def test_config_files(tmp_path_factory, text):
    config = tmp_path_factory.mktemp("config") / "tfport.toml"
    config.write_text(text)
    survives(lambda: load_policy(config).for_output(Tolerance(atol=1e-4), "tflite", "int8", "s", "o"))


@FUZZ
@given(manifest=JSON)
def test_tfjs_model_json(tmp_path_factory, manifest):
    from tfport.targets.tfjs import read_model_json

    model_json = tmp_path_factory.mktemp("tfjs") / "model.json"
    model_json.write_text(json.dumps(manifest))
    survives(read_model_json, model_json)

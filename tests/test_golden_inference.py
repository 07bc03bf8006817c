"""Golden inputs that fit the model with no flags: ranges read off the graph, sizes that run."""

import numpy as np
import pytest

from tfport.errors import EXIT_BAD_INPUT
from tfport.golden.golden_set import read_golden


def test_bert_style_inputs_index_their_own_tables(golden_of):
    golden = golden_of("bert_style")
    inputs, inferred = golden.inputs["serving_default"], golden.manifest["inferred"]
    assert inputs["token_type_ids"].max() <= 1 and inputs["input_ids"].max() >= 50
    assert set(np.unique(inputs["attention_mask"])) == {0, 1} and (inputs["attention_mask"][..., 0] == 1).all()
    assert "table of 2 rows" in inferred["serving_default/token_type_ids"]
    assert "table of 100 rows" in inferred["serving_default/input_ids"]
    assert "mask" in inferred["serving_default/attention_mask"]


def test_gpt2_style_ids_and_padding_mask(golden_of):
    golden = golden_of("gpt2_style")
    inputs, inferred = golden.inputs["serving_default"], golden.manifest["inferred"]
    assert inputs["input_ids"].max() < 50 and "table of 50 rows" in inferred["serving_default/input_ids"]
    mask = inputs["padding_mask"][:, 0]
    assert (mask[:, 0] == 1).all() and (np.diff(mask, axis=-1) <= 0).all() and (mask == 0).any()


def test_raw_string_tokens_come_from_the_lookup_table(golden_of):
    golden = golden_of("text_tokens")
    (tokens,) = golden.inputs["serving_default"].values()
    assert set(np.unique(tokens)) <= {b"the", b"cat", b"sat", b"on", b"mat", b"<tfport-unknown>"}
    assert len(np.unique(tokens)) >= 4


def test_rescaled_pixels_get_0_to_255(golden_of):
    golden = golden_of("pixels_0_255")
    (pixels,) = golden.inputs["serving_default"].values()
    assert pixels.max() > 200 and pixels.min() >= 0
    assert "Rescaling" in next(iter(golden.manifest["inferred"].values()))


def test_normalized_features_get_mean_plus_minus_two_std(golden_of):
    golden = golden_of("normalized_features")
    features = golden.inputs["serving_default"]["features"].reshape(-1, 3)
    mean, std = np.array([10.0, -5.0, 100.0]), np.array([2.0, 1.0, 50.0])
    assert (features >= mean - 2 * std).all() and (features <= mean + 2 * std).all()
    assert (features.std(axis=0) > 0.5 * std).all()
    note = golden.manifest["inferred"]["serving_default/features"]
    assert "3 per-feature ranges within [-7, 200)" in note and "Normalization" in note and "mean ± 2·std" in note


def test_uint8_images_get_0_to_255(golden_of):
    golden = golden_of("uint8_image")
    image = golden.inputs["serving_default"]["image"]
    assert image.dtype == np.uint8 and image.max() > 200
    assert "8-bit unsigned image (4 dims, 3 channels)" in golden.manifest["inferred"]["serving_default/image"]


def test_words_of_a_table_restored_from_the_checkpoint(golden_of):
    golden = golden_of("mutable_vocabulary")
    words = set(np.unique(golden.inputs["serving_default"]["words"]))
    assert words == {b"alpha", b"beta", b"gamma", b"<tfport-unknown>"}
    assert "3 words of the model's own vocabulary" in golden.manifest["inferred"]["serving_default/words"]


def test_unknown_spatial_dims_grow_until_the_model_runs(golden_of):
    golden = golden_of("fully_convolutional")
    (image,) = golden.inputs["serving_default"].values()
    assert image.shape[2:4] == (16, 16)
    note = golden.manifest["inferred"]["serving_default/*"]
    assert "set to 16" in note and "rejects 8" in note and "negative" in note


@pytest.mark.parametrize("target", ["tflite", "onnx", "tfjs"])
@pytest.mark.parametrize("name", ["bert_style", "gpt2_style", "fully_convolutional", "pixels_0_255",
                                  "text_tokens", "normalized_features"])
def test_inferred_inputs_pass_on_every_target(convert_model, name, target):
    result = convert_model(target, name)
    assert not result.error, result.error
    assert result.outputs and all(o.verdict == "pass" for o in result.outputs), [o.summary() for o in result.outputs]
    assert any(note.startswith("golden input serving_default/") for note in result.notes), result.notes


def test_a_range_given_for_one_input_wins(cli, saved_model, tmp_path):
    result = cli("golden", saved_model("bert_style"), "--samples", "4", "--int-range", "input_ids=0,20",
                 "--float-range", "0,2", "--out", tmp_path / "g")
    assert result.exit_code == 0, result.output
    golden = read_golden(tmp_path / "g")
    assert golden.inputs["serving_default"]["input_ids"].max() < 20
    assert "serving_default/input_ids" not in golden.manifest["inferred"]
    assert golden.manifest["request"]["ranges"] == {"input_ids": [0, 20]}


def test_inputs_the_model_rejects_are_a_bad_input(cli, saved_model, tmp_path):
    result = cli("golden", saved_model("bert_style"), "--samples", "4", "--int-range", "token_type_ids=0,9",
                 "--out", tmp_path / "g")
    assert result.exit_code == EXIT_BAD_INPUT
    text = " ".join(result.output.split())
    assert "rejects the golden inputs of signature 'serving_default': indices" in text
    assert "(node Gather_1, which reads token_type_ids: int32 [1, 6] in [0, 8])" in text
    assert "fit it with --int-range token_type_ids=LO,HI" in text and "input_ids" not in text
    assert "Traceback" not in result.output


def test_golden_settings_in_tfport_toml_and_flags_win(cli, saved_model, tmp_path):
    (tmp_path / "tfport.toml").write_text('[golden]\nfloat_range = [0, 2]\n[golden.int_range]\n'
                                          'input_ids = [0, 30]\ntoken_type_ids = [0, 1]\n')
    result = cli("golden", saved_model("bert_style"), "--samples", "4", "--int-range", "input_ids=0,10",
                 "--out", tmp_path / "g")
    assert result.exit_code == 0, result.output
    golden = read_golden(tmp_path / "g")
    assert golden.inputs["serving_default"]["input_ids"].max() < 10
    assert golden.inputs["serving_default"]["token_type_ids"].max() == 0
    assert golden.manifest["request"]["ranges"] == {"input_ids": [0, 10], "token_type_ids": [0, 1]}
    (tmp_path / "tfport.toml").write_text("[golden]\nint_range = 5\n")
    bad = cli("golden", saved_model("bert_style"), "--out", tmp_path / "g2")
    assert bad.exit_code == EXIT_BAD_INPUT and "must be [LOW, HIGH]" in bad.output


def test_golden_settings_in_pyproject_given_by_config(cli, saved_model, tmp_path):
    settings = tmp_path / "project" / "pyproject.toml"
    settings.parent.mkdir()
    settings.write_text('[tool.tfport.golden]\nint_range = [0, 3]\n[tool.tfport.golden.shapes]\n'
                        'input_ids = [2, 6]\n')
    result = cli("golden", saved_model("bert_style"), "--samples", "2", "--config", settings, "--out", tmp_path / "g")
    assert result.exit_code == 0, result.output
    golden = read_golden(tmp_path / "g")
    assert golden.manifest["request"]["int_range"] == [0, 3]
    assert golden.inputs["serving_default"]["input_ids"].shape == (2, 2, 6)

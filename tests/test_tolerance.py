"""Tolerance precedence: target default < config < per-output config < command line."""

import pytest

from tfport.errors import BadInputError
from tfport.parity.tolerance import Tolerance, load_policy

DEFAULT = Tolerance(atol=1e-4, rtol=1e-3)


def test_config_layers_and_cli_override(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        """
[tool.tfport.tolerance]
atol = 1e-3
[tool.tfport.tolerance."tflite.int8"]
min_cosine = 0.98
[tool.tfport.tolerance.outputs.logits]
min_top1 = 0.9
[tool.tfport.tolerance.outputs."serving_default.logits"]
min_top1 = 0.8
"""
    )
    policy = load_policy(search_dir=tmp_path)
    other = policy.for_output(DEFAULT, "tflite", "float32", "serving_default", "probabilities")
    assert other == Tolerance(atol=1e-3, rtol=1e-3)
    int8 = policy.for_output(DEFAULT, "tflite", "int8", "serving_default", "logits")
    assert int8.min_cosine == 0.98 and int8.min_top1 == 0.8
    other_signature = policy.for_output(DEFAULT, "tflite", "int8", "other", "logits")
    assert other_signature.min_top1 == 0.9

    cli_policy = load_policy(search_dir=tmp_path, cli={"atol": 0.5, "rtol": None})
    assert cli_policy.for_output(DEFAULT, "tflite", "int8", "s", "logits").atol == 0.5


def test_tfport_toml_is_read_before_pyproject(tmp_path):
    (tmp_path / "tfport.toml").write_text("[tolerance]\nrtol = 0.1\n")
    (tmp_path / "pyproject.toml").write_text("[tool.tfport.tolerance]\nrtol = 0.2\n")
    assert load_policy(search_dir=tmp_path).for_output(DEFAULT, "t", "m", "s", "o").rtol == 0.1


@pytest.mark.parametrize("text, problem", [
    ("[tolerance]\natoll = 1\n", "unknown tolerance key atoll"),
    ("[tolerance]\natol = 'tight'\n", "must be a number"),
    ("[tolerance\n", "not valid TOML"),
])
def test_bad_config_is_reported_with_file_and_key(tmp_path, text, problem):
    config = tmp_path / "tfport.toml"
    config.write_text(text)
    with pytest.raises(BadInputError, match=problem):
        load_policy(config).for_output(DEFAULT, "t", "m", "s", "o")

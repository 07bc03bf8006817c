"""Golden inputs that reach the whole model: Keras 3 embeddings get their table's rows, a raw
waveform gets a length its encoder runs on, both sides of an input-dependent tf.cond run — and
what cannot be reached is marked weak in every report format."""

from __future__ import annotations

import json
from html import escape

import numpy as np
import pytest

from tfport.errors import EXIT_BAD_INPUT, EXIT_OK


def test_keras3_embeddings_get_their_rows_and_ids_spread_over_the_vocabulary(golden_of):
    golden = golden_of("keras_hub_bert")
    inputs, inferred = golden.inputs["serving_default"], golden.manifest["inferred"]
    assert "table of 2 rows" in inferred["serving_default/segment_ids"]
    assert "table of 1000 rows" in inferred["serving_default/token_ids"]
    assert set(np.unique(inputs["segment_ids"])) == {0, 1}
    tokens = inputs["token_ids"]
    assert tokens.max() < 1000 and tokens.max() >= 500 and len(np.unique(tokens)) >= 0.8 * tokens.size


def test_a_waveform_gets_a_length_with_a_non_empty_output(golden_of):
    golden = golden_of("waveform_frontend")
    note = golden.manifest["inferred"]["serving_default/*"]
    assert "set to 512" in note and "an empty output_0 [1, 0, 32]" in note
    assert all(array.size for outputs in golden.outputs.values() for array in outputs.values())


def test_a_golden_set_is_never_recorded_with_an_empty_output(cli, saved_model):
    refused = cli("golden", saved_model("waveform_frontend"), "--samples", "2", "--shape", "input_values=1,8")
    assert refused.exit_code == EXIT_BAD_INPUT
    assert "an empty output_0 [1, 0, 32]" in " ".join(refused.output.split())


def test_both_branches_of_an_input_cond_run(golden_of):
    golden = golden_of("two_branch_cond")
    x = golden.inputs["serving_default"]["x"]
    assert (x.sum(axis=(1, 2)) > 0).any() and (x.sum(axis=(1, 2)) <= 0).any()
    assert "widened from the default [0, 1)" in golden.manifest["inferred"]["serving_default/x"]
    assert golden.manifest["coverage"] == {}


def test_keras3_index_wrapping_is_not_a_branch(golden_of):
    assert golden_of("keras_hub_bert").manifest["coverage"] == {}


@pytest.mark.slow
def test_a_branch_no_sample_takes_is_weak_evidence_in_every_report(cli, saved_model, tmp_path):
    done = cli("convert", saved_model("two_branch_cond"), "--to", "onnx", "--samples", "8", "--float-range", "x=0,1")
    assert done.exit_code == EXIT_OK, done.output
    out = tmp_path / "dist" / "two_branch_cond"
    said = "no golden sample takes the else branch of tf.cond 'StatefulPartitionedCall/cond' (decided by x)"
    assert said in " ".join(done.output.split())
    (output,) = json.loads((out / "report.json").read_text())["results"][0]["outputs"]
    assert said in output["weak_evidence"]
    for report in ("report.md", "report.html", "junit.xml"):
        assert said.replace("'", "&#x27;" if report == "report.html" else "'") in (out / report).read_text(), report


@pytest.mark.slow
@pytest.mark.parametrize("name", ["keras_hub_bert", "waveform_frontend"])
def test_passes_every_target_with_no_options(cli, saved_model, name):
    done = cli("convert", saved_model(name), "--to", "all", "--samples", "4")
    assert done.exit_code == EXIT_OK, done.output


@pytest.mark.slow
def test_an_error_report_says_what_it_ran_on_and_keeps_the_artifact(cli, saved_model, tmp_path):
    done = cli("convert", saved_model("tensorarray_decoder"), "--to", "tfjs", "--samples", "2")
    assert done.exit_code != EXIT_OK  # TF.js frees the TensorList items of this loop (tfport.converters.tfjs_loop_lists)
    out = tmp_path / "dist" / "tensorarray_decoder"
    (result,) = json.loads((out / "report.json").read_text())["results"]
    assert result["error"] and result["size_bytes"] and len(result["sha256"]) == 64
    html = (out / "report.html").read_text()
    assert html.count(escape(result["error"])) == 1 and "What it ran on" in html
    assert (out / result["artifact"]).exists()

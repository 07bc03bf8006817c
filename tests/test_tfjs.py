"""The TF.js target end to end: tensorflowjs, @tensorflow/tfjs on Node.js, the bundle in Chromium."""

import json

import numpy as np
import pytest

from tfport.errors import EXIT_BAD_INPUT, EXIT_CONVERSION_FAILED, BadInputError
from tfport.targets.browser import chromium_path
from tfport.targets.tfjs import read_model_json
from tfport.targets.tfjs_node import runtime_problem

MODEL_KINDS = [
    "keras_mlp", "dict_io", "two_signatures", "lstm", "gru", "embedding_gru", "gelu", "embedding",
    "string_vocabulary", "control_flow", "unknown_batch_cnn",
]
needs_chromium = pytest.mark.skipif(
    chromium_path() is None,
    reason="Chromium is not installed (apt-get install chromium; .ci/run installs it when it runs as root)",
)


def _ops(model_json):
    """Ops of a graph model: its graph, its functions and its initializer graph (tables)."""
    model = json.loads(model_json.read_text())
    ops = set()
    for graph in (model["modelTopology"], model.get("modelInitializer", {})):
        ops |= {n["op"] for n in graph.get("node", [])}
        ops |= {n["op"] for f in graph.get("library", {}).get("function", []) for n in f.get("nodeDef", [])}
    return ops


@pytest.mark.parametrize("name", MODEL_KINDS)
def test_every_model_kind_passes_float32_parity_on_node(convert_model, tmp_path, name):
    result = convert_model("tfjs", name)
    assert result.error == ""
    assert result.verdict == "pass", [o.summary() for o in result.outputs]
    for signature in result.metadata.io:
        assert (tmp_path / "out" / result.artifact / signature / "model.json").is_file()


def test_known_converter_gaps_are_handled_and_said(convert_model, tmp_path):
    gelu = convert_model("tfjs", "gelu")
    assert any("Erfc" in note and "1 - Erf" in note for note in gelu.notes)
    ops = _ops(tmp_path / "out" / gelu.artifact / "serving_default" / "model.json")
    assert "Erf" in ops and "Erfc" not in ops
    vocabulary = convert_model("tfjs", "string_vocabulary")
    assert any("vocabulary" in note and "5 entries" in note for note in vocabulary.notes)
    ops = _ops(tmp_path / "out" / vocabulary.artifact / "serving_default" / "model.json")
    assert "InitializeTableFromTextFileV2" not in ops and "LookupTableImportV2" in ops


def test_recurrent_loops_stay_functional(convert_model, tmp_path):
    """Lowered to v1 frames, an LSTM's loop stalls in TF.js ("Cannot compute the outputs")."""
    result = convert_model("tfjs", "lstm", samples=2)
    ops = _ops(tmp_path / "out" / result.artifact / "serving_default" / "model.json")
    assert "While" in ops or "StatelessWhile" in ops
    assert not ops & {"Enter", "Exit", "NextIteration", "Switch", "Merge"}


@pytest.mark.parametrize("mode", ["fp16", "uint8", "int8", "uint16"])
def test_every_weight_quantization_yields_a_verdict(convert_model, tmp_path, mode):
    result = convert_model("tfjs", "unknown_batch_cnn", mode)
    assert result.error == ""
    assert result.verdict in {"pass", "fail"}
    assert {c.metric for o in result.outputs for c in o.checks} >= {"cosine", "snr_db"}
    model = json.loads((tmp_path / "out" / result.artifact / "serving_default" / "model.json").read_text())
    dtypes = {w.get("quantization", {}).get("dtype") for group in model["weightsManifest"] for w in group["weights"]}
    assert {"fp16": "float16", "uint8": "uint8", "int8": "uint8", "uint16": "uint16"}[mode] in dtypes


def test_small_shards_and_the_wasm_backend(convert_model, tmp_path):
    result = convert_model("tfjs", "trained_cnn", samples=4, target_options={"shard_size": "4096",
                                                                           "tfjs_backend": "wasm"})
    assert result.verdict == "pass", result.error or [o.summary() for o in result.outputs]
    assert len(list((tmp_path / "out" / result.artifact / "serving_default").glob("group1-shard*of*.bin"))) > 1


def test_parity_runs_on_wasm_and_says_so(convert_model):
    result = convert_model("tfjs", "keras_mlp", samples=2)
    assert "ran on TF.js on Node.js, wasm backend" in result.notes


@pytest.mark.parametrize("name", ["broadcast_bias_cnn", "dict_io"])
def test_fused_ops_with_a_wide_bias_are_fixed_to_run_on_wasm(convert_model, tmp_path, name):
    """tensorflowjs fuses a [1, 1, 1, C] constant (conv) and a batch of biases (matmul): wasm refuses both."""
    result = convert_model("tfjs", name, samples=4, target_options={"tfjs_backend": "wasm"})
    assert result.verdict == "pass", result.error or [o.summary() for o in result.outputs]
    assert any("bias of rank > 1" in note for note in result.notes)
    model = json.loads((tmp_path / "out" / result.artifact / "serving_default" / "model.json").read_text())
    shapes = {w["name"]: w["shape"] for group in model["weightsManifest"] for w in group["weights"]}
    for node in model["modelTopology"]["node"]:
        if node["op"] in {"_FusedConv2D", "_FusedMatMul"}:
            assert len(shapes[node["input"][2]]) == 1, node


def test_einsum_is_rewritten_to_run_on_wasm(convert_model, tmp_path):
    result = convert_model("tfjs", "einsum", samples=2, target_options={"tfjs_backend": "wasm"})
    assert result.verdict == "pass", result.error
    assert any("rewrote 1 Einsum op(s) as Transpose, Reshape and a batched MatMul" in note for note in result.notes)
    assert "Einsum" not in _ops(tmp_path / "out" / result.artifact / "serving_default" / "model.json")


@pytest.mark.parametrize("name", ["lstm", "gru", "embedding_gru"])
def test_recurrent_loops_run_on_wasm(convert_model, name):
    """TF.js frees a While body's TensorList item on wasm unless it is the copy the body returns."""
    result = convert_model("tfjs", name, samples=2, target_options={"tfjs_backend": "wasm"})
    assert result.verdict == "pass", result.error
    assert any("loop write(s) to a TensorList store the copy the loop body returns" in n for n in result.notes)


def test_a_model_wasm_cannot_run_fails_on_wasm_and_is_never_proven_on_cpu_instead(cli, saved_model, tmp_path):
    """TF.js's wasm backend has no FFT or ComplexAbs kernel (an STFT front end): the default proves
    wasm, so the verdict is an error that names wasm; with two backends, each gets its own verdict."""
    model = saved_model("stft_frontend")
    default = cli("convert", model, "--to", "tfjs", "--samples", "2", "--out", tmp_path / "default")
    assert default.exit_code == EXIT_CONVERSION_FAILED
    (result,) = json.loads((tmp_path / "default" / "report.json").read_text())["results"]
    assert result["verdict"] == "error" and result["runtime"] == ""
    assert "a web app on TF.js's wasm backend fails the same way; --tfjs-backend cpu" in result["error"]
    both = cli("convert", model, "--to", "tfjs", "--samples", "2", "--tfjs-backend", "wasm,cpu",
               "--out", tmp_path / "both")
    assert both.exit_code == EXIT_CONVERSION_FAILED
    report = json.loads((tmp_path / "both" / "report.json").read_text())
    verdicts = {r["runtime"]: r["verdict"] for r in report["results"]}
    assert verdicts == {"wasm": "error", "cpu": "pass"}
    assert len({r["sha256"] for r in report["results"]}) == 1, "one artifact, two verdicts"
    junit = (tmp_path / "both" / "junit.xml").read_text()
    assert 'name="tfport.tfjs-float32.wasm"' in junit and 'name="tfport.tfjs-float32.cpu"' in junit
    assert "tfjs (wasm)" in (tmp_path / "both" / "report.md").read_text()
    assert "tfjs (cpu)" in (tmp_path / "both" / "report.html").read_text()


def test_backend_lists_are_checked_before_any_work(cli, saved_model, tmp_path):
    refused = cli("convert", saved_model("keras_mlp"), "--to", "tfjs", "--tfjs-backend", "wasm,gpu", "--samples", "2")
    assert refused.exit_code == EXIT_BAD_INPUT
    (result,) = json.loads((tmp_path / "dist" / "keras_mlp" / "report.json").read_text())["results"]
    assert "--tfjs-backend 'wasm,gpu': choose from cpu, wasm, webgl" in result["error"]


def test_unsupported_op_is_named(cli, saved_model, tmp_path):
    result = cli("convert", saved_model("unconvertible"), "--to", "tfjs", "--samples", "2")
    assert result.exit_code == EXIT_CONVERSION_FAILED
    error = json.loads((tmp_path / "dist" / "unconvertible" / "report.json").read_text())["results"][0]["error"]
    assert "Erfinv" in error and "signature 'serving_default'" in error


def test_bundle_files_describe_the_signatures(cli, saved_model, tmp_path):
    assert cli("convert", saved_model("dict_io"), "--to", "tfjs", "--bundle", "--samples", "2").exit_code == 0
    bundle = tmp_path / "dist" / "dict_io" / "tfjs-float32" / "dict_io.tfjs"
    files = {p.name for p in bundle.iterdir()}
    assert {"index.js", "index.d.ts", "README.md", "parity.html", "serving_default"} <= files
    typings = (bundle / "index.d.ts").read_text()
    assert '"features": Input<Float32Array | number[]>' in typings and "float32, shape [-1, 4]" in typings
    assert '"probabilities": Tensor' in typings and '"total": Tensor' in typings
    index = (bundle / "index.js").read_text()
    assert "export async function predict" in index and "export async function load" in index
    assert "predict(" in (bundle / "README.md").read_text()


@needs_chromium
@pytest.mark.parametrize("name", ["trained_cnn", "dict_io"])
def test_bundle_passes_parity_in_chromium(cli, saved_model, tmp_path, name):
    assert cli("convert", saved_model(name), "--to", "tfjs", "--bundle", "--samples", "6").exit_code == 0
    out = tmp_path / "dist" / name
    bundle = out / "tfjs-float32" / f"{name}.tfjs"
    (tmp_path / "reports").mkdir()
    checked = cli("parity", bundle, "--golden", out / "golden", "--runtime", "chromium",
                  "--report-dir", tmp_path / "reports")
    assert checked.exit_code == 0, checked.output
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert report["verdict"] == "pass" and len(report["results"][0]["outputs"]) >= 1


@needs_chromium
def test_bundle_runs_on_wasm_in_chromium(cli, saved_model, tmp_path):
    assert cli("convert", saved_model("gelu"), "--to", "tfjs", "--bundle", "--samples", "3").exit_code == 0
    out = tmp_path / "dist" / "gelu"
    (tmp_path / "reports").mkdir()
    checked = cli("parity", out / "tfjs-float32" / "gelu.tfjs", "--golden", out / "golden", "--runtime", "chromium",
                  "--tfjs-backend", "wasm", "--report-dir", tmp_path / "reports")
    assert checked.exit_code == 0, checked.output


@needs_chromium
@pytest.mark.parametrize("name", ["trained_cnn", "lstm"])
def test_webgl_parity_runs_in_chromium(cli, saved_model, tmp_path, name):
    """Debian's Chromium gives headless pages WebGL2 on SwiftShader, with float32 render targets."""
    done = cli("convert", saved_model(name), "--to", "tfjs", "--bundle", "--runtime", "chromium",
               "--tfjs-backend", "webgl", "--samples", "3")
    assert done.exit_code == 0, done.output
    (result,) = json.loads((tmp_path / "dist" / name / "report.json").read_text())["results"]
    assert "ran on TF.js in Chromium, webgl backend" in result["notes"]


def test_webgl_needs_the_browser(cli, saved_model, tmp_path):
    refused = cli("convert", saved_model("keras_mlp"), "--to", "tfjs", "--tfjs-backend", "webgl", "--samples", "2")
    assert refused.exit_code == EXIT_BAD_INPUT
    (result,) = json.loads((tmp_path / "dist" / "keras_mlp" / "report.json").read_text())["results"]
    assert "--tfjs-backend webgl runs in a browser — add --runtime chromium" in result["error"]


@needs_chromium
def test_every_backend_of_a_list_gets_a_verdict_in_node_and_chromium(cli, saved_model, tmp_path):
    done = cli("convert", saved_model("trained_cnn"), "--to", "tfjs", "--runtime", "node,chromium",
               "--tfjs-backend", "wasm,webgl", "--samples", "3")
    assert done.exit_code == 0, done.output
    results = json.loads((tmp_path / "dist" / "trained_cnn" / "report.json").read_text())["results"]
    assert {r["runtime"]: r["verdict"] for r in results} == {
        "wasm in node": "pass", "wasm in chromium": "pass", "webgl in chromium": "pass"}


def test_chromium_needs_a_bundle(cli, saved_model, tmp_path):
    assert cli("convert", saved_model("dict_io"), "--to", "tfjs", "--samples", "2").exit_code == 0
    out = tmp_path / "dist" / "dict_io"
    checked = cli("parity", out / "tfjs-float32" / "dict_io.tfjs", "--golden", out / "golden", "--runtime", "chromium")
    assert checked.exit_code == EXIT_BAD_INPUT
    assert "convert with --bundle" in json.dumps(json.loads((out / "tfjs-float32" / "report.json").read_text()))
    assert not (out / "tfjs-float32" / "dict_io.tfjs" / "report.json").exists(), "reports stay out of the bundle"


def test_missing_node_is_a_clear_error(cli, convert_model, tmp_path, monkeypatch):
    result = convert_model("tfjs", "dict_io", samples=2)
    assert result.verdict == "pass"
    monkeypatch.setenv("PATH", "")
    assert "Node.js ≥ 18 is not installed" in runtime_problem()
    checked = cli("parity", tmp_path / "out" / result.artifact, "--golden", tmp_path / "out" / "golden")
    assert checked.exit_code == EXIT_BAD_INPUT
    assert "tfjs runtime is not usable here: Node.js ≥ 18 is not installed" in checked.output
    assert "Traceback" not in checked.output


def test_setup_installs_the_runtime_ahead_of_time(cli):
    result = cli("setup", "tfjs")
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "TensorFlow 2.19 environment (tensorflowjs, the Flex interpreter)" in said and "TF.js runtime" in said


def test_the_environment_is_usable_as_the_environment_it_is():
    """It is made in a staging directory and renamed: its scripts must name where it lives."""
    import subprocess

    from tfport.converters.tfjs_env import environment_dir, setup, worker_environment

    setup()
    done = subprocess.run([str(environment_dir() / "bin" / "tensorflowjs_converter"), "--version"],
                          capture_output=True, text=True, env=worker_environment())
    assert done.returncode == 0, done.stderr[-500:]
    assert "tensorflow 2.19" in done.stdout


def test_tensorflowjs_runs_in_its_own_environment(convert_model):
    """tensorflowjs 4.22 and the TensorFlow 2.19 it pins run apart; this environment's TensorFlow
    (2.19 to 2.21) only rewrites the model and reads the result."""
    from tfport.converters.tfjs_env import REQUIREMENTS

    result = convert_model("tfjs", "keras_mlp", samples=2)
    assert result.verdict == "pass"
    pinned = dict(line.split("==") for line in REQUIREMENTS.read_text().splitlines() if "==" in line)
    assert result.metadata.converter == (f"tensorflowjs {pinned['tensorflowjs']} (TensorFlow {pinned['tensorflow']}, "
                                         "in tfport's converter environment)")


def test_model_json_reading_outside_its_directory_is_refused(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({
        "signature": {"inputs": {}, "outputs": {}},
        "weightsManifest": [{"paths": ["../../etc/passwd"], "weights": []}],
    }))
    with pytest.raises(BadInputError, match="outside its directory"):
        read_model_json(tmp_path / "model.json")


def test_tensors_cross_as_binary_both_ways():
    from tfport.targets.tfjs_wire import decode_tensors, encode_tensors

    arrays = [("x", np.arange(6, dtype=np.float32).reshape(2, 3)), ("w", np.array([b"a", "é".encode()])),
              ("b", np.array([True, False])), ("i", np.array([[1, -2]], dtype=np.int64))]
    specs, payload = encode_tensors(arrays)
    assert [s["dtype"] for s in specs] == ["float32", "string", "bool", "int32"]
    assert len(payload) == 6 * 4 + (4 + 1 + 4 + 2) + 2 + 2 * 4
    decoded = decode_tensors(specs, payload)
    assert np.array_equal(decoded[0], arrays[0][1]) and decoded[1].tolist() == [b"a", "é".encode()]
    assert decoded[2].tolist() == [True, False] and decoded[3].tolist() == [[1, -2]]
    with pytest.raises(BadInputError, match="int32"):
        encode_tensors([("big", np.array([2**40], dtype=np.int64))])


def test_odd_signature_keys_get_safe_directories():
    from tfport.converters.tfjs import model_dir_name

    assert model_dir_name("serving_default") == "serving_default"
    for key in ("../up", "a/b", ".", "", "x y", "index.js", "tfjs"):
        name = model_dir_name(key)
        assert "/" not in name and not name.startswith(".") and name and name != key

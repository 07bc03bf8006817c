"""The ONNX target end to end: real tf2onnx conversions, validation, onnxruntime parity, quantization."""

import json
import shutil

import numpy as np
import onnx
import pytest

from tfport.errors import EXIT_BAD_INPUT, EXIT_CONVERSION_FAILED, EXIT_OK

MODEL_KINDS = [
    "keras_mlp", "dict_io", "two_signatures", "lstm", "gru", "embedding_gru", "gelu", "embedding",
    "string_vocabulary", "control_flow", "unknown_batch_cnn",
]


def test_target_module_imports_no_heavy_package():
    import subprocess
    import sys

    code = ("import sys, tfport.targets.onnx as t; t.TARGET.runtime_problem(); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'onnx', 'onnxruntime', 'tensorflow', 'tf2onnx'}))")
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "[]"


def _files(tmp_path, result):
    artifact = tmp_path / "out" / result.artifact
    return {signature: artifact / f"{signature}.onnx" for signature in result.metadata.io}


@pytest.mark.parametrize("name", MODEL_KINDS)
def test_every_model_kind_passes_float32_parity(convert_model, tmp_path, saved_model, name):
    result = convert_model("onnx", name)
    assert result.error == ""
    assert result.verdict == "pass", [o.summary() for o in result.outputs]
    assert result.exit_code == EXIT_OK
    from tfport.savedmodel.reader import inspect_saved_model

    info = inspect_saved_model(saved_model(name))
    assert set(_files(tmp_path, result)) == set(info.distinct_signatures)
    for signature, path in _files(tmp_path, result).items():
        model = onnx.load(str(path))
        meta = {p.key: json.loads(p.value) if p.key != "tfport.signature" else p.value for p in model.metadata_props}
        assert meta["tfport.signature"] == signature
        graph_inputs = {i.name for i in model.graph.input} - {t.name for t in model.graph.initializer}
        assert graph_inputs == set(meta["tfport.inputs"]) and set(meta["tfport.inputs"].values()) == set(
            info.signatures[signature].inputs)
        assert set(meta["tfport.outputs"].values()) == set(info.signatures[signature].outputs)
        assert meta["tfport.aliases"] == sorted(a for a, kept in info.aliases.items() if kept == signature)


def test_gelu_erfc_is_rewritten_and_said(convert_model, tmp_path):
    result = convert_model("onnx", "gelu")
    assert result.verdict == "pass"
    assert any("Erfc" in note and "1 - Erf" in note for note in result.notes), result.notes
    model = onnx.load(str(_files(tmp_path, result)["serving_default"]))
    assert {"Erf", "Sub"} <= {n.op_type for n in model.graph.node}
    assert "Erfc" not in {n.op_type for n in model.graph.node}


def test_unknown_batch_stays_dynamic_and_default_opset_is_recorded(convert_model, tmp_path):
    result = convert_model("onnx", "unknown_batch_cnn")
    model = onnx.load(str(_files(tmp_path, result)["serving_default"]))
    batch = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch.dim_param and not batch.dim_value
    from tf2onnx.constants import OPSET_TO_IR_VERSION

    newest = max(OPSET_TO_IR_VERSION)  # tf2onnx's newest (18 for 1.17); onnxruntime here loads newer ones
    assert result.metadata.target_data["opset"] == newest
    assert {o.version for o in model.opset_import if o.domain in ("", "ai.onnx")} == {newest}
    assert any(note.startswith(f"opset {newest}: the newest") for note in result.notes)


def test_opset_option(convert_model, tmp_path):
    result = convert_model("onnx", "gelu", samples=2, target_options={"opset": "13"})
    assert result.verdict == "pass" and result.metadata.target_data["opset"] == 13
    model = onnx.load(str(_files(tmp_path, result)["serving_default"]))
    assert {o.version for o in model.opset_import if o.domain in ("", "ai.onnx")} == {13}


@pytest.mark.parametrize("mode", ["fp16", "dynamic", "int8"])
def test_every_quantization_mode_yields_a_verdict(convert_model, tmp_path, mode):
    result = convert_model("onnx", "unknown_batch_cnn", mode)
    assert result.error == ""
    assert result.verdict in {"pass", "fail"}
    assert {c.metric for o in result.outputs for c in o.checks} >= {"cosine", "snr_db"}
    model = onnx.load(str(_files(tmp_path, result)["serving_default"]))
    ops = {n.op_type for n in model.graph.node}
    weights = {onnx.helper.tensor_dtype_to_np_dtype(t.data_type).name for t in model.graph.initializer
               if len(t.dims) > 1}
    io_types = {v.type.tensor_type.elem_type for v in [*model.graph.input, *model.graph.output]}
    assert io_types == {onnx.TensorProto.FLOAT}, "inputs and outputs stay float32 in every mode"
    if mode == "fp16":
        assert weights == {"float16"}
    elif mode == "dynamic":
        assert "DynamicQuantizeLinear" in ops and "int8" in weights
    else:
        assert {"QuantizeLinear", "DequantizeLinear"} <= ops and "int8" in weights
        initializers = {t.name: t for t in model.graph.initializer}
        zero_points = [initializers[n.input[2]] for n in model.graph.node
                       if n.op_type == "QuantizeLinear" and len(n.input) > 2 and n.input[2] in initializers]
        assert zero_points and {z.data_type for z in zero_points} == {onnx.TensorProto.UINT8}, \
            "uint8 activations: onnxruntime's fast x86 int8 kernels are uint8 x int8"
        quantized = [onnx.numpy_helper.to_array(t) for t in model.graph.initializer
                     if t.data_type == onnx.TensorProto.INT8 and len(t.dims) > 1]
        assert max(int(abs(w.astype(int)).max()) for w in quantized) <= 64, "7-bit weights: no overflow without VNNI"


def test_int8_calibrates_on_the_samples_of_aliased_signatures_too(convert_model):
    # `serve` runs serving_default.onnx: calibrated on serving_default's samples alone, the
    # ranges missed serve's inputs (cosine 0.93, 7.5 dB on this model).
    result = convert_model("onnx", "embedding", "int8")
    assert result.verdict == "pass", [o.summary() for o in result.outputs]
    assert {o.signature for o in result.outputs} == {"serve", "serving_default"}


def test_int8_keeps_a_trained_cnn_accurate(convert_model, tmp_path, record_property):
    from quadrants import quadrant_images

    images, _ = quadrant_images(200, seed=99)
    np.savez(tmp_path / "images.npz", image=images)
    float32 = convert_model("onnx", "trained_cnn", "float32", inputs_file=tmp_path / "images.npz")
    result = convert_model("onnx", "trained_cnn", "int8", inputs_file=tmp_path / "images.npz")
    assert float32.verdict == "pass" and result.verdict == "pass", [o.summary() for o in result.outputs]
    for output in result.outputs:
        assert output.metrics["cosine"] >= 0.99
        assert output.metrics["top1_agreement"] >= 0.95
    weight_bytes = {}
    for label, converted in (("float32", float32), ("int8", result)):
        model = onnx.load(str(_files(tmp_path, converted)["serving_default"]))
        weight_bytes[label] = sum(onnx.numpy_helper.to_array(t).nbytes for t in model.graph.initializer)
    size_ratio = result.size_bytes / float32.size_bytes
    weight_ratio = weight_bytes["int8"] / weight_bytes["float32"]
    record_property("int8_size_ratio", round(size_ratio, 3))
    record_property("int8_weight_bytes_ratio", round(weight_ratio, 3))
    print(f"int8/float32: file size {size_ratio:.2f}, weight bytes {weight_ratio:.2f}, "
          f"cosine {min(o.metrics['cosine'] for o in result.outputs):.6f}")
    # This CNN has 2.3k weights: QDQ nodes and tf2onnx's long tensor names outweigh them in the
    # file, so the file ratio is reported, and the weights themselves must shrink about 4x.
    assert weight_ratio < 0.35


def test_external_data_path(cli, saved_model, tmp_path):
    outcome = cli("convert", saved_model("unknown_batch_cnn"), "--to", "onnx", "--external-data", "--samples", "4")
    assert outcome.exit_code == EXIT_OK, outcome.output
    artifact = tmp_path / "dist" / "unknown_batch_cnn" / "onnx-float32" / "unknown_batch_cnn.onnx"
    model_file, data = artifact / "serving_default.onnx", artifact / "serving_default.onnx.data"
    assert data.stat().st_size >= 1024
    model = onnx.load(str(model_file), load_external_data=False)
    external = [t.name for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    assert external and all(
        e.value == data.name for t in model.graph.initializer for e in t.external_data if e.key == "location")
    # tfport's artifact cache hard-links files into dist/, and onnx refuses external data with
    # several links ("potential hardlink attack"); a deployed copy has one.
    deployed = tmp_path / "deployed"
    shutil.copytree(artifact, deployed)
    onnx.checker.check_model(str(deployed / model_file.name), full_check=True)
    report = json.loads((tmp_path / "dist" / "unknown_batch_cnn" / "report.json").read_text())
    assert report["results"][0]["metadata"]["target_data"]["external_data"] is True
    assert any("external data" in note for note in report["results"][0]["notes"])


def test_external_data_with_a_lookup_table(convert_model):
    # tf2onnx's large-model mode cannot convert lookup tables: a model that fits converts in the
    # regular mode and is still saved with external data.
    result = convert_model("onnx", "string_vocabulary", samples=4, target_options={"external_data": True})
    assert result.verdict == "pass", result.error or [o.summary() for o in result.outputs]
    assert any("large-model mode failed" in note for note in result.notes)


def test_op_tf2onnx_cannot_convert_is_exit_3_naming_it(cli, saved_model, tmp_path):
    failed = cli("convert", saved_model("unconvertible"), "--to", "onnx", "--samples", "2")
    assert failed.exit_code == EXIT_CONVERSION_FAILED, failed.output
    report = json.loads((tmp_path / "dist" / "unconvertible" / "report.json").read_text())
    error = report["results"][0]["error"]
    assert "Erfinv" in error and "PartitionedCall/erfinv/Erfinv" in error, error
    assert "Traceback" not in failed.output
    assert not (tmp_path / "dist" / "unconvertible" / "onnx-float32").exists(), "no half-written artifact"


def _strided_slice_model(path):
    """x[:, ::2]: tf2onnx raises (not passes through) for a strided slice below opset 10."""
    from tfport.savedmodel.tensorflow import tensorflow

    tf = tensorflow()

    class Strided(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 6], tf.float32, name="x")])
        def serve(self, x):
            return {"y": x[:, ::2]}

    module = Strided()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def test_tf2onnx_exception_becomes_one_message_naming_op_and_node(cli, tmp_path):
    model = _strided_slice_model(tmp_path / "strided")
    failed = cli("convert", model, "--to", "onnx", "--opset", "9", "--samples", "2")
    assert failed.exit_code == EXIT_CONVERSION_FAILED, failed.output
    error = json.loads((tmp_path / "dist" / "strided" / "report.json").read_text())["results"][0]["error"]
    assert "StridedSlice" in error and "PartitionedCall/strided_slice" in error, error
    assert "Traceback" not in failed.output and "\n" not in error


def test_missing_provider_and_bad_options_exit_2_before_converting(cli, saved_model, tmp_path):
    missing = cli("convert", saved_model("keras_mlp"), "--to", "onnx", "--provider", "CUDA", "--samples", "2")
    assert missing.exit_code == EXIT_BAD_INPUT
    error = json.loads((tmp_path / "dist" / "keras_mlp" / "report.json").read_text())["results"][0]["error"]
    assert "no CUDAExecutionProvider" in error and "CPUExecutionProvider" in error, error
    assert not (tmp_path / "dist" / "keras_mlp" / "onnx-float32").exists()
    for option, value, expected in (("--provider", "Warp", "not an onnxruntime execution provider"),
                                    ("--graph-optimization", "max", "choose one of"),
                                    ("--opset", "99", "converts to opsets 9 to")):
        shutil.rmtree(tmp_path / "dist")
        bad = cli("convert", saved_model("keras_mlp"), "--to", "onnx", option, value, "--samples", "2")
        assert bad.exit_code == EXIT_BAD_INPUT, bad.output
        error = json.loads((tmp_path / "dist" / "keras_mlp" / "report.json").read_text())["results"][0]["error"]
        assert expected in error, error


def test_parity_of_the_directory_and_of_one_onnx_file(cli, saved_model, tmp_path):
    assert cli("convert", saved_model("two_signatures"), "--to", "onnx", "--samples", "3").exit_code == EXIT_OK
    out = tmp_path / "dist" / "two_signatures"
    artifact = out / "onnx-float32" / "two_signatures.onnx"
    checked = cli("parity", artifact, "--golden", out / "golden", "--graph-optimization", "disable")
    assert checked.exit_code == EXIT_OK, checked.output
    one = cli("parity", artifact / "scale.onnx", "--golden", out / "golden")
    assert one.exit_code == EXIT_BAD_INPUT
    assert "holds signature scale only" in one.output and "'norm'" in one.output

    # A Keras export's one file answers both of its signatures, even copied away from tfport.json.
    assert cli("convert", saved_model("keras_mlp"), "--to", "onnx", "--samples", "3").exit_code == EXIT_OK
    keras_out = tmp_path / "dist" / "keras_mlp"
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(keras_out / "onnx-float32" / "keras_mlp.onnx" / "serving_default.onnx", alone)
    copied = cli("parity", alone / "serving_default.onnx", "--golden", keras_out / "golden")
    assert copied.exit_code == EXIT_OK, copied.output
    report = json.loads((alone / "report.json").read_text())
    assert {o["signature"] for o in report["results"][0]["outputs"]} == {"serve", "serving_default"}


def test_a_crash_before_tf2onnx_names_a_node_names_the_op_it_cannot_convert():
    """jax2tf models hold one XlaCallModule op, on which tf2onnx crashes with a Python message that
    names nothing; the reason names the op."""
    from tfport.savedmodel.tensorflow import tensorflow

    tensorflow()
    import tf2onnx.tfonnx  # noqa: F401  (registers tf2onnx's op handlers, as a conversion does)
    from tensorflow.core.framework import graph_pb2

    from tfport.converters.onnx import _failure

    graph = graph_pb2.GraphDef()
    for op in ("Placeholder", "XlaCallModule", "Identity"):
        graph.node.add(op=op, name=op.lower())
    crash = ValueError("Could not infer the attribute type from the elements of the passed Iterable value")
    assert _failure(crash, [], graph) == ("no conversion for TensorFlow op(s) XlaCallModule (tf2onnx: Could not "
                                          "infer the attribute type from the elements of the passed Iterable value)")

"""The OpenVINO target end to end: real openvino.convert_model, NNCF quantization, OpenVINO Runtime parity."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from tfport.errors import EXIT_BAD_INPUT, EXIT_CONVERSION_FAILED, EXIT_OK

pytest.importorskip("openvino")

MODEL_KINDS = [
    "keras_mlp", "dict_io", "two_signatures", "same_shaped_inputs", "upper_case_keys", "tf_keras_two_inputs",
    "scalar_input", "lstm", "gru", "embedding_gru", "gelu", "embedding", "control_flow", "unknown_batch_cnn", "convnext_block",
    "grouped_conv",
]


def test_target_module_imports_no_heavy_package():
    code = ("import sys, tfport.targets.openvino as t; t.TARGET.runtime_problem(); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'openvino', 'nncf', 'tensorflow'}))")
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "[]"


@pytest.mark.parametrize("name", MODEL_KINDS)
def test_every_model_kind_passes_float32_parity(convert_model, tmp_path, saved_model, name):
    from tfport.savedmodel.reader import inspect_saved_model

    result = convert_model("openvino", name)
    assert result.error == "" and result.verdict == "pass", [o.summary() for o in result.outputs] or result.error
    info = inspect_saved_model(saved_model(name))
    artifact = tmp_path / "out" / result.artifact
    assert {p.stem for p in artifact.glob("*.xml")} == set(info.distinct_signatures)
    assert all(p.with_suffix(".bin").is_file() for p in artifact.glob("*.xml"))
    for key in info.distinct_signatures:
        io = result.metadata.io[key]
        assert set(io["inputs"]) == set(info.signatures[key].inputs)
        assert set(io["outputs"]) == set(info.signatures[key].outputs)
    assert any("f32 inference precision" in note for note in result.notes), "bf16 is never used silently"


def test_fp16_and_int8_keep_the_trained_cnn(convert_model, tmp_path):
    from quadrants import quadrant_images

    images, _ = quadrant_images(200, seed=99)
    np.savez(tmp_path / "images.npz", image=images)
    float32 = convert_model("openvino", "trained_cnn", "float32", inputs_file=tmp_path / "images.npz")
    fp16 = convert_model("openvino", "trained_cnn", "fp16", inputs_file=tmp_path / "images.npz")
    int8 = convert_model("openvino", "trained_cnn", "int8", inputs_file=tmp_path / "images.npz")
    assert float32.verdict == fp16.verdict == int8.verdict == "pass"
    for output in int8.outputs:
        assert output.metrics["top1_agreement"] >= 0.95 and output.metrics["cosine"] >= 0.99
    weights = {r.quantization: sum(f.stat().st_size for f in (tmp_path / "out" / r.artifact).glob("*.bin"))
               for r in (float32, fp16, int8)}
    assert weights["fp16"] < 0.6 * weights["float32"], weights
    assert weights["int8"] < 0.4 * weights["float32"], weights


def test_parity_of_the_directory_the_artifact_and_a_copied_file(cli, saved_model, tmp_path):
    assert cli("convert", saved_model("two_signatures"), "--to", "openvino", "--samples", "3").exit_code == EXIT_OK
    out = tmp_path / "dist" / "two_signatures"
    for named in (out / "openvino-float32", out / "openvino-float32" / "two_signatures.openvino"):
        checked = cli("parity", named, "--golden", out / "golden")
        assert checked.exit_code == EXIT_OK, checked.output
    alone = tmp_path / "alone"
    alone.mkdir()
    for suffix in (".xml", ".bin"):  # no tfport.json: the runner reads the signature keys from the IR
        shutil.copy(out / "openvino-float32" / "two_signatures.openvino" / f"scale{suffix}", alone)
    one = cli("parity", alone / "scale.xml", "--golden", out / "golden")
    assert one.exit_code == EXIT_BAD_INPUT and "has no model for signature" in one.output


def test_lookup_tables_are_refused_by_name(convert_model):
    result = convert_model("openvino", "tf1_int32_keys")
    assert result.verdict == "error" and "cannot convert lookup tables" in result.error, result.error
    assert "HashTableV2" in result.error


def test_an_op_openvino_lacks_is_named(cli, saved_model):
    failed = cli("convert", saved_model("complex_output"), "--to", "openvino", "--samples", "2")
    assert failed.exit_code == EXIT_CONVERSION_FAILED
    assert "OpenVINO has no conversion for TensorFlow op(s)" in " ".join(failed.output.split())


def test_an_unknown_device_is_refused_before_converting(cli, saved_model, tmp_path):
    refused = cli("convert", saved_model("keras_mlp"), "--to", "openvino", "--device", "NPU9", "--samples", "2")
    assert refused.exit_code == EXIT_BAD_INPUT
    assert not (tmp_path / "dist" / "keras_mlp" / "openvino-float32").exists()


def test_conversions_send_no_usage_data():
    """openvino_telemetry forks the process for every event (45 for one MobileNetV2 conversion);
    tfport's imports leave OpenVINO and NNCF on their no-op stand-ins."""
    script = ("from tfport.converters.openvino import import_openvino; import_openvino()\n"
              "import openvino.tools.ovc.telemetry_utils as ovc, nncf.telemetry.wrapper as nncf_telemetry\n"
              "print(ovc.tm.__name__)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "openvino.tools.ovc.telemetry_stub"

"""A changed artifact never inherits a pass: caches prove what they hold, releases are signed,
and broken inputs are refused by name."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tfport_process import SCRIPT

MODEL = "unknown_batch_cnn"
CONVERT = ("--to", "tflite", "--samples", "4")


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """A cache of this test's own, so its entries can be found and tampered with."""
    monkeypatch.setenv("TFPORT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def notes(out_dir):
    [result] = json.loads((out_dir / "report.json").read_text())["results"]
    return result["notes"]


def the_entry(cache_root):
    [entry] = [p for p in (cache_root / "artifacts").iterdir()]
    return entry


def flip_100_bytes(file):
    data = bytearray(file.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 100] = bytes(b ^ 0xFF for b in data[middle:middle + 100])
    file.write_bytes(bytes(data))


def test_a_changed_cached_artifact_is_discarded_and_converted_again(cli, saved_model, own_cache, tmp_path):
    model = saved_model(MODEL)
    assert cli("convert", model, *CONVERT, "--out", "first").exit_code == 0
    cached = the_entry(own_cache) / f"{MODEL}.tflite"
    flip_100_bytes(cached)
    again = cli("convert", model, *CONVERT, "--out", "second")
    assert again.exit_code == 0, again.output
    [discarded] = [n for n in notes(tmp_path / "second") if n.startswith("discarded the cached artifact")]
    assert f"{MODEL}.tflite changed (SHA-256 differs from the cache entry's file record)" in discarded
    assert "converted again" in discarded
    assert not any("reused the cached artifact" in n for n in notes(tmp_path / "second"))
    shipped = (tmp_path / "second" / "tflite-float32" / f"{MODEL}.tflite").read_bytes()
    assert shipped == (tmp_path / "first" / "tflite-float32" / f"{MODEL}.tflite").read_bytes()
    assert the_entry(own_cache).joinpath(f"{MODEL}.tflite").read_bytes() == shipped, "a sound entry replaced it"
    third = cli("convert", model, *CONVERT, "--out", "third")
    assert "reused the cached artifact" in third.output


def test_a_substituted_artifact_with_a_forged_record_gets_parity_again(cli, saved_model, own_cache, tmp_path):
    """Whoever can write the cache can also rewrite an entry's file record; parity is keyed by the
    artifact's bytes, so the substituted file is run, and fails, instead of inheriting the pass."""
    from tfport import digests

    model = saved_model(MODEL)
    assert cli("convert", model, *CONVERT, "--out", "honest").exit_code == 0
    entry = the_entry(own_cache)
    assert cli("convert", model, *CONVERT, "--quantize", "int8", "--out", "int8").exit_code == 0
    shutil.copyfile(tmp_path / "int8" / "tflite-int8" / f"{MODEL}.tflite", entry / f"{MODEL}.tflite")
    (entry / digests.ENTRY_FILES).write_text(json.dumps({"files": digests.file_table(entry, entry)}))
    poisoned = cli("convert", model, *CONVERT, "--out", "poisoned")
    assert "reused the cached artifact" in poisoned.output, "the forged record passes the entry's own check"
    assert "reused the parity results" not in poisoned.output
    assert poisoned.exit_code == 1 and "FAIL" in poisoned.output, "float32 limits on an int8 file: the true verdict"


def test_a_changed_golden_file_in_the_out_dir_is_recorded_again(cli, saved_model, own_cache, tmp_path):
    model = saved_model(MODEL)
    assert cli("convert", model, *CONVERT, "--out", "out").exit_code == 0
    outputs = tmp_path / "out" / "golden" / "serving_default.outputs.npz"
    recorded = outputs.read_bytes()
    with np.load(outputs) as data:
        arrays = {name: data[name] for name in data.files}
    np.savez(outputs, **{name: array + 1.0 for name, array in arrays.items()})  # a well-formed, wrong file
    result = cli("convert", model, *CONVERT, "--out", "out")
    assert result.exit_code == 0, result.output
    [golden_note] = [n for n in notes(tmp_path / "out") if n.startswith("recorded a golden set")]
    assert golden_note.startswith(f"recorded a golden set in {Path('out') / 'golden'} again")
    assert "serving_default.outputs.npz changed (SHA-256 differs from manifest.json)" in golden_note
    assert outputs.read_bytes() == recorded
    assert "reused the golden set" in cli("convert", model, *CONVERT, "--out", "out").output


def test_a_changed_golden_file_given_with_golden_is_refused(cli, saved_model, own_cache, tmp_path):
    model = saved_model(MODEL)
    assert cli("golden", model, "--samples", "3", "--out", "gold").exit_code == 0
    flip_100_bytes(tmp_path / "gold" / "serving_default.inputs.npz")
    result = cli("convert", model, "--golden", "gold", "--out", "out")
    assert result.exit_code == 2
    assert "serving_default.inputs.npz changed" in result.output and "record it again" in result.output


def test_two_runs_sharing_a_cache_both_pass_and_leave_one_intact_entry(saved_model, tmp_path, monkeypatch):
    from tfport.pipeline import cache

    env = {**os.environ, "TFPORT_CACHE": str(tmp_path / "cache")}
    model = saved_model(MODEL)
    runs = [subprocess.Popen([sys.executable, "-c", SCRIPT, "convert", str(model), *CONVERT, "--out", out],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True) for out in ("a", "b")]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert all("exit 0" in output for output in outputs), outputs
    entries = list((tmp_path / "cache" / "artifacts").iterdir())
    assert len(entries) == 1, entries
    monkeypatch.setenv("TFPORT_CACHE", str(tmp_path / "cache"))
    (tmp_path / "staging").mkdir()
    restored, problem = cache.restore(entries[0].name, tmp_path / "staging")
    assert restored and problem is None, "the entry left behind verifies"


def test_cache_command_shows_prunes_and_clears(cli, saved_model, own_cache):
    model = saved_model(MODEL)
    assert cli("convert", model, *CONVERT, "--quantize", "float32,dynamic", "--out", "out").exit_code == 0
    shown = cli("cache")
    assert shown.exit_code == 0 and str(own_cache) in shown.output
    assert "2 artifact(s), 2 parity result(s)" in shown.output and f"{MODEL} tflite-dynamic" in shown.output
    from tfport.pipeline.cache_admin import entries

    oldest = next(p for p in (own_cache / "artifacts").iterdir())
    os.utime(oldest, (1, 1))  # the least recently used
    room = sum(e.size_bytes for e in entries()) - next(e.size_bytes for e in entries() if e.path == oldest)
    pruned = cli("cache", "prune", "--max-size", str(room))
    assert pruned.exit_code == 0 and "removed artifact" in pruned.output
    assert len(list((own_cache / "artifacts").iterdir())) == 1
    assert cli("cache", "prune", "--max-size", "lots").exit_code == 2
    cleared = cli("cache", "clear")
    assert cleared.exit_code == 0 and not (own_cache / "artifacts").exists() and not (own_cache / "parity").exists()


# Signed releases


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    for name in ("release", "other"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(root / name)], check=True)
    return root


@pytest.fixture(scope="module")
def signed(tmp_path_factory, saved_model, keys):
    from typer.testing import CliRunner

    from tfport.cli.app import app

    work = tmp_path_factory.mktemp("signed")
    result = CliRunner().invoke(app, ["release", str(saved_model(MODEL)), *CONVERT, "--out", str(work / "rel"),
                                      "--sign", str(keys / "release")])
    assert result.exit_code == 0, result.output
    return work / "rel"


def copy_of(release, tmp_path):
    shutil.copytree(release, tmp_path / "copy")
    return tmp_path / "copy"


def test_a_signed_release_verifies_with_its_key(cli, signed, keys):
    assert (signed / "manifest.json.sig").read_text().startswith("-----BEGIN SSH SIGNATURE-----")
    result = cli("verify", signed, "--key", keys / "release.pub")
    assert result.exit_code == 0, result.output
    assert 'Good "tfport-release" signature' in result.output
    assert "is signed; pass --key" in cli("verify", signed).output


def test_a_changed_artifact_fails_although_the_signature_is_good(cli, signed, keys, tmp_path):
    copy = copy_of(signed, tmp_path)
    flip_100_bytes(copy / "tflite-float32" / f"{MODEL}.tflite")
    result = cli("verify", copy, "--key", keys / "release.pub")
    assert result.exit_code == 1
    assert 'Good "tfport-release" signature' in result.output
    assert f"tflite-float32/{MODEL}.tflite changed" in result.output


def test_a_changed_manifest_is_refused(cli, signed, keys, tmp_path):
    """The attack the signature exists for: a new artifact, and its hash written into the manifest."""
    copy = copy_of(signed, tmp_path)
    artifact = copy / "tflite-float32" / f"{MODEL}.tflite"
    flip_100_bytes(artifact)
    manifest = json.loads((copy / "manifest.json").read_text())
    from tfport.digests import file_digest

    name = f"tflite-float32/{MODEL}.tflite"
    manifest["artifacts"][0]["files"][name]["sha256"] = manifest["artifacts"][0]["sha256"] = file_digest(artifact)
    (copy / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    result = cli("verify", copy, "--key", keys / "release.pub")
    assert result.exit_code == 1
    assert "does not verify with --key" in result.output and "the manifest changed after it was signed" in result.output
    assert "PASS" not in result.output, "nothing of a changed manifest is checked or reported"


def test_a_swapped_signature_is_refused(cli, signed, keys, tmp_path):
    copy = copy_of(signed, tmp_path)
    signature = subprocess.run(["ssh-keygen", "-Y", "sign", "-f", str(keys / "other"), "-n", "tfport-release"],
                               input=(copy / "manifest.json").read_bytes(), capture_output=True, check=True).stdout
    (copy / "manifest.json.sig").write_bytes(signature)
    result = cli("verify", copy, "--key", keys / "release.pub")
    assert result.exit_code == 1 and "it was signed with another key" in result.output


def test_an_unsigned_release_is_refused_when_a_key_is_given(cli, signed, keys, tmp_path):
    copy = copy_of(signed, tmp_path)
    (copy / "manifest.json.sig").unlink()
    result = cli("verify", copy, "--key", keys / "release.pub")
    assert result.exit_code == 1 and "is not signed (no manifest.json.sig)" in result.output
    private = cli("verify", signed, "--key", keys / "release")
    assert private.exit_code == 2 and "is a private key" in private.output


def test_a_bad_signing_key_is_refused_before_converting(cli, saved_model, tmp_path):
    result = cli("release", saved_model(MODEL), *CONVERT, "--out", "rel", "--sign", tmp_path / "no-such-key")
    assert result.exit_code == 2 and "no such key file" in result.output
    assert not (tmp_path / "rel").exists()
    (tmp_path / "junk").write_text("not a key\n")
    result = cli("release", saved_model(MODEL), *CONVERT, "--out", "rel", "--sign", tmp_path / "junk")
    assert result.exit_code == 2 and "ssh-keygen cannot sign with it" in result.output
    assert cli("convert", saved_model(MODEL), "--sign", tmp_path / "junk").exit_code == 2


# Refusals that name the problem


def test_a_model_without_its_checkpoint_is_refused_by_name(cli, saved_model, tmp_path):
    shutil.copytree(saved_model(MODEL), tmp_path / "model")
    shutil.rmtree(tmp_path / "model" / "variables")
    result = cli("convert", tmp_path / "model", *CONVERT)
    assert result.exit_code == 2
    assert "model/variables/variables.index is missing, but the model has" in result.output
    assert "different device" not in result.output


def test_a_tf1_model_without_variables_needs_no_checkpoint(cli, tmp_path):
    from tfport.savedmodel.tensorflow import tensorflow

    tf = tensorflow()
    v1 = tf.compat.v1
    with tf.Graph().as_default() as graph, v1.Session(graph=graph) as session:
        x = v1.placeholder(tf.float32, [None, 3], name="x")
        y = tf.identity(x * 2.0, name="y")
        builder = v1.saved_model.Builder(str(tmp_path / "doubler"))
        builder.add_meta_graph_and_variables(session, ["serve"], signature_def_map={
            "serving_default": v1.saved_model.predict_signature_def({"x": x}, {"y": y})})
        builder.save()
    shutil.rmtree(tmp_path / "doubler" / "variables", ignore_errors=True)
    result = cli("convert", tmp_path / "doubler", *CONVERT)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def converted(tmp_path_factory, saved_model):
    """A valid golden set and real artifacts of every target, to break."""
    from typer.testing import CliRunner

    from tfport.cli.app import app

    work = tmp_path_factory.mktemp("artifacts")
    result = CliRunner().invoke(app, ["convert", str(saved_model(MODEL)), "--to", "all", "--samples", "4",
                                      "--out", str(work / "out")])
    assert result.exit_code == 0, result.output
    return work / "out"


def error_of(report_dir):
    [result] = json.loads((report_dir / "report.json").read_text())["results"]
    return result["error"]


@pytest.mark.parametrize("suffix", [".tflite", ".onnx"])
@pytest.mark.parametrize("damage", ["random", "truncated"])
def test_a_random_or_truncated_artifact_is_refused(cli, converted, tmp_path, suffix, damage):
    real = (converted / "tflite-float32" / f"{MODEL}.tflite" if suffix == ".tflite"
            else converted / "onnx-float32" / f"{MODEL}.onnx" / "serving_default.onnx")
    data = real.read_bytes()
    broken = tmp_path / f"broken{suffix}"
    broken.write_bytes(np.random.default_rng(0).bytes(len(data)) if damage == "random" else data[:len(data) // 2])
    result = cli("parity", broken, "--golden", converted / "golden")
    assert result.exit_code == 2, result.output
    error = error_of(tmp_path)
    assert error.startswith(str(broken)) and "convert the model again" in error
    if suffix == ".tflite":
        expected = "is not a TFLite model" if damage == "random" else "is a damaged or truncated TFLite model"
    else:
        expected = "is not an ONNX model, or a truncated one"
    assert expected in error


def test_a_tfjs_model_reaching_outside_its_directory_is_refused(cli, converted, tmp_path):
    shutil.copytree(converted / "tfjs-float32", tmp_path / "tfjs")
    model_json = next((tmp_path / "tfjs").glob("*/serving_default/model.json"))
    data = json.loads(model_json.read_text())
    data["weightsManifest"][0]["paths"] = ["../../../../etc/passwd"]
    model_json.write_text(json.dumps(data))
    result = cli("parity", model_json.parent.parent, "--golden", converted / "golden", "--report-dir", "reports")
    assert result.exit_code == 2, result.output
    assert "names weight file '../../../../etc/passwd' outside its directory" in error_of(tmp_path / "reports")

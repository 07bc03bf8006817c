"""A Keras 2 model saved with its optimizer, on a TensorFlow without tf_keras (the usual install
from 2.16 on): `tf.saved_model.load` cannot revive the optimizer's slots, tfport loads without them."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("tf_keras")  # builds the model; the run below hides it, as a Keras 3 install has none

WITHOUT_TF_KERAS = """
import sys
sys.modules["tf_keras"] = None  # `import tf_keras` fails, as where it is not installed
from tfport.cli.app import app
app(sys.argv[1:])
"""


def _tfport_without_tf_keras(*args, cwd):
    env = {**os.environ, "TFPORT_CACHE": str(cwd / "cache")}
    return subprocess.run([sys.executable, "-c", WITHOUT_TF_KERAS, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env)


def test_plain_load_fails_without_tf_keras(saved_model, tmp_path):
    """The mechanism itself, so the test below proves the fallback and not a lucky TensorFlow."""
    script = (f"import sys; sys.modules['tf_keras'] = None\nimport tensorflow as tf\n"
              f"tf.saved_model.load({str(saved_model('tf_keras_with_optimizer'))!r})")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode != 0 and "has no attribute 'add_slot'" in done.stderr


def test_a_model_saved_with_its_optimizer_converts_without_it(saved_model, tmp_path):
    model = saved_model("tf_keras_with_optimizer")
    done = _tfport_without_tf_keras("convert", model, "--to", "tflite,onnx", "--samples", "4", "--out", "out",
                                    cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [r["verdict"] for r in report["results"]] == ["pass", "pass"]
    notes = [n for r in report["results"] for n in r["notes"] if "cannot revive" in n]
    assert len(notes) == 2 and "loaded without the optimizer's 8 slot variables" in notes[0], notes
    assert sorted(p.name for p in model.iterdir()) == ["assets", "fingerprint.pb", "keras_metadata.pb",
                                                       "saved_model.pb", "variables"], "the original is untouched"

"""The models the benchmarks build, with random weights: nothing is downloaded.

    python benchmarks/bench_models.py NAME PATH    # writes the SavedModel of NAME to PATH

Benchmarks build them with `build_apart`, in a process of their own, so that the benchmark's own
process never holds TensorFlow and the tools it starts are measured alone.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MODELS = ("mlp", "mobilenetv2", "transformer")


def build(name: str, path: Path) -> None:
    from tfport.savedmodel.tensorflow import tensorflow

    tensorflow()
    import keras

    keras.utils.set_random_seed(0)
    if name == "mlp":
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(256, activation="relu"),
                                  keras.layers.Dense(256, activation="relu"), keras.layers.Dense(10)])
    elif name == "mobilenetv2":
        # Logits, not softmax: with random weights a softmax is flat (0.001 everywhere) and any port "passes".
        model = keras.applications.MobileNetV2(input_shape=(224, 224, 3), weights=None, classifier_activation=None)
        _calibrate_batch_norms(keras, model, (16, 224, 224, 3))
    elif name == "transformer":
        tokens = keras.Input((32, 64))
        attended = keras.layers.MultiHeadAttention(num_heads=4, key_dim=16)(tokens, tokens)
        hidden = keras.layers.LayerNormalization()(tokens + attended)
        feed = keras.layers.Dense(64)(keras.layers.Dense(256, activation="relu")(hidden))
        model = keras.Model(tokens, keras.layers.LayerNormalization()(hidden + feed))
    else:
        raise SystemExit(f"unknown model {name!r}: choose from {', '.join(MODELS)}")
    model.export(str(path), verbose=False)


def _calibrate_batch_norms(keras, model, shape: tuple[int, ...]) -> None:
    """Set every BatchNormalization's statistics to those of its inputs on random images, as
    training would. Left at their initial values, activations shrink layer by layer (MobileNetV2's
    logits come out near 1e-11), and int8 parity of such a model says nothing about a real one."""
    import numpy as np

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0  # the moving statistics become this batch's
    model(np.random.default_rng(0).random(shape, dtype=np.float32), training=True)


def build_apart(name: str, path: Path) -> Path:
    subprocess.run([sys.executable, __file__, name, str(path)], check=True, stderr=subprocess.DEVNULL)
    return path


if __name__ == "__main__":
    build(sys.argv[1], Path(sys.argv[2]))

"""Build the example model the README runs on: a small CNN that finds the bright quadrant.

    python examples/quadrants.py      # writes examples/quadrants/ and golden/quadrants/

Deterministic data, seeded training; the committed SavedModel and golden set came from this.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def quadrant_images(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """16x16 grey images in which one quadrant is brighter; the label is that quadrant (0-3)."""
    rng = np.random.default_rng(seed)
    images = rng.random((count, 16, 16, 1)).astype(np.float32) * 0.5
    labels = rng.integers(0, 4, count)
    for image, label in zip(images, labels):
        row, col = divmod(int(label), 2)
        image[row * 8:(row + 1) * 8, col * 8:(col + 1) * 8] += 0.5
    return images, labels


def build(path: Path) -> Path:
    """Train the CNN (a few seconds on a CPU) and export it with Keras `model.export`."""
    from tfport.savedmodel.tensorflow import tensorflow

    tensorflow()
    import keras

    keras.utils.set_random_seed(7)
    images, labels = quadrant_images(1024, seed=1)
    model = keras.Sequential([
        keras.Input((16, 16, 1), name="image"),
        keras.layers.Conv2D(8, 3, activation="relu", padding="same"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(16, 3, activation="relu", padding="same"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dense(4, name="logits"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(images, labels, epochs=4, batch_size=64, verbose=0)
    model.export(str(path), verbose=False)
    return path


def main() -> None:
    from tfport.golden.recording import make_golden
    from tfport.golden.synthesis import SynthesisOptions
    from tfport.savedmodel.reader import inspect_saved_model

    model_dir = build(ROOT / "examples" / "quadrants")
    held_out, _ = quadrant_images(200, seed=99)
    inputs_file = ROOT / "examples" / "quadrants-inputs.npz"
    np.savez_compressed(inputs_file, image=held_out)
    golden = make_golden(inspect_saved_model(model_dir), ROOT / "golden" / "quadrants", SynthesisOptions(), inputs_file)
    print(f"model in {model_dir}, golden set in {golden.path}")


if __name__ == "__main__":
    main()

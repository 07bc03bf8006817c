"""A third-party target for the contract test: it lives outside tfport and registers through the
`tfport.targets` entry-point group, as any plugin would (tests/test_contract.py installs it on
PYTHONPATH with a dist-info directory).

Its converter re-saves the SavedModel's signature functions (tf.saved_model.save) into a new
SavedModel; its runtime is TensorFlow loading that copy. Both real, and small: what the test
checks is the contract, not a conversion.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tfport.parity.tolerance import Tolerance
from tfport.plugin import ArtifactMetadata, ConversionRequest, ConversionResult, Feed, Runner, RuntimeNeeds, Target


def convert(request: ConversionRequest) -> ConversionResult:
    import tensorflow as tf

    model = request.saved_model
    loaded = tf.saved_model.load(str(model.path), tags=model.tags or None)
    artifact = request.out_dir / f"{model.name}.resaved"
    kept = {key: loaded.signatures[key] for key in model.distinct_signatures}
    tf.saved_model.save(loaded, str(artifact), signatures=kept)
    io = {key: {"inputs": {n: s.to_json() for n, s in model.signatures[key].inputs.items()},
                "outputs": {n: s.to_json() for n, s in model.signatures[key].outputs.items()}}
          for key in model.distinct_signatures}
    metadata = ArtifactMetadata(
        converter=f"tf.saved_model.save (TensorFlow {tf.__version__})",
        runtime=RuntimeNeeds(name="TensorFlow", min_version=tf.__version__, min_version_source="the one that saved it"),
        io=io, signature_aliases=model.aliases, target_data={"saved_by": "resaved"})
    return ConversionResult(artifact=artifact, metadata=metadata, notes=["re-saved with tf.saved_model.save"])


class ResavedRunner(Runner):
    def __init__(self, artifact: Path, metadata: ArtifactMetadata | None, options: Mapping[str, Any]):
        import tensorflow as tf

        self._loaded = tf.saved_model.load(str(artifact))
        self._aliases = metadata.signature_aliases if metadata else {}

    def run(self, signature: str, feed: Feed) -> dict[str, np.ndarray]:
        function = self._loaded.signatures[self._aliases.get(signature, signature)]
        return {name: value.numpy() for name, value in function(**feed).items()}

    @property
    def notes(self) -> list[str]:
        return ["ran on TensorFlow, loaded from the re-saved copy"]


TARGET = Target(
    name="resaved",
    description="the SavedModel re-saved by tf.saved_model.save, run on TensorFlow (contract test)",
    quantization_modes=("float32",),
    tolerances={"float32": Tolerance(atol=1e-6, rtol=1e-6)},
    convert=convert,
    open_runner=ResavedRunner,
    recognizes=lambda path: path.is_dir() and path.suffix == ".resaved",
    runtime_problem=lambda: None,
    packages=("tensorflow",),
)

# Another plugin's target that takes a name already in use: the registry must refuse both.
CLASH = Target(**{**TARGET.__dict__, "name": "tflite", "description": "a second target named tflite"})

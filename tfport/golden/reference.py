"""The original SavedModel as a runner: the reference every artifact is compared with."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tfport.errors import BadInputError
from tfport.golden import noise_floor
from tfport.golden.golden_set import GoldenSet, feeds, once_per_function, write_golden
from tfport.plugin import Feed, Runner
from tfport.savedmodel.reader import SavedModelInfo
from tfport.savedmodel.tensorflow import tensorflow


class Rejection(NamedTuple):
    """Why the model refused a feed: TensorFlow's reason in one line, and the node that raised it
    (tfport.golden.input_inference finds the inputs that reach that node)."""

    reason: str
    node: str | None


class SavedModelRunner(Runner):
    """Runs signatures of a loaded SavedModel; loading happens once per process and model."""

    def __init__(self, model: SavedModelInfo):
        tf = tensorflow()
        try:
            self._model = tf.saved_model.load(str(model.path), tags=model.tags or None)
        except Exception as exc:  # TF raises many types for a model it cannot load
            raise BadInputError(f"TensorFlow cannot load the SavedModel {model.path}: {exc}") from None
        self._tf = tf

    def run(self, signature: str, feed: Feed) -> dict[str, np.ndarray]:
        function = self._model.signatures[signature]
        outputs = function(**{name: self._tf.constant(value) for name, value in feed.items()})
        return {name: value.numpy() for name, value in outputs.items()}

    def signature(self, key: str):
        """The loaded signature function (for reading its graph)."""
        return self._model.signatures[key]

    def rejection(self, signature: str, feed: Feed) -> Rejection | None:
        """Why the model refuses to run on `feed`, or None. An empty output is a refusal too: a
        model that returns `[1, 0, 32]` for a waveform shorter than its receptive field has not run
        on it, and a golden set of empty outputs proves nothing."""
        try:
            outputs = self.run(signature, feed)
        except self._tf.errors.OpError as exc:
            node = re.search(r"\{\{node ([^}]+)\}\}", exc.message)
            return Rejection(_one_line(exc.message), node.group(1) if node else None)
        empty = empty_outputs(outputs)
        return Rejection(f"it returns {empty}", None) if empty else None

    def close(self) -> None:
        self._model = None


def record_golden(
    path: Path,
    model: SavedModelInfo,
    inputs: Mapping[str, Mapping[str, np.ndarray]],
    provenance: Mapping,
    runner: SavedModelRunner | None = None,
) -> GoldenSet:
    """Run the SavedModel on every sample and store inputs with its outputs, and its noise floor."""
    tf = tensorflow()
    runner = runner or SavedModelRunner(model)

    def answer(key: str) -> tuple[dict[str, np.ndarray], dict]:
        try:
            per_sample = [runner.run(key, feed) for feed in feeds(inputs[key])]
        except tf.errors.OpError as exc:
            raise BadInputError(
                f"the SavedModel rejects the golden inputs of signature {key!r} "
                f"({described_inputs(inputs[key])}): {_one_line(exc.message)} — pass --inputs FILE.npz with "
                "real samples, or fit the synthesized ones with --int-range NAME=LO,HI, --float-range NAME=LO,HI "
                "or --shape NAME=…"
            ) from None
        try:
            stacked = {name: np.stack([s[name] for s in per_sample]) for name in per_sample[0]}
        except ValueError:
            raise BadInputError(
                f"signature {key!r} returns outputs whose shape changes from sample to sample — "
                "pass --inputs with samples of one shape"
            ) from None
        empty = empty_outputs({name: value[0] for name, value in stacked.items() if not value.size})
        if empty:
            raise BadInputError(
                f"signature {key!r} returns {empty} for every golden sample ({described_inputs(inputs[key])}), so "
                "parity would compare nothing — pass --inputs FILE.npz with real samples, or a larger --shape NAME=…"
            )
        return stacked, _noise_floor(runner, key, inputs[key], stacked)

    answers = once_per_function(model.signatures, model.aliases, inputs, answer)
    outputs = {key: answers[key][0] for key in model.signatures}
    floors = {key: answers[key][1] for key in model.signatures}
    versions = {"tensorflow": tf.__version__, "numpy": np.__version__}
    return write_golden(path, model, inputs, outputs, {
        **provenance, "versions": versions, "aliases": model.aliases, "noise_floor_method": noise_floor.METHOD,
        "noise_floor": {key: {name: floor.to_json() for name, floor in found.items()} for key, found in floors.items()},
    })


def _noise_floor(runner: SavedModelRunner, key: str, inputs, outputs) -> dict:
    """The signature's noise floor; none when the nudged inputs are refused (a model that checks an
    exact range): its outputs are then judged by the fixed tolerances."""
    try:
        return noise_floor.measure(lambda feed: runner.run(key, feed), list(feeds(inputs)), outputs)
    except tensorflow().errors.OpError:
        return {}


def empty_outputs(outputs: Mapping[str, np.ndarray]) -> str:
    """"an empty NAME [1, 0, 32], …" for the outputs with no element, or ""."""
    empty = [f"{name} {list(np.shape(value))}" for name, value in outputs.items() if not np.size(value)]
    return f"an empty {', '.join(empty)}" if empty else ""


def _one_line(message: str) -> str:
    """TensorFlow's reason without its graph-location decorations."""
    text = re.sub(r"\{\{[^}]*\}\}|\[\[[^\]]*\]\]|\s*\[Op:[\w.]+\]", "", message)
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith((" ", "\t"))
             and not line.startswith(("Graph execution error", "Detected at node", "File "))]
    return lines[-1] if lines else message.strip()


def described_inputs(inputs: Mapping[str, np.ndarray]) -> str:
    """Each input with its dtype, sample shape and value range, as synthesized or given."""
    parts = []
    for name, array in inputs.items():
        values = f" in [{array.min():g}, {array.max():g}]" if array.size and array.dtype.kind in "iuf" else ""
        parts.append(f"{name}: {array.dtype} {list(array.shape[1:])}{values}")
    return "; ".join(parts)

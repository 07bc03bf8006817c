"""A copy of a SavedModel whose signatures take a batch of 1, for converters whose builtin ops
need a static batch where the model leaves it open — and running such a copy on a larger batch.

Keras' recurrent layers keep their steps in TensorLists of [batch, units]. With the batch open,
TFLite's builtin ops cannot hold them (only Select TF ops, Flex, can). Traced again with batch 1,
a legacy Keras (tf_keras) LSTM becomes TFLite's fused UNIDIRECTIONAL_SEQUENCE_LSTM, and Keras 3's
LSTM and GRU a builtin WHILE loop (their TensorLists keep the open batch as a constant, which
the converter's single-batch option then reads as 1).

The copy's signatures call the original's functions on inputs of static shape (nothing in the
graph is rewritten) and it holds the same variables, so it computes the same function, one
sample row at a time; `run_by_rows` runs a batch through such an artifact row by row.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from tfport.errors import RuntimeFailure
from tfport.savedmodel.tensorflow import tensorflow

FIXED_BATCH = 1


@contextlib.contextmanager
def fixed_batch_model(model_dir: Path, tags: Sequence[str], signature_keys: Sequence[str]
                      ) -> Iterator[tuple[Path, dict[str, list[str]]]]:
    """(the copy's directory, the inputs given a batch of 1, by signature). Raises whatever
    TensorFlow raises when the model cannot be traced again or saved."""
    tf = tensorflow()
    loaded = tf.saved_model.load(str(model_dir), tags=list(tags) or None)
    holder = tf.Module()
    holder.model = loaded  # saving the signatures saves the variables and tables they use
    signatures, fixed = {}, {}
    for key in signature_keys:
        function = loaded.signatures[key]
        specs, fixed[key] = {}, []
        for name, spec in function.structured_input_signature[1].items():
            dims = spec.shape.as_list() if spec.shape.rank is not None else None
            if dims and dims[0] is None:
                dims[0] = FIXED_BATCH
                fixed[key].append(name)
            specs[name] = tf.TensorSpec(dims, spec.dtype, name=name)
        signatures[key] = tf.function(lambda function=function, **inputs: function(**inputs)
                                      ).get_concrete_function(**specs)
    with tempfile.TemporaryDirectory(prefix="tfport-fixed-batch-") as scratch:
        copy = Path(scratch) / Path(model_dir).name
        tf.saved_model.save(holder, str(copy), signatures=signatures)
        yield copy, {key: names for key, names in fixed.items() if names}


def rows(feed: Mapping[str, np.ndarray], fixed: Sequence[str]) -> list[dict[str, np.ndarray]]:
    """One feed per row of a batch, for an artifact whose `fixed` inputs take a batch of 1; the
    feed itself when it already is one row."""
    batches = {len(feed[name]) for name in fixed if name in feed}
    if not batches or batches == {FIXED_BATCH}:
        return [dict(feed)]
    if len(batches) > 1:
        raise RuntimeFailure(f"inputs {', '.join(fixed)} have batches of {sorted(batches)} rows; they must agree")
    return [{name: value[i:i + 1] if name in fixed else value for name, value in feed.items()}
            for i in range(batches.pop())]


def run_by_rows(run: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]], feed: Mapping[str, np.ndarray],
                fixed: Sequence[str]) -> dict[str, np.ndarray]:
    """`run` on each row of `feed`, the answers joined on axis 0 as one batch-N call would give them."""
    answers = [run(row) for row in rows(feed, fixed)]
    if len(answers) == 1:
        return answers[0]
    scalars = [name for name, value in answers[0].items() if np.ndim(value) == 0]
    if scalars:
        raise RuntimeFailure(f"output(s) {', '.join(scalars)} have no batch axis to join rows on; the artifact "
                             "takes one row at a time: give golden inputs of batch 1")
    return {name: np.concatenate([answer[name] for answer in answers]) for name in answers[0]}

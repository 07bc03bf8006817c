"""Which graph tensor stands for which signature key, read off the loaded signature function.

Converters name an artifact's inputs and outputs after graph tensors (`x:0`, `Identity_1:0`) and
then guess the keys back: tensorflowjs matches dtype and shape, so several same-shaped inputs,
dict outputs and TF1 signatures keep tensor names; tf2onnx takes the TensorSpec's name, which
TensorFlow lower-cases (key `X`, tensor `x:0`). The signature function itself knows: its input
placeholders come in the order of its flattened structured input signature, its outputs in the
order of its flattened structured outputs — the same order in which it names the keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tfport.errors import ConversionError
from tfport.savedmodel.tensorflow import tensorflow


@dataclass(frozen=True)
class SignatureTensors:
    inputs: dict[str, str]  # graph tensor name -> signature input key
    outputs: dict[str, str]  # graph tensor name -> signature output key


def signature_tensors(model_dir: Path, tags: Iterable[str], key: str) -> SignatureTensors:
    """Tensor names of signature `key` as converters see them after `tf.saved_model.load`."""
    tf = tensorflow()
    return function_tensors(tf.saved_model.load(str(model_dir), tags=list(tags) or None).signatures[key], key)


def function_tensors(function, key: str) -> SignatureTensors:
    """Tensor names of a loaded signature function, by the signature's keys."""
    tensorflow()
    from tensorflow.python.util import nest  # tf.nest lacks the path-keeping flatten

    args, kwargs = function.structured_input_signature
    if args:  # signatures take keyword arguments only; a positional one would have no key
        raise ConversionError(f"signature {key!r} takes positional inputs, which have no names to keep")
    input_keys = [path for path, _ in nest.flatten_with_joined_string_paths(kwargs)]
    output_keys = [path for path, _ in nest.flatten_with_joined_string_paths(function.structured_outputs)]
    placeholders = [t.name for t in function.inputs[:len(input_keys)]]  # captured resources come after
    return SignatureTensors(inputs=dict(zip(placeholders, input_keys)),
                            outputs=dict(zip([t.name for t in function.outputs], output_keys)))

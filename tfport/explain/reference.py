"""The SavedModel's own intermediate tensors, op by op, for one signature.

The signature function is frozen (variables become constants, calls are inlined, loops stay
functional) into one graph whose op names are those converters keep — with the call ops' prefix
(`StatefulPartitionedCall/…`), which `op_key` drops on both sides. One session runs it per
sample and fetches only the tensors asked for, so no more than one sample's values are held.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfport.errors import BadInputError
from tfport.savedmodel.signature_tensors import function_tensors
from tfport.savedmodel.tensorflow import tensorflow

CALL_PREFIX = re.compile(r"^((Stateful)?PartitionedCall(_\d+)?/)+")
SKIPPED_TYPES = {"Const", "Placeholder", "NoOp", "Identity", "IdentityN", "Shape", "Pack", "StridedSlice"}


def op_key(name: str) -> str:
    """An op's name without its call prefix and output index: the same op in TF and in an artifact."""
    return CALL_PREFIX.sub("", re.sub(r":\d+$", "", name))


@dataclass(frozen=True)
class ReferenceOp:
    key: str  # op_key of its name
    name: str
    type: str
    inputs: tuple[str, ...]  # op_keys of the ops feeding it
    depth: int  # position in graph order
    shape: tuple[int | None, ...] | None  # of its first output, as the graph knows it

    def fits(self, shape: tuple[int, ...]) -> bool:
        """Whether an artifact's tensor of `shape` can be this op's output."""
        return self.shape is None or (len(self.shape) == len(shape) and
                                      all(d is None or d == s for d, s in zip(self.shape, shape)))


class FrozenSignature:
    """One signature of a SavedModel as a frozen graph: its float-valued ops in graph order."""

    def __init__(self, model_dir: Path, tags: Iterable[str], signature: str):
        tf = tensorflow()
        from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

        loaded = tf.saved_model.load(str(model_dir), tags=list(tags) or None)  # its variables must live to freeze
        function = loaded.signatures[signature]
        names = function_tensors(function, signature)
        try:
            frozen = convert_variables_to_constants_v2(function, lower_control_flow=False)
        except Exception as exc:  # TensorFlow raises many types; a table or resource it cannot fold
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            raise BadInputError(f"tfport explain cannot freeze signature {signature!r} of {model_dir} to run it op "
                                f"by op: {reason}") from None
        self._graph = tf.Graph()
        with self._graph.as_default():
            tf.import_graph_def(frozen.graph.as_graph_def(), name="")
        self._feeds = {key: name for name, key in names.inputs.items()}
        unfed = [op.name for op in self._graph.get_operations()
                 if op.type == "Placeholder" and f"{op.name}:0" not in self._feeds.values()]
        if unfed:  # a resource freezing cannot fold (a lookup table) stays a placeholder
            raise BadInputError(f"tfport explain cannot run signature {signature!r} of {model_dir} op by op: "
                                f"freezing it leaves {len(unfed)} resource(s) unfed (lookup tables or other state)")
        self.ops: dict[str, ReferenceOp] = {}
        self.edges: dict[str, tuple[str, ...]] = {}  # every op's inputs, skipped ops included
        self._tensors: dict[str, object] = {}
        for op in self._graph.get_operations():
            self.edges[op_key(op.name)] = tuple(op_key(t.name) for t in op.inputs)
            if op.type in SKIPPED_TYPES or not op.outputs or not op.outputs[0].dtype.is_floating:
                continue
            key, shape = op_key(op.name), op.outputs[0].shape
            self.ops[key] = ReferenceOp(key, op.name, op.type,
                                        tuple(op_key(t.name) for t in op.inputs if t.op.type != "Const"),
                                        len(self.ops), tuple(shape.as_list()) if shape.rank is not None else None)
            self._tensors[key] = op.outputs[0]
        self._session = tf.compat.v1.Session(graph=self._graph)

    def run(self, feed: Mapping[str, np.ndarray], keys: Iterable[str]) -> dict[str, np.ndarray]:
        """The values of the ops `keys` for one feed keyed by the signature's input keys."""
        keys = [key for key in keys if key in self._tensors]
        values = self._session.run([self._tensors[key] for key in keys],
                                   {self._feeds[name]: value for name, value in feed.items() if name in self._feeds})
        return dict(zip(keys, values))

    def close(self) -> None:
        self._session.close()

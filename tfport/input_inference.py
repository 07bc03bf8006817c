"""What values each input takes, read off the model's own graph, so synthesized inputs exercise it.

One `--int-range` for every integer input breaks a BERT (token types index an embedding of 2
rows, not 30522), and [0, 1) floats barely move a model that rescales 0–255 pixels. So, per
input of a signature, on the frozen signature function (variables become constants, calls are
inlined, every tensor has its static shape), an input is followed through ops that pass its
values on unchanged (casts, reshapes, slices) to the first op that says what it means:

- the indices of a Gather (an embedding lookup) or the indices of a OneHot: [0, rows);
- a float input multiplied by a constant ≤ 1/50 or divided by one ≥ 50 (Keras
  `Rescaling(1/255)`, `x / 127.5 - 1`): [0, 255];
- an input named like a mask (`attention_mask`, `padding_mask`, `*_mask`): {0, 1}, a prefix of
  ones per row, as padding masks are;
- an 8-bit unsigned input: [0, 255] (an image).

Each rule says why in `Inferred.why`; the golden manifest and the report show it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tfport.logfile import file_logger

PASS_THROUGH = {"Identity", "Cast", "Reshape", "ExpandDims", "Squeeze", "StridedSlice", "Slice", "Transpose",
                "Tile", "BroadcastTo"}
GATHERS = {"GatherV2", "Gather", "ResourceGather"}  # inputs: table, indices (, axis)
INDICES = 1
MASK_NAME = re.compile(r"(^|_)mask$|attention_mask|padding_mask", re.I)
RESCALE_MUL, RESCALE_DIV = 1 / 50, 50.0  # 1/255 and 1/127.5 are well inside; 0.5 or 2 are not a rescaling
MAX_DEPTH = 8


@dataclass(frozen=True)
class Inferred:
    """Values for one input: integers or floats in [low, high), or a 0/1 mask."""

    low: float
    high: float
    why: str
    mask: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "mask": self.mask, "why": self.why}


def infer_inputs(function: Any, tensors: dict[str, str], dtypes: dict[str, str]) -> dict[str, Inferred]:
    """Inferred values per input key of a loaded signature function. `tensors` maps placeholder
    names to input keys (tfport.signature_tensors), `dtypes` input keys to dtype names."""
    found = {key: Inferred(0, 1, f"named like a mask ({key!r})", mask=True)
             for key in tensors.values() if MASK_NAME.search(key)}
    found |= {key: Inferred(0, 256, "8-bit unsigned: pixel values 0–255")
              for key, dtype in dtypes.items() if dtype == "uint8" and key not in found}
    graph = _frozen_graph(function)
    if graph is None:
        return found
    for placeholder, key in tensors.items():
        try:
            start = graph.get_tensor_by_name(placeholder)
        except (KeyError, ValueError):
            continue
        meaning = _meaning(start, dtypes.get(key, ""))
        if meaning is not None and not (key in found and found[key].mask):  # what the graph shows wins over a guess
            found[key] = meaning
    return found


def _frozen_graph(function: Any):
    """The signature function with variables as constants and calls inlined, or None."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    try:
        return convert_variables_to_constants_v2(function).graph
    except Exception:  # tables, resources TensorFlow cannot freeze: no inference from the graph
        file_logger().info("input inference: cannot freeze the signature function", exc_info=True)
        return None


def _meaning(tensor: Any, dtype: str) -> Inferred | None:
    for op, operand in _consumers(tensor):
        if op.type in GATHERS and operand == INDICES:
            rows = _rows(op)
            if rows:
                return Inferred(0, rows, f"indexes a table of {rows} rows ({op.type} {op.name!r})")
        if op.type == "OneHot" and operand == 0:
            depth = _constant(op.inputs[1])
            if depth:
                return Inferred(0, int(depth), f"one-hot encoded with depth {int(depth)} ({op.name!r})")
        if dtype.startswith("float") and _rescales(op, operand):
            return Inferred(0, 255, f"rescaled by the model ({op.type} {op.name!r}, as Keras Rescaling(1/255)): "
                                    "0–255 values")
    return None


def _consumers(tensor: Any, depth: int = 0) -> Iterator[tuple[Any, int]]:
    """(op, which of its inputs) for every op reading `tensor`, through pass-through ops."""
    for op in tensor.consumers():
        operand = next(i for i, t in enumerate(op.inputs) if t is tensor)
        if op.type in PASS_THROUGH and operand == 0 and depth < MAX_DEPTH:
            yield from _consumers(op.outputs[0], depth + 1)
        else:
            yield op, operand


def _rescales(op, operand: int) -> bool:
    """x * c with 0 < c ≤ 1/50, or x / c with c ≥ 50: pixels brought from 0–255 to about [0, 1]."""
    if op.type == "Mul" and len(op.inputs) == 2:
        scale = _constant(op.inputs[1 - operand])
        return scale is not None and 0 < scale <= RESCALE_MUL
    if op.type in ("RealDiv", "Div") and operand == 0:
        scale = _constant(op.inputs[1])
        return scale is not None and scale >= RESCALE_DIV
    return False


def _rows(op) -> int | None:
    """Rows of the gathered table along the gather axis, when static."""
    axis = int(_constant(op.inputs[2]) or 0) if op.type == "GatherV2" else 0
    shape = op.inputs[0].shape
    if shape.rank is None or not shape.rank:
        return None
    return shape[axis] or None


def _constant(tensor: Any) -> float | None:
    """The value of a scalar (or all-equal) constant tensor, else None."""
    from tensorflow.python.framework import tensor_util

    value = tensor_util.constant_value(tensor)
    if value is None or value.size == 0 or (value.size > 1 and not (value == value.flat[0]).all()):
        return None
    return float(value.flat[0])

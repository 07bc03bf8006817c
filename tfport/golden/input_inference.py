"""What values each input takes, read off the model's own graph, so synthesized inputs exercise it.

One `--int-range` for every integer input breaks a BERT (token types index an embedding of 2
rows, not 30522), and [0, 1) floats barely move a model that rescales 0–255 pixels. So, per
input of a signature, on the frozen signature function (variables become constants, calls are
inlined, every tensor has its static shape), an input is followed through ops that pass its
values on unchanged (casts, reshapes, slices) to the first op that says what it means:

- the indices of a Gather (an embedding lookup) or the indices of a OneHot: [0, rows);
- a float input multiplied by a constant ≤ 1/50 or divided by one ≥ 50 (Keras
  `Rescaling(1/255)`, `x / 127.5 - 1`): [0, 255];
- a float input that has a constant mean subtracted and is then divided by a constant std (or
  multiplied by 1/std: Keras `Normalization`): uniform in mean ± 2·std, per feature. The layer was
  fitted to data of that mean and std, so the model sees what it was trained on: ±2·std holds 95%
  of normal data, and the normalized values spread by 1.15 std, about the unit spread the layer
  makes — where [0, 1) floats would all sit at one point far from the data;
- an input named like a mask (`attention_mask`, `padding_mask`, `*_mask`): {0, 1}, a prefix of
  ones per row, as padding masks are;
- an 8-bit unsigned input: [0, 255] (an image, when it has 3 or 4 dims and 1, 3 or 4 channels).

Each rule says why in `Inferred.why`; the golden manifest and the report show it.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfport.logfile import file_logger
from tfport.savedmodel.reader import TensorSpec

PASS_THROUGH = {"Identity", "Cast", "Reshape", "ExpandDims", "Squeeze", "StridedSlice", "Slice", "Transpose",
                "Tile", "BroadcastTo"}  # operand 0 carries the values on
SELECTS = {"Select", "SelectV2"}  # operands 1 and 2 carry values on (0 is the condition)
# An integer added to something (Keras 3's `ops.take` adds the table size to negative ids, then
# selects): still the same ids, offset. A float addition changes what the values mean, so not those.
INTEGER_ADDITIONS = {"AddV2", "Add"}
GATHERS = {"GatherV2", "Gather", "ResourceGather"}  # inputs: table, indices (, axis)
INDICES = 1
MASK_NAME = re.compile(r"(^|_)mask$|attention_mask|padding_mask", re.I)
RESCALE_MUL, RESCALE_DIV = 1 / 50, 50.0  # 1/255 and 1/127.5 are well inside; 0.5 or 2 are not a rescaling
MAX_DEPTH = 8
IMAGE_CHANNELS = (1, 3, 4)
NORMALIZED_SPREAD = 2.0  # mean ± 2·std (module docstring)


@dataclass(frozen=True)
class Inferred:
    """Values for one input: integers or floats in [low, high), or a 0/1 mask. low and high are
    arrays that broadcast against the input's shape when each feature has its own range."""

    low: float | np.ndarray
    high: float | np.ndarray
    why: str
    mask: bool = False

    def describe(self) -> str:
        """The values in a few words, for the manifest and the report."""
        if self.mask:
            return "0/1 padding mask"
        if np.size(self.low) == 1:
            return f"[{float(np.min(self.low)):g}, {float(np.max(self.high)):g})"
        return f"{np.size(self.low)} per-feature ranges within [{np.min(self.low):g}, {np.max(self.high):g})"


def infer_inputs(function: Any, tensors: dict[str, str], specs: dict[str, TensorSpec]) -> dict[str, Inferred]:
    """Inferred values per input key of a loaded signature function. `tensors` maps placeholder
    names to input keys (tfport.savedmodel.signature_tensors), `specs` input keys to their dtype and shape."""
    dtypes = {key: spec.dtype for key, spec in specs.items()}
    found = {key: Inferred(0, 1, f"named like a mask ({key!r})", mask=True)
             for key in tensors.values() if MASK_NAME.search(key)}
    found |= {key: Inferred(0, 256, _eight_bit(spec.shape))
              for key, spec in specs.items() if spec.dtype == "uint8" and key not in found}
    graph = frozen_graph(function)
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


def inputs_reaching(function: Any, tensors: dict[str, str], node: str) -> list[str]:
    """Input keys whose values reach the op named `node` unchanged (through casts, reshapes…): the
    inputs to blame when that op rejects them. Names in the frozen graph carry the prefix of the
    call they were inlined from, so a name ending in `/node` matches too."""
    graph = frozen_graph(function)
    if graph is None:
        return []
    found = []
    for placeholder, key in tensors.items():
        try:
            start = graph.get_tensor_by_name(placeholder)
        except (KeyError, ValueError):
            continue
        if any(op.name == node or op.name.endswith(f"/{node}") for op, _ in consumers(start)):
            found.append(key)
    return found


def _eight_bit(shape: tuple[int | None, ...] | None) -> str:
    """Why a uint8 input gets 0–255: an image by its shape (HWC or NHWC with 1, 3 or 4 channels),
    else simply every value its dtype holds."""
    if shape is not None and len(shape) in (3, 4) and shape[-1] in IMAGE_CHANNELS:
        return f"8-bit unsigned image ({len(shape)} dims, {shape[-1]} channels): pixel values 0–255"
    return "8-bit unsigned: every value 0–255"


_FROZEN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def frozen_graph(function: Any):
    """The signature function with variables as constants and calls inlined, or None; frozen once
    per function (input inference and branch coverage read the same graph). Control flow stays as
    If/Case/While ops: lowered to Switch/Merge it would no longer say which branch is which."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    if function not in _FROZEN:
        try:
            _FROZEN[function] = convert_variables_to_constants_v2(function, lower_control_flow=False).graph
        except Exception:  # tables, resources TensorFlow cannot freeze: nothing is read from the graph
            file_logger().info("cannot freeze the signature function", exc_info=True)
            _FROZEN[function] = None
    return _FROZEN[function]


def _meaning(tensor: Any, dtype: str) -> Inferred | None:
    for op, operand in consumers(tensor):
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
        if dtype.startswith("float") and op.type == "Sub" and operand == 0:
            normalized = _normalization(op, tensor.shape)
            if normalized is not None:
                return normalized
    return None


def _normalization(sub, shape) -> Inferred | None:
    """mean ± 2·std when `x - mean` is then divided by std or multiplied by 1/std, both constant."""
    mean = _folded(sub.inputs[1])
    for op, operand in consumers(sub.outputs[0]):
        if op.type in ("RealDiv", "Div") and operand == 0:
            std = _folded(op.inputs[1])
        elif op.type == "Mul":
            scale = _folded(op.inputs[1 - operand])
            std = None if scale is None or (scale == 0).any() else 1 / scale
        else:
            continue
        if mean is None or std is None or not (std > 0).all() or not _broadcasts(np.broadcast(mean, std).shape, shape):
            return None
        low, high = mean - NORMALIZED_SPREAD * std, mean + NORMALIZED_SPREAD * std
        return Inferred(low.astype(np.float64), high.astype(np.float64),
                        f"normalized by the model (Sub {sub.name!r} then {op.type} {op.name!r}, as Keras "
                        f"Normalization): mean ± 2·std of the data it was fitted to")
    return None


def _broadcasts(values: tuple[int, ...], shape) -> bool:
    """Whether per-feature values of shape `values` fit every sample of an input of static `shape`."""
    dims = shape.as_list() if shape.rank is not None else None
    if dims is None or len(values) > len(dims):
        return False
    return all(v == 1 or v == d for v, d in zip(reversed(values), reversed(dims)))


def consumers(tensor: Any, depth: int = 0) -> Iterator[tuple[Any, int]]:
    """(op, which of its inputs) for every op reading `tensor`, through ops that pass its values on
    (casts, reshapes, slices; the value operands of a select; integer additions)."""
    for op in tensor.consumers():
        operand = next(i for i, t in enumerate(op.inputs) if t is tensor)
        passes = (op.type in PASS_THROUGH and operand == 0) or (op.type in SELECTS and operand in (1, 2)) or (
            op.type in INTEGER_ADDITIONS and tensor.dtype.is_integer)
        if passes and depth < MAX_DEPTH:
            yield from consumers(op.outputs[0], depth + 1)
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


def _folded(tensor: Any) -> np.ndarray | None:
    """The value of a float tensor computed from constants alone (Keras Normalization divides by
    maximum(sqrt(variance), epsilon)), else None. Stateful ops and inputs make it not a constant."""
    from tensorflow.python.framework import tensor_util

    value = tensor_util.constant_value(tensor)
    if value is None:
        pending, seen = [tensor.op], set()
        while pending:
            op = pending.pop()
            if op.name in seen:
                continue
            if op.type == "Placeholder" or op.op_def.is_stateful:
                return None
            seen.add(op.name)
            pending += [t.op for t in op.inputs] + list(op.control_inputs)
        from tfport.savedmodel.tensorflow import tensorflow

        with tensorflow().compat.v1.Session(graph=tensor.graph) as session:
            value = session.run(tensor)
    value = np.asarray(value)
    return value if value.size and value.dtype.kind == "f" else None

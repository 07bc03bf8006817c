"""Ops that send a whole model to Flex (or that TF.js, ONNX or OpenVINO lack), as ops every target has.

One op is enough to make a TFLite file need the Flex delegate, and these are common:
- `StridedSlice` with `new_axis_mask` (`mask[:, None, None, :]`, every keras-hub and Hugging Face
  attention mask): TFLite's builtin STRIDED_SLICE takes no new axes where dims are unknown. It
  becomes the same slice without the new axes, then one ExpandDims per new axis.
- `Roll` (Swin's shifted windows): no TFLite builtin, no TF.js kernel. It becomes a Gather per
  rolled axis of the indices `(i - shift) mod n`.
- `MatrixSetDiagV3` with k = 0 (`tf.linalg.set_diag`, CLIP's causal mask): no TFLite builtin, no
  TF.js or OpenVINO conversion, an invalid Loop from tf2onnx. It becomes a Select between the
  matrix and its diagonal on `row == column`.
- `MatrixBandPart` (`tf.linalg.band_part`, the same masks): TF.js computes it wrongly with an
  unbounded side (-1; measured: SNR 1 dB on CLIP's mask). It becomes a Select on `column - row`.

Each replacement is written below as TensorFlow code, traced once per node into a function of
the SavedModel's library; the node becomes a call of it (PartitionedCall), which every converter
inlines. The node keeps its name, so control dependencies hold, and readers of its output read
the call's (`output`; MatrixBandPart's was `band`). A node whose shift, axis, k, band or slice spec is not
a constant is left as it is.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Callable

import numpy as np

from tfport.savedmodel.rewrites.graph_edit import constant_value, rename_output
from tfport.savedmodel.tensorflow import tensorflow


def rewrite_builtin_forms(saved_model) -> collections.Counter:
    """Rewrite every op listed above in a parsed SavedModel proto; the count per op."""
    counts: collections.Counter = collections.Counter()
    for meta_graph in saved_model.meta_graphs:
        library = meta_graph.graph_def.library
        taken = {f.signature.name for f in library.function}
        for nodes, function in [(meta_graph.graph_def.node, None), *((f.node_def, f) for f in list(library.function))]:
            by_name = {node.name: node for node in nodes}
            for node in [n for n in nodes if n.op in FORMS]:
                found = FORMS[node.op](node, lambda tensor: constant_value(by_name, tensor))
                if found is not None:
                    op = node.op
                    name = next(f"tfport_{op}_{i}" for i in itertools.count() if f"tfport_{op}_{i}" not in taken)
                    taken.add(name)
                    _call_instead(node, *found, library, name)
                    rename_output(nodes, function, node.name, _output_arg(op), "output")  # PartitionedCall's
                    counts[op] += 1
    return counts


def _output_arg(op: str) -> str:
    from tensorflow.python.framework import op_def_registry

    return op_def_registry.get(op).output_arg[0].name


def _call_instead(node, form: Callable, inputs: list[str], library, name: str) -> None:
    """Make `node` a PartitionedCall of `form`, traced on `inputs` (the node's type T, any shape)."""
    tf = tensorflow()
    dtype = tf.as_dtype(node.attr["T"].type)
    traced = tf.function(form, autograph=False).get_concrete_function(*[tf.TensorSpec(None, dtype)] * len(inputs))
    definition = library.function.add()
    definition.CopyFrom(traced.function_def)
    definition.signature.name = name
    kept = {key: value for key, value in node.attr.items() if key.startswith("_")}  # _output_shapes, _class
    control = [i for i in node.input if i.startswith("^")]
    node.op = "PartitionedCall"
    node.input[:] = [*inputs, *control]
    node.ClearField("attr")
    for key, value in kept.items():
        node.attr[key].CopyFrom(value)
    node.attr["Tin"].list.type.extend([dtype.as_datatype_enum] * len(inputs))
    node.attr["Tout"].list.type.append(dtype.as_datatype_enum)
    node.attr["f"].func.name = name
    for attr in ("config", "config_proto", "executor_type"):  # as TensorFlow writes a call: importers expect them
        node.attr[attr].s = b""


def _strided_slice_form(node, constant) -> tuple[Callable, list[str]] | None:
    """A slice with new axes: the slice without them, then ExpandDims at each new axis's place."""
    new_axes = _mask(node, "new_axis_mask")
    spec = [constant(name) for name in node.input[1:4]]
    if not new_axes or any(value is None for value in spec):
        return None
    begin, end, strides = (list(np.ravel(value)) for value in spec)
    masks = {name: _mask(node, name) for name in ("begin_mask", "end_mask", "ellipsis_mask", "shrink_axis_mask")}
    kept = [i for i in range(len(begin)) if not new_axes >> i & 1]
    ellipsis = next((i for i in range(len(begin)) if masks["ellipsis_mask"] >> i & 1), None)
    places = []  # where each new axis lands in the output: from the start before an ellipsis, from the end after
    for i in range(len(begin)):
        if new_axes >> i & 1:
            if ellipsis is None or i < ellipsis:
                places.append(sum(1 for j in range(i) if not masks["shrink_axis_mask"] >> j & 1))
            else:
                places.append(-1 - sum(1 for j in range(i + 1, len(begin)) if not masks["shrink_axis_mask"] >> j & 1))
    rebuilt = {name: sum(1 << n for n, i in enumerate(kept) if mask >> i & 1) for name, mask in masks.items()}
    if not kept:  # only new axes: the slice itself keeps everything
        kept_spec, rebuilt = ([0], [0], [1]), {**rebuilt, "ellipsis_mask": 1}
    else:
        kept_spec = tuple([values[i] for i in kept] for values in (begin, end, strides))
    index_dtype = np.asarray(spec[0]).dtype
    forward = sorted(p for p in places if p >= 0)
    backward = sorted((p for p in places if p < 0), reverse=True)

    def form(x):
        tf = tensorflow()
        value = tf.strided_slice(x, *(np.array(s, index_dtype) for s in kept_spec), **rebuilt)
        for place in [*forward, *backward]:
            value = tf.expand_dims(value, place)
        return value

    return form, [node.input[0]]


def _mask(node, name: str) -> int:
    """A mask attribute; absent means 0 (savers strip default values). Reading `node.attr[name]`
    would add an empty one, which importers reject."""
    return node.attr[name].i if name in node.attr else 0


def _roll_form(node, constant) -> tuple[Callable, list[str]] | None:
    shift, axis = constant(node.input[1]), constant(node.input[2])
    if shift is None or axis is None:
        return None
    pairs = list(zip(np.ravel(shift).tolist(), np.ravel(axis).tolist()))

    def form(x):
        tf = tensorflow()
        for by, along in pairs:
            size = tf.shape(x)[along]
            x = tf.gather(x, tf.math.floormod(tf.range(size) - by, size), axis=along)
        return x

    return form, [node.input[0]]


def _set_diag_form(node, constant) -> tuple[Callable, list[str]] | None:
    """set_diag(m, d): m where row != column, d[row] on the diagonal (d has min(rows, columns) values)."""
    k = constant(node.input[2])
    if k is None or np.any(np.asarray(k) != 0):
        return None

    def form(x, diagonal):
        tf = tensorflow()
        rows, columns = tf.shape(x)[-2], tf.shape(x)[-1]  # no slice with new axes here: that is what goes
        on_diagonal = tf.equal(tf.expand_dims(tf.range(rows), 1), tf.expand_dims(tf.range(columns), 0))
        per_row = tf.gather(diagonal, tf.minimum(tf.range(rows), tf.shape(diagonal)[-1] - 1), axis=-1)
        # Shapes made equal first: TF.js's Select does not broadcast its operands (measured: wrong values).
        shape = tf.shape(x)
        return tf.where(tf.broadcast_to(on_diagonal, shape), tf.broadcast_to(tf.expand_dims(per_row, -1), shape), x)

    return form, [node.input[0], node.input[1]]


def _band_part_form(node, constant) -> tuple[Callable, list[str]] | None:
    """band_part(m, lower, upper): m where column - row lies in [-lower, upper] (negative: no bound), else 0."""
    lower, upper = constant(node.input[1]), constant(node.input[2])
    if lower is None or upper is None:
        return None
    lower, upper = int(lower), int(upper)

    def form(x):
        tf = tensorflow()
        shape = tf.shape(x)
        offset = tf.expand_dims(tf.range(shape[-1]), 0) - tf.expand_dims(tf.range(shape[-2]), 1)  # column - row
        keep = tf.ones_like(offset, tf.bool)
        if lower >= 0:
            keep = tf.logical_and(keep, offset >= -lower)
        if upper >= 0:
            keep = tf.logical_and(keep, offset <= upper)
        return tf.where(tf.broadcast_to(keep, shape), x, tf.zeros_like(x))

    return form, [node.input[0]]


FORMS = {"StridedSlice": _strided_slice_form, "Roll": _roll_form, "MatrixSetDiagV3": _set_diag_form,
         "MatrixBandPart": _band_part_form}

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
- `CombinedNonMaxSuppression` (detector post-processing): no TFLite builtin, no TF.js kernel, no
  OpenVINO conversion. It becomes one NonMaxSuppressionV5 (which all have) over every image and
  class, with ranks within each class and image for the limits, scattered into the padded outputs.
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
from typing import NamedTuple

import numpy as np

from tfport.savedmodel.rewrites.graph_edit import constant_value
from tfport.savedmodel.tensorflow import tensorflow


class Form(NamedTuple):
    """What replaces a node: TensorFlow code on some of the node's inputs, of the given dtypes (the
    node's T where None); everything else the code needs is read from constants when it is made."""

    compute: Callable
    inputs: list[str]
    dtypes: list[int] | None = None


class Scope(NamedTuple):
    """The graph or function body a node is in, as a form reads it."""

    nodes: dict  # by name

    def constant(self, tensor: str) -> np.ndarray | None:
        return constant_value(self.nodes, tensor)

    def producer(self, tensor: str):
        return self.nodes.get(tensor.lstrip("^").split(":")[0])


def rewrite_builtin_forms(saved_model, forms: dict | None = None) -> collections.Counter:
    """Rewrite every op of `forms` (default: those listed above) in a parsed SavedModel proto; the
    count per op."""
    forms = FORMS if forms is None else forms
    counts: collections.Counter = collections.Counter()
    for meta_graph in saved_model.meta_graphs:
        library = meta_graph.graph_def.library
        taken = {f.signature.name for f in library.function}
        for nodes, function in [(meta_graph.graph_def.node, None), *((f.node_def, f) for f in list(library.function))]:
            scope = Scope({node.name: node for node in nodes})
            for node in [n for n in nodes if n.op in forms]:
                form = forms[node.op](node, scope)
                if form is not None:
                    op = node.op
                    name = next(f"tfport_{op}_{i}" for i in itertools.count() if f"tfport_{op}_{i}" not in taken)
                    taken.add(name)
                    _call_instead(node, form, library, name)
                    _read_call_outputs(nodes, function, node.name, op)
                    counts[op] += 1
    return counts


def _call_instead(node, form: Form, library, name: str) -> None:
    """Make `node` a PartitionedCall of `form`, traced on its inputs (any shape)."""
    tf = tensorflow()
    dtypes = form.dtypes or [node.attr["T"].type] * len(form.inputs)
    traced = tf.function(form.compute, autograph=False).get_concrete_function(
        *[tf.TensorSpec(None, tf.as_dtype(dtype)) for dtype in dtypes])
    definition = library.function.add()
    definition.CopyFrom(traced.function_def)
    definition.signature.name = name
    kept = {key: value for key, value in node.attr.items() if key.startswith("_")}  # _output_shapes, _class
    control = [i for i in node.input if i.startswith("^")]
    node.op = "PartitionedCall"
    node.input[:] = [*form.inputs, *control]
    node.ClearField("attr")
    for key, value in kept.items():
        node.attr[key].CopyFrom(value)
    node.attr["Tin"].list.type.extend(arg.type for arg in definition.signature.input_arg)
    node.attr["Tout"].list.type.extend(arg.type for arg in definition.signature.output_arg)
    node.attr["f"].func.name = name
    for attr in ("config", "config_proto", "executor_type"):  # as TensorFlow writes a call: importers expect them
        node.attr[attr].s = b""


def _read_call_outputs(nodes, function, node_name: str, op: str) -> None:
    """In a function, readers of the op's outputs (`node:band:0`, `node:nmsed_scores:0`) read the
    call's (`node:output:0`, `node:output:1`); a graph names outputs by index, which holds."""
    from tensorflow.python.framework import op_def_registry

    if function is None:
        return
    renamed = {f"{node_name}:{arg.name}:0": f"{node_name}:output:{index}"
               for index, arg in enumerate(op_def_registry.get(op).output_arg)}
    for reader in nodes:
        reader.input[:] = [renamed.get(i, i) for i in reader.input]
    for key, value in function.ret.items():
        function.ret[key] = renamed.get(value, value)


def _strided_slice_form(node, scope: Scope) -> Form | None:
    """A slice with new axes: the slice without them, then ExpandDims at each new axis's place."""
    new_axes = _mask(node, "new_axis_mask")
    spec = [scope.constant(name) for name in node.input[1:4]]
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

    return Form(form, [node.input[0]])


def _mask(node, name: str) -> int:
    """A mask attribute; absent means 0 (savers strip default values). Reading `node.attr[name]`
    would add an empty one, which importers reject."""
    return node.attr[name].i if name in node.attr else 0


def _roll_form(node, scope: Scope) -> Form | None:
    shift, axis = scope.constant(node.input[1]), scope.constant(node.input[2])
    if shift is None or axis is None:
        return None
    pairs = list(zip(np.ravel(shift).tolist(), np.ravel(axis).tolist()))

    def form(x):
        tf = tensorflow()
        for by, along in pairs:
            size = tf.shape(x)[along]
            x = tf.gather(x, tf.math.floormod(tf.range(size) - by, size), axis=along)
        return x

    return Form(form, [node.input[0]])


def _set_diag_form(node, scope: Scope) -> Form | None:
    """set_diag(m, d): m where row != column, d[row] on the diagonal (d has min(rows, columns) values)."""
    k = scope.constant(node.input[2])
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

    return Form(form, [node.input[0], node.input[1]])


def _band_part_form(node, scope: Scope) -> Form | None:
    """band_part(m, lower, upper): m where column - row lies in [-lower, upper] (negative: no bound), else 0."""
    lower, upper = scope.constant(node.input[1]), scope.constant(node.input[2])
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

    return Form(form, [node.input[0]])


def _combined_nms_form(node, scope: Scope) -> Form | None:
    """CombinedNonMaxSuppression as one NonMaxSuppressionV5 over every (image, class) at once.

    Each (image, class) group's boxes are moved by group × (coordinate span + 1), so boxes of two
    groups never overlap and one greedy NMS equals an NMS per group; its picks come in score
    order, so a group's first `per_class` picks and then an image's first `total` are what the
    op keeps. Scattered into [batch, total] and zero-padded, as the op pads."""
    per_class, total, iou, score = (scope.constant(name) for name in node.input[2:6])
    pad_per_class = node.attr["pad_per_class"].b if "pad_per_class" in node.attr else False
    clip = node.attr["clip_boxes"].b if "clip_boxes" in node.attr else True
    if any(value is None for value in (per_class, total, iou, score)) or pad_per_class:
        return None
    per_class, total, iou, score = int(per_class), int(total), float(iou), float(score)

    def form(boxes, scores):
        tf = tensorflow()
        shape = tf.shape(scores)
        batch, count, classes = shape[0], shape[1], shape[2]
        boxes = tf.broadcast_to(boxes, tf.stack([batch, count, classes, 4]))  # boxes shared by classes, or per class
        flat_boxes = tf.reshape(tf.transpose(boxes, [0, 2, 1, 3]), [-1, 4])  # ordered by image, class, box
        flat_scores = tf.reshape(tf.transpose(scores, [0, 2, 1]), [-1])
        group = tf.range(tf.size(flat_scores)) // count  # image × classes + class
        span = tf.reduce_max(flat_boxes) - tf.reduce_min(flat_boxes) + 1.0
        apart = flat_boxes + tf.expand_dims(tf.cast(group, boxes.dtype) * span, 1)
        picked = tf.raw_ops.NonMaxSuppressionV5(boxes=apart, scores=flat_scores, max_output_size=tf.size(flat_scores),
                                                iou_threshold=iou, score_threshold=score, soft_nms_sigma=0.0,
                                                pad_to_max_output_size=False).selected_indices
        picked = tf.boolean_mask(picked, _rank_within(tf.gather(group, picked)) < per_class)
        image = tf.gather(group, picked) // classes
        within_image = _rank_within(image)
        kept = within_image < total
        picked, image, within_image = (tf.boolean_mask(t, kept) for t in (picked, image, within_image))
        where = tf.stack([image, within_image], axis=1)
        chosen = tf.gather(flat_boxes, picked)
        out_boxes = tf.scatter_nd(where, tf.clip_by_value(chosen, 0.0, 1.0) if clip else chosen,
                                  tf.stack([batch, total, 4]))
        out_scores = tf.scatter_nd(where, tf.gather(flat_scores, picked), tf.stack([batch, total]))
        out_classes = tf.scatter_nd(where, tf.cast(tf.gather(group, picked) % classes, scores.dtype),
                                    tf.stack([batch, total]))
        valid = tf.reduce_sum(tf.scatter_nd(where, tf.ones_like(image), tf.stack([batch, total])), axis=1)
        return out_boxes, out_scores, out_classes, valid

    return Form(form, node.input[:2], [1, 1])  # float32, as the op takes


def _rank_within(groups):
    """Each element's position among the earlier elements of its group (0 for a group's first): a
    sort by (group, position), then the distance to the group's first element. No one_hot (its
    depth must be a constant for tf2onnx and at least 2 for TF.js) and no pairwise matrix."""
    tf = tensorflow()
    size = tf.size(groups)
    order = tf.math.top_k(-(groups * size + tf.range(size)), k=size).indices  # unique keys, ascending
    grouped = tf.gather(groups, order)
    starts = tf.not_equal(grouped, tf.concat([[-1], grouped[:-1]], 0))
    first = tf.gather(tf.cast(tf.reshape(tf.where(starts), [-1]), tf.int32), tf.cumsum(tf.cast(starts, tf.int32)) - 1)
    return tf.scatter_nd(tf.expand_dims(order, 1), tf.range(size) - first, tf.expand_dims(size, 0))


def _einsum_form(node, scope: Scope) -> Form | None:
    """A two-operand einsum without ellipsis or repeated letters (every Keras EinsumDense and
    MultiHeadAttention) as Transpose, Reshape and one batched MatMul — what TensorFlow itself
    computes it with: letters in both operands and the output are the batch, in both operands only
    are contracted, in one operand and the output are its free dims, in one operand only are summed."""
    equation = node.attr["equation"].s.decode() if "equation" in node.attr else ""
    operands, _, out = equation.replace(" ", "").partition("->")
    sides = operands.split(",")
    if len(sides) != 2 or "." in equation or not out.isalpha() or any(
            len(set(letters)) != len(letters) or not letters.isalpha() for letters in (*sides, out)):
        return None
    lhs, rhs = sides
    batch = [c for c in lhs if c in rhs and c in out]
    contracted = [c for c in lhs if c in rhs and c not in out]
    left, right = [c for c in lhs if c not in rhs and c in out], [c for c in rhs if c not in lhs and c in out]
    if set(out) != {*batch, *left, *right}:
        return None
    order = [*batch, *left, *right]

    def arrange(x, letters: str, groups: list[list[str]]):
        tf = tensorflow()
        summed = [i for i, c in enumerate(letters) if not any(c in g for g in groups)]
        if summed:
            x = tf.reduce_sum(x, axis=summed)
            letters = "".join(c for c in letters if any(c in g for g in groups))
        x = tf.transpose(x, [letters.index(c) for g in groups for c in g])
        dims = tf.shape(x)
        sizes, start = [], 0
        for g in groups:  # each group's dims, and their product: 1 for none (TF.js's Prod of nothing is garbage)
            sizes.append([dims[start + i] for i in range(len(g))])
            start += len(g)
        merged = [tf.reduce_prod(tf.stack(d)) if len(d) > 1 else d[0] if d else 1 for d in sizes]
        return tf.reshape(x, tf.stack(merged)), sizes

    def form(a, b):
        tf = tensorflow()
        a3, (batch_dims, left_dims, _) = arrange(a, lhs, [batch, left, contracted])
        b3, (_, _, right_dims) = arrange(b, rhs, [batch, contracted, right])
        product = tf.reshape(tf.matmul(a3, b3), tf.stack([*batch_dims, *left_dims, *right_dims]))
        return tf.transpose(product, [order.index(c) for c in out])

    return Form(form, [i for i in node.input if not i.startswith("^")])


# Only where a target lacks the op (TF.js's wasm backend has no Einsum kernel); elsewhere it stays.
EINSUM_FORMS = {"Einsum": _einsum_form}
FORMS = {"StridedSlice": _strided_slice_form, "Roll": _roll_form, "MatrixSetDiagV3": _set_diag_form,
         "MatrixBandPart": _band_part_form, "CombinedNonMaxSuppression": _combined_nms_form}

"""Grouped Conv2D (Keras 3 `Conv2D(groups > 1)`) as ops TF.js has: TF.js's Conv2D has no groups.

TensorFlow's Conv2D with a filter [kh, kw, cin / groups, cout] convolves input channel group g
into output channels [g·cout/groups, (g+1)·cout/groups). So:
- groups == cin (depthwise, as in ConvNeXt): DepthwiseConv2dNative, the filter reshaped from
  [kh, kw, 1, cin·m] to [kh, kw, cin, m]. Depthwise output channel c·m + j is input channel c
  through its j-th filter, which is exactly the row-major order of that reshape.
- otherwise: Split the input channels and the filter's output channels into `groups`, one Conv2D
  per group, ConcatV2 of the results.

The group count needs the input's channel count, which a Conv2D node does not carry. It comes
from TensorFlow's own shape inference: each function holding a Conv2D is imported
(function_def_to_graph) into a graph holding the model's function library, fed with the
argument shapes the exporter recorded (`_input_shapes`) and the variables' shapes (the resource
arguments' `handle_data`). That finds the shape whichever node, call or argument produces the
input — Keras passes it into its jit_compile function as an argument — whereas `_output_shapes`
attributes must be matched to the producer's output index by hand and may be missing, and the
checkpoint knows the filter's shape, not the input's. Importing builds graphs only; nothing runs.
A Conv2D whose channel count stays unknown is left as it is.
"""

from __future__ import annotations

import numpy as np

from tfport.savedmodel.rewrites.graph_edit import add_constant, output_name
from tfport.savedmodel.tensorflow import tensorflow

DT_INT32 = 3  # tensorflow/core/framework/types.proto
CONV_ATTRS = ("T", "strides", "padding", "explicit_paddings", "data_format", "dilations")  # shared with depthwise


def rewrite_grouped_convolutions(saved_model) -> tuple[int, int]:
    """Rewrite every grouped Conv2D in the functions of a parsed SavedModel proto; return
    (as depthwise, as split groups)."""
    depthwise = split = 0
    for meta_graph in saved_model.meta_graphs:
        library = meta_graph.graph_def.library
        holders = [f for f in library.function if any(n.op == "Conv2D" for n in f.node_def)]
        shapes = _conv_input_shapes(library, holders) if holders else {}
        for function in holders:
            for node in [n for n in function.node_def if n.op == "Conv2D"]:
                data_shape, filter_shape = shapes.get((function.signature.name, node.name), (None, None))
                axis = 1 if "data_format" in node.attr and node.attr["data_format"].s == b"NCHW" else 3  # NHWC default
                groups = _groups(data_shape, filter_shape, axis)
                if groups == 1:
                    continue
                if filter_shape[2] == 1:
                    _as_depthwise(function, node, filter_shape, data_shape[axis])
                    depthwise += 1
                else:
                    _as_split_groups(function, node, groups, axis)
                    split += 1
    return depthwise, split


def _conv_input_shapes(library, holders) -> dict[tuple[str, str], tuple[list | None, list | None]]:
    """(function, Conv2D node) -> (input shape, filter shape) as TensorFlow infers them statically."""
    tf = tensorflow()
    from tensorflow.core.framework import graph_pb2
    from tensorflow.python.framework.function_def_to_graph import function_def_to_graph

    shapes = {}
    with tf.Graph().as_default():  # calls inside a function resolve against this graph's library
        try:
            tf.graph_util.import_graph_def(graph_pb2.GraphDef(library=library), name="")
        except (ValueError, tf.errors.OpError):  # an op this TensorFlow does not know: no shapes
            return shapes
        for function in holders:
            try:
                graph = function_def_to_graph(function)
            except (ValueError, TypeError, tf.errors.OpError):  # an op this TensorFlow does not know
                continue
            for op in graph.get_operations():
                if op.type == "Conv2D":
                    shapes[function.signature.name, op.name] = tuple(t.shape.as_list() if t.shape.rank else None
                                                                     for t in op.inputs[:2])
    return shapes


def _groups(data_shape: list | None, filter_shape: list | None, axis: int) -> int:
    """cin / filter in-channels; 1 when either is unknown (an ordinary Conv2D, as far as anyone can tell)."""
    if not data_shape or not filter_shape or data_shape[axis] is None or filter_shape[2] is None:
        return 1
    return data_shape[axis] // filter_shape[2]


def _as_depthwise(function, node, filter_shape: list, channels: int) -> None:
    """Conv2D(x, w[kh, kw, 1, cin·m]) -> DepthwiseConv2dNative(x, reshape(w, [kh, kw, cin, m])); the
    node keeps its name and its output's name (`output` for both ops)."""
    nodes = function.node_def
    kh, kw, _, out_channels = filter_shape
    shape = add_constant(nodes, f"{node.name}/tfport_depthwise_shape",
                         np.array([kh, kw, channels, out_channels // channels], np.int32), node.device)
    reshape = nodes.add(name=f"{node.name}/tfport_depthwise_filter", op="Reshape", device=node.device,
                        input=[node.input[1], output_name(shape.name, function, "output")])
    reshape.attr["T"].CopyFrom(node.attr["T"])
    reshape.attr["Tshape"].type = DT_INT32
    node.op = "DepthwiseConv2dNative"
    node.input[1] = output_name(reshape.name, function, "output")
    _keep_attrs(node, CONV_ATTRS)


def _as_split_groups(function, node, groups: int, axis: int) -> None:
    """Conv2D(x, w) -> ConcatV2([Conv2D(x_g, w_g) for each group g], channel axis); the node keeps its
    name and its output's name (`output` for both ops)."""
    nodes = function.node_def
    data, weights, *control = node.input
    split_axes = [add_constant(nodes, f"{node.name}/tfport_{what}_axis", np.array(value, np.int32), node.device)
                  for what, value in (("channel", axis), ("filter", 3))]
    splits = []
    for what, source, axis_node in (("input", data, split_axes[0]), ("filter", weights, split_axes[1])):
        split = nodes.add(name=f"{node.name}/tfport_split_{what}", op="Split", device=node.device,
                          input=[output_name(axis_node.name, function, "output"), source])
        split.attr["T"].CopyFrom(node.attr["T"])
        split.attr["num_split"].i = groups
        splits.append(split)
    convolutions = []
    for group in range(groups):
        convolution = nodes.add()
        convolution.CopyFrom(node)
        convolution.name = f"{node.name}/tfport_group_{group}"
        convolution.input[:] = [output_name(s.name, function, "output", group) for s in splits]
        convolution.attr.pop("_output_shapes", None)  # a group has cout / groups channels
        convolutions.append(output_name(convolution.name, function, "output"))
    node.op = "ConcatV2"
    node.input[:] = [*convolutions, output_name(split_axes[0].name, function, "output"), *control]
    _keep_attrs(node, ("T",))
    node.attr["N"].i = groups
    node.attr["Tidx"].type = DT_INT32


def _keep_attrs(node, names: tuple[str, ...]) -> None:
    """Drop the attributes the node's new op does not take (the recorded `_output_shapes` still hold)."""
    for name in [n for n in node.attr if n not in names and n != "_output_shapes"]:
        del node.attr[name]

"""Node edits shared by the SavedModel rewrites (tfport.savedmodel.rewrites.apply and the modules beside it).

A rewrite works on the top-level graph of a TF1 model (`function` None) or on a function body.
The two name tensors differently: `<node>:<index>` in a graph, `<node>:<output arg>:<index>` in a
function, whose results are also named in `ret`. A node that changes op keeps its name, so
control dependencies on it hold; in a function, readers of its output are renamed when the new
op names that output differently.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from tfport.savedmodel.tensorflow import tensorflow


def scopes(saved_model) -> Iterator[tuple[object, object | None]]:
    """(nodes, function) for every top-level graph (function None) and every function body."""
    for meta_graph in saved_model.meta_graphs:
        yield meta_graph.graph_def.node, None
        for function in meta_graph.graph_def.library.function:
            yield function.node_def, function


def add_node(nodes, name: str, op: str, inputs: list[str], device: str, **types: int):
    """A node of `op` reading `inputs`, with its type attributes (`T=`, `Tshape=`, …) set."""
    node = nodes.add(name=name, op=op, input=inputs, device=device)
    for attr, dtype in types.items():
        node.attr[attr].type = dtype
    return node


def add_constant(nodes, name: str, value: np.ndarray, device: str):
    """A Const node holding `value`."""
    tf = tensorflow()
    proto = tf.make_tensor_proto(value)
    constant = nodes.add(name=name, op="Const", device=device)
    constant.attr["dtype"].type = proto.dtype
    constant.attr["value"].tensor.CopyFrom(proto)
    return constant


def constant_value(by_name: dict, tensor: str) -> np.ndarray | None:
    """The value of the Const node producing `tensor` (`node`, `node:0` or `node:output:0`), else None."""
    node = by_name.get(tensor.lstrip("^").split(":")[0])
    if node is None or node.op != "Const":
        return None
    return tensorflow().make_ndarray(node.attr["value"].tensor)


def output_name(node_name: str, function, arg: str, index: int = 0) -> str:
    """The tensor name of output `arg` (its `index`-th tensor) of a node, in a function or a graph."""
    return f"{node_name}:{arg}:{index}" if function is not None else f"{node_name}:{index}"


def rename_output(nodes, function, node_name: str, old_arg: str, new_arg: str) -> None:
    """In a function, make readers of `<node>:<old_arg>:<i>` (nodes and results) read `<node>:<new_arg>:<i>`;
    a graph names outputs by index only, so nothing changes there."""
    if function is None or old_arg == new_arg:
        return
    old, new = f"{node_name}:{old_arg}:", f"{node_name}:{new_arg}:"
    for reader in nodes:
        reader.input[:] = [new + i[len(old):] if i.startswith(old) else i for i in reader.input]
    for key, value in function.ret.items():
        if value.startswith(old):
            function.ret[key] = new + value[len(old):]


def prune(function, candidates: set[str]) -> None:
    """Remove from a function the nodes among `candidates` that nothing reads any more (what a
    rewrite replaced), then those only they read."""
    while True:
        tensors = [*(i for n in function.node_def for i in n.input), *function.ret.values(),
                   *function.control_ret.values()]
        read = {t.lstrip("^").split(":")[0] for t in tensors}
        unread = [i for i, n in enumerate(function.node_def) if n.name in candidates and n.name not in read]
        if not unread:
            return
        for index in reversed(unread):
            del function.node_def[index]

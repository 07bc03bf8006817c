"""Gathers straight from a variable (ResourceGather) as a read of the variable, then a Gather.

`tf.gather(variable, ids)` inside a loop body (an embedding looked up by a greedy decoder) is a
ResourceGather on the captured variable: freezing turns reads of a variable into constants but
leaves this op reading the resource, and TF.js has no kernel for it. ReadVariableOp + GatherV2
computes the same values, and freezes.
"""

from __future__ import annotations

import numpy as np

from tfport.savedmodel.rewrites.graph_edit import add_constant, add_node, output_name


def read_then_gather(saved_model) -> int:
    """Rewrite every ResourceGather in a parsed SavedModel proto (graphs and functions); the count."""
    count = 0
    for meta_graph in saved_model.meta_graphs:
        graph = meta_graph.graph_def
        for nodes, function in [(graph.node, None), *((f.node_def, f) for f in graph.library.function)]:
            for node in [n for n in nodes if n.op == "ResourceGather"]:
                _rewrite(nodes, function, node)
                count += 1
    return count


def _rewrite(nodes, function, node) -> None:
    resource, indices, *control = node.input
    dtype, index_type = node.attr["dtype"].type, node.attr["Tindices"].type
    batch_dims = node.attr["batch_dims"].i if "batch_dims" in node.attr else 0
    read = add_node(nodes, f"{node.name}/tfport_read", "ReadVariableOp", [resource, *control], node.device, dtype=dtype)
    axis = add_constant(nodes, f"{node.name}/tfport_axis", np.array(batch_dims, np.int32), node.device)
    node.op = "GatherV2"
    node.input[:] = [output_name(read.name, function, "value"), indices, output_name(axis.name, function, "output"),
                     *control]
    for attr in [a for a in node.attr if not a.startswith("_")]:
        del node.attr[attr]
    node.attr["Tparams"].type, node.attr["Tindices"].type, node.attr["Taxis"].type = dtype, index_type, 3  # int32
    node.attr["batch_dims"].i = batch_dims

"""`tf.print` calls left in a model, removed: printing is not what the model computes.

`tf.print` is a PrintV2 op fed by a StringFormat; a function runs it through its control outputs
(and nodes after it may wait for it). Neither is a TFLite builtin — one left-in print made the
whole file need the Flex delegate — nor a TF.js kernel. The PrintV2 nodes go, with every control
dependency on them, and so do the nodes only they read. The legacy `tf.Print` (an identity that
prints) becomes an Identity.
"""

from __future__ import annotations

from tfport.savedmodel.rewrites.graph_edit import prune


def remove_debug_prints(saved_model) -> int:
    """Remove every print in a parsed SavedModel proto (graphs and functions); return the count."""
    count = 0
    for meta_graph in saved_model.meta_graphs:
        graph = meta_graph.graph_def
        for nodes, function in [(graph.node, None), *((f.node_def, f) for f in graph.library.function)]:
            count += _remove(nodes, function)
    return count


def _remove(nodes, function) -> int:
    legacy = [node for node in nodes if node.op == "Print"]
    for node in legacy:  # input 0 passes through; the others are only printed
        node.op = "Identity"
        node.input[:] = [node.input[0], *(i for i in node.input if i.startswith("^"))]
        for attr in [a for a in node.attr if a != "T" and not a.startswith("_")]:
            del node.attr[attr]
    removed = {node.name for node in nodes if node.op == "PrintV2"}
    formats = {i.split(":")[0] for node in nodes if node.name in removed for i in node.input if not i.startswith("^")}
    for index in reversed([i for i, node in enumerate(nodes) if node.name in removed]):
        del nodes[index]
    for node in nodes:
        node.input[:] = [i for i in node.input if not (i.startswith("^") and i[1:] in removed)]
    if function is not None:
        for key in [k for k, v in function.control_ret.items() if v in removed]:
            del function.control_ret[key]
        kept = [o for o in function.signature.control_output if o in function.control_ret]
        function.signature.ClearField("control_output")
        function.signature.control_output.extend(kept)
        prune(function, formats)
    return len(legacy) + len(removed)

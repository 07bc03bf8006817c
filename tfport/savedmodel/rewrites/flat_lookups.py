"""Table lookups with keys of any rank, in a form TF.js computes with the right shape.

TF.js's `LookupTableFindV2` stacks one value per key and so returns shape [number of keys]
whatever the keys' shape (tfjs-converter 4.22, HashTable.find): ids of shape [1, 3] come back
as [3]. So for TF.js each lookup is given flattened keys and its values are reshaped back to the
keys' shape: Reshape(Find(table, Reshape(keys, [-1]), default), Shape(keys)) — the same function.
"""

from __future__ import annotations

import numpy as np

from tfport.savedmodel.rewrites.graph_edit import add_constant, add_node, output_name, rename_output, scopes

LOOKUP = "LookupTableFindV2"
DT_INT32 = 3  # tensorflow/core/framework/types.proto


def flatten_lookup_keys(saved_model) -> int:
    """Rewrite every table lookup in a parsed SavedModel proto (graphs and functions); return the count."""
    return sum(_rewrite_nodes(nodes, function) for nodes, function in scopes(saved_model))


def _rewrite_nodes(nodes, function) -> int:
    """The lookup node becomes the final Reshape (it keeps its name, so readers and control
    dependencies hold); the lookup itself moves to `<name>/tfport_find`."""
    count = 0
    for node in [n for n in nodes if n.op == LOOKUP]:
        table, keys, default = [i for i in node.input if not i.startswith("^")]
        control = [i for i in node.input if i.startswith("^")]
        key_dtype, value_dtype = node.attr["Tin"].type, node.attr["Tout"].type
        minus_one = add_constant(nodes, f"{node.name}/tfport_minus_one", np.array([-1], np.int32), node.device)
        if function is None:  # in a TF1 graph, keep the constant in the frame of its consumer (loops)
            minus_one.input.append("^" + keys.split(":")[0])
        shape = add_node(nodes, f"{node.name}/tfport_keys_shape", "Shape", [keys], node.device,
                      T=key_dtype, out_type=DT_INT32)
        flat = add_node(nodes, f"{node.name}/tfport_flat_keys", "Reshape",
                     [keys, output_name(minus_one.name, function, "output")], node.device, T=key_dtype, Tshape=DT_INT32)
        find = add_node(nodes, f"{node.name}/tfport_find", LOOKUP,
                     [table, output_name(flat.name, function, "output"), default, *control], node.device,
                     Tin=key_dtype, Tout=value_dtype)
        node.op = "Reshape"
        node.input[:] = [output_name(find.name, function, "values"), output_name(shape.name, function, "output")]
        node.ClearField("attr")
        node.attr["T"].type, node.attr["Tshape"].type = value_dtype, DT_INT32
        rename_output(nodes, function, node.name, "values", "output")  # Find's output is `values`, Reshape's `output`
        count += 1
    return count

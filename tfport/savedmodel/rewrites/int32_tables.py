"""Lookup tables between strings and int32, held as int64 — the only kind converters take.

tf2onnx converts only string -> int64 and int64 -> string tables ("Only lookup tables of type
string<->int64 are currently supported"), and TFLite's builtin hashtable only those too (anything
else needs Select TF ops). So the int32 side of such a table becomes int64: cast on the way in,
the lookup's result cast back to int32 — the same function.

A table op's types must match its table's, so every table, import and lookup typed string and
int32 belongs to such a table, in a TF1 graph or across TF2 functions (the table is created in
one, filled in another, looked up in the signature's). When anything else touches such a table
(insert, export), nothing is changed and the converter's own message names the op.
"""

from __future__ import annotations

from tfport.savedmodel.rewrites.graph_edit import output_name, rename_output

TABLES = {"HashTableV2", "MutableHashTableV2"}
FIND, IMPORT = "LookupTableFindV2", "LookupTableImportV2"
TYPED_USERS = {FIND, IMPORT, "LookupTableInsertV2", "LookupTableExportV2", "LookupTableRemoveV2"}
DT_STRING, DT_INT32, DT_INT64 = 7, 3, 9  # tensorflow/core/framework/types.proto
INT32_SIDE = {(DT_INT32, DT_STRING): "key", (DT_STRING, DT_INT32): "value"}


def widen_int32_tables(saved_model) -> list[str]:
    """Make every string <-> int32 table hold int64; return the tables' names."""
    widened = []
    for meta_graph in saved_model.meta_graphs:
        graph = meta_graph.graph_def
        scopes = [(graph.node, None), *((f.node_def, f) for f in graph.library.function)]
        tables = [(node, nodes, f) for nodes, f in scopes for node in nodes if node.op in TABLES and _table_side(node)]
        users = [(node, nodes, f) for nodes, f in scopes for node in nodes
                 if node.op in TYPED_USERS and _user_side(node)]
        if not tables or any(node.op not in (FIND, IMPORT) for node, _, _ in users):
            continue
        for table, _, _ in tables:
            table.attr[f"{_table_side(table)}_dtype"].type = DT_INT64
            widened.append(table.name)
        for user, nodes, function in users:
            _widen_user(nodes, function, user, _user_side(user))
    return widened


def _table_side(table) -> str | None:
    """The int32 side ("key" or "value") of a table whose other side is string, else None."""
    return INT32_SIDE.get((table.attr["key_dtype"].type, table.attr["value_dtype"].type))


def _user_side(node) -> str | None:
    return INT32_SIDE.get((node.attr["Tin"].type, node.attr["Tout"].type))


def _widen_user(nodes, function, user, side: str) -> None:
    if user.op == IMPORT:  # inputs: table, keys, values
        _cast_input(nodes, function, user, 1 if side == "key" else 2)
        user.attr["Tin" if side == "key" else "Tout"].type = DT_INT64
    elif side == "key":  # a lookup; inputs: table, keys, default value
        _cast_input(nodes, function, user, 1)
        user.attr["Tin"].type = DT_INT64
    else:
        _cast_input(nodes, function, user, 2)
        _cast_result(nodes, function, user)


def _cast_input(nodes, function, node, index: int) -> None:
    """Feed the node's int32 input `index` through a Cast to int64."""
    cast = nodes.add(name=f"{node.name}/tfport_int64_input{index}", device=node.device)
    _make_cast(cast, node.input[index], DT_INT32, DT_INT64)
    node.input[index] = output_name(cast.name, function, "y")


def _cast_result(nodes, function, find) -> None:
    """The lookup moves to `<name>/tfport_int64` and looks up int64 values; `find` becomes the Cast
    back to int32, keeping its name so readers and control dependencies hold."""
    widened = nodes.add()
    widened.CopyFrom(find)
    widened.name = f"{find.name}/tfport_int64"
    widened.attr["Tout"].type = DT_INT64
    _make_cast(find, output_name(widened.name, function, "values"), DT_INT64, DT_INT32)
    rename_output(nodes, function, find.name, "values", "y")  # a lookup's output is `values`, a Cast's `y`


def _make_cast(node, tensor: str, source: int, destination: int) -> None:
    """Turn `node` (new or reused, its name and device kept) into a Cast of `tensor`."""
    node.op = "Cast"
    node.input[:] = [tensor]
    node.ClearField("attr")
    node.attr["SrcT"].type, node.attr["DstT"].type = source, destination
    node.attr["Truncate"].b = False

"""Lookup tables of TF1 graphs (SavedModelBuilder, Estimator), in the form converters handle.

- Init op: TensorFlow's Python loader runs a TF1 graph's main_op (or legacy_init_op) and, when it
  has neither, falls back to `Scaffold.default_local_init_op`, which fills the tables of the
  `table_initializer` collection. TFLiteConverter (MLIR's SavedModel v1 importer) knows only the
  init op (the `__saved_model_init_op` signature, or the `saved_model_main_op` / `legacy_init_op`
  collection), so such a table stays empty and the artifact fails at run time ("hashtable need
  to be initialized before using"). The copy gets a main op that fills the tables.
- The collection, for tf2onnx: TensorFlow's TF1-in-TF2 loader hands every signature function the
  graph's collections, and freezing that function (grappler, in convert_variables_to_constants_v2)
  refuses a `table_initializer` entry the function does not contain ("Init node
  key_value_init/LookupTableImportV2 doesn't exist in graph"). With the init op filling the tables
  the collection says nothing more, so it is dropped — but not for tensorflowjs, whose TF1 path
  reads the table initializers from it.
- Value types: tf2onnx converts only string -> int64 and int64 -> string tables, and TFLite's
  builtin hashtable only those too (anything else needs Select TF ops). The int32 side of a table
  with string keys or values becomes int64: cast on the way in, the lookup's result cast back to
  int32 — the same function.
"""

from __future__ import annotations

from tfport.fold_tables import tf1_source

TABLE_INITIALIZERS = "table_initializer"  # tf.compat.v1.GraphKeys.TABLE_INITIALIZERS
MAIN_OP = "saved_model_main_op"
INIT_OP_KEYS = (MAIN_OP, "legacy_init_op")  # collections the loaders run after restoring variables
INIT_OP_SIGNATURE = "__saved_model_init_op"
TABLE = "HashTableV2"  # what tf.compat.v1.lookup.StaticHashTable creates
FIND, IMPORT, SIZE = "LookupTableFindV2", "LookupTableImportV2", "LookupTableSizeV2"
DT_STRING, DT_INT32, DT_INT64 = 7, 3, 9  # tensorflow/core/framework/types.proto


def add_table_main_op(saved_model) -> list[str]:
    """Give every TF1 graph that fills its tables only through the `table_initializer` collection a
    main op running those initializers; return the new main ops' names."""
    added = []
    for meta_graph in saved_model.meta_graphs:
        collections = meta_graph.collection_def  # (reading a missing map key would add it)
        if TABLE_INITIALIZERS not in collections or _has_init_op(meta_graph):
            continue
        initializers = collections[TABLE_INITIALIZERS].node_list.value
        main_op = meta_graph.graph_def.node.add(name="tfport_main_op", op="NoOp",
                                                input=[f"^{name.split(':')[0]}" for name in initializers])
        collections[MAIN_OP].node_list.value.append(main_op.name)
        added.append(main_op.name)
    return added


def remove_table_collection(saved_model) -> int:
    """Remove the `table_initializer` collection from TF1 graphs whose init op runs instead; return how many."""
    dropped = 0
    for meta_graph in saved_model.meta_graphs:
        collections = meta_graph.collection_def
        if TABLE_INITIALIZERS in collections and _has_init_op(meta_graph):
            del collections[TABLE_INITIALIZERS]
            dropped += 1
    return dropped


def _has_init_op(meta_graph) -> bool:
    """Does the graph name an init op, which every loader runs after restoring the variables?"""
    collections = meta_graph.collection_def
    return INIT_OP_SIGNATURE in meta_graph.signature_def or any(key in collections for key in INIT_OP_KEYS)


def widen_int32_tables(saved_model) -> list[str]:
    """Make every TF1 table of string -> int32 (or int32 -> string) hold int64 instead, when only
    lookups, imports and size queries use it; return the tables' names."""
    widened = []
    for meta_graph in saved_model.meta_graphs:
        nodes = meta_graph.graph_def.node
        tables = {node.name: node for node in nodes if node.op == TABLE and _int32_side(node)}
        users = _table_users(nodes, tables)
        for name, table in tables.items():
            if users[name] and all(user.op in (FIND, IMPORT, SIZE) for user in users[name]):
                _widen(nodes, table, users[name])
                widened.append(name)
    return widened


def _int32_side(table) -> str | None:
    """The int32 side ("key" or "value") of a table whose other side is string, else None."""
    dtypes = (table.attr["key_dtype"].type, table.attr["value_dtype"].type)
    return {(DT_INT32, DT_STRING): "key", (DT_STRING, DT_INT32): "value"}.get(dtypes)


def _table_users(nodes, tables: dict) -> dict[str, list]:
    """Table name -> the nodes that take its handle (read through Identity ops or not)."""
    by_name = {node.name: node for node in nodes}
    users: dict[str, list] = {name: [] for name in tables}
    for node in nodes:
        if node.op == "Identity":
            continue
        for tensor in (t for t in node.input if not t.startswith("^")):
            source = tf1_source(by_name, tensor)
            if source is not None and source.name in tables:
                users[source.name].append(node)
    return users


def _widen(nodes, table, users: list) -> None:
    side = _int32_side(table)
    table.attr[f"{side}_dtype"].type = DT_INT64
    for user in users:
        if user.op == IMPORT:  # inputs: table, keys, values
            _cast_input(nodes, user, 1 if side == "key" else 2)
            user.attr["Tin" if side == "key" else "Tout"].type = DT_INT64
        elif user.op == FIND and side == "key":  # inputs: table, keys, default value
            _cast_input(nodes, user, 1)
            user.attr["Tin"].type = DT_INT64
        elif user.op == FIND:
            _cast_input(nodes, user, 2)
            _cast_result(nodes, user)


def _cast_input(nodes, node, index: int) -> None:
    """Feed the node's int32 input `index` through a Cast to int64."""
    cast = nodes.add(name=f"{node.name}/tfport_int64_input{index}", device=node.device)
    _make_cast(cast, node.input[index], DT_INT32, DT_INT64)
    node.input[index] = f"{cast.name}:0"


def _cast_result(nodes, find) -> None:
    """The lookup moves to `<name>/tfport_int64` and looks up int64 values; `find` becomes the Cast
    back to int32, keeping its name so readers and control dependencies hold."""
    widened = nodes.add()
    widened.CopyFrom(find)
    widened.name = f"{find.name}/tfport_int64"
    widened.attr["Tout"].type = DT_INT64
    _make_cast(find, f"{widened.name}:0", DT_INT64, DT_INT32)


def _make_cast(node, tensor: str, source: int, destination: int) -> None:
    """Turn `node` (new or reused, its name and device kept) into a Cast of `tensor`."""
    node.op = "Cast"
    node.input[:] = [tensor]
    node.ClearField("attr")
    node.attr["SrcT"].type, node.attr["DstT"].type = source, destination
    node.attr["Truncate"].b = False

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
(Tables of string and int32, TF1 or TF2: tfport.savedmodel.rewrites.int32_tables.)
"""

from __future__ import annotations

TABLE_INITIALIZERS = "table_initializer"  # tf.compat.v1.GraphKeys.TABLE_INITIALIZERS
MAIN_OP = "saved_model_main_op"
INIT_OP_KEYS = (MAIN_OP, "legacy_init_op")  # collections the loaders run after restoring variables
INIT_OP_SIGNATURE = "__saved_model_init_op"


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

"""Turn lookup tables initialized from a vocabulary file into tables initialized from constants.

TFLite converts a table filled by `InitializeTableFromTextFileV2` but never runs that initializer
("hashtable need to be initialized before using"), and TF.js cannot run it at all; both handle a
table filled by `LookupTableImportV2` from constants. So each file initializer becomes an import
of the keys and values read from the model's own asset file. TensorFlow's own kernel reads the
file into a scratch table, so parsing (columns, line numbers, vocab_size, offset, CRLF) and the
errors for malformed files are exactly TensorFlow's.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tfport.errors import BadInputError
from tfport.savedmodel.rewrites.graph_edit import add_constant
from tfport.savedmodel.tensorflow import tensorflow

FILE_INITIALIZER = "InitializeTableFromTextFileV2"
READER_ATTRS = {"key_index": "i", "value_index": "i", "vocab_size": "i", "offset": "i", "delimiter": "s"}
FIX = "build the table with tf.lookup.KeyValueTensorInitializer before exporting"


def fold_vocabulary_tables(saved_model, model_dir: Path) -> list[str]:
    """Rewrite, in the parsed SavedModel proto, every table filled from a text file into one filled
    from constants; return "<file>: <n> entries" per folded table."""
    folded = []
    for meta_graph in saved_model.meta_graphs:
        scopes = [None, *meta_graph.graph_def.library.function]  # None: the top-level graph (TF1 models)
        for function in scopes:
            nodes = meta_graph.graph_def.node if function is None else function.node_def
            filenames = set()
            for node in [n for n in nodes if n.op == FILE_INITIALIZER]:
                vocabulary = _vocabulary_file(model_dir, meta_graph, function, node)
                keys, values = _read_table(vocabulary, node, _table_dtypes(meta_graph, function, node, vocabulary))
                filenames.add(node.input[1].split(":")[0])
                _import_constants(nodes, node, keys, values, output=":0" if function is None else ":output:0")
                folded.append(f"{vocabulary.name}: {len(keys)} entries")
            if function is not None:
                arguments = {arg.name for arg in function.signature.input_arg}
                for argument in (filenames & arguments) - _used_names(function):
                    _drop_argument(meta_graph, function, argument)
    return folded


def _captured(meta_graph, function, tensor: str):
    """The saved object (asset, table resource) behind a function argument captured at export, or None."""
    if function is None:
        return None
    arguments = [arg.name for arg in function.signature.input_arg]
    concrete = meta_graph.object_graph_def.concrete_functions.get(function.signature.name)
    name = tensor.split(":")[0]
    if concrete is None or name not in arguments:
        return None
    index = arguments.index(name) - (len(arguments) - len(concrete.bound_inputs))  # captures come last
    return meta_graph.object_graph_def.nodes[concrete.bound_inputs[index]] if index >= 0 else None


def _vocabulary_file(model_dir: Path, meta_graph, function, node) -> Path:
    """The asset file feeding the initializer's `filename` input."""
    assets = [model_dir / "assets" / a.filename for a in meta_graph.asset_file_def]
    source = _captured(meta_graph, function, node.input[1])
    if source is not None and source.WhichOneof("kind") == "asset":  # TF2: a captured tf.saved_model.Asset
        return assets[source.asset.asset_file_def_index]
    if function is None:  # TF1: the asset's tensor feeds the initializer directly
        name = node.input[1].split(":")[0]
        for file_def in _tf1_asset_file_defs(meta_graph):
            if file_def.tensor_info.name.split(":")[0] == name:
                return model_dir / "assets" / file_def.filename
    if len(assets) == 1:
        return assets[0]
    raise BadInputError(f"cannot tell which asset file in {model_dir / 'assets'} fills table initializer "
                        f"{node.name!r}: {FIX}")


def _tf1_asset_file_defs(meta_graph) -> list:
    """Asset files of a TF1 graph: the meta graph's own list and the SavedModelBuilder's collection."""
    from tensorflow.core.protobuf import meta_graph_pb2

    file_defs = list(meta_graph.asset_file_def)
    collections = meta_graph.collection_def  # (reading a missing map key would add it)
    packed_defs = collections["saved_model_assets"].any_list.value if "saved_model_assets" in collections else []
    for packed in packed_defs:
        file_defs.append(meta_graph_pb2.AssetFileDef())
        packed.Unpack(file_defs[-1])
    return file_defs


def _table_dtypes(meta_graph, function, node, vocabulary: Path) -> tuple[int, int]:
    """(key, value) DataType of the table the initializer fills, from the op that creates the table."""
    if function is None:  # TF1: the table op feeds the initializer, maybe through Identity ops
        table = tf1_source({n.name: n for n in meta_graph.graph_def.node}, node.input[0])
        candidates = [table] if table is not None else []
    else:  # TF2: the table is a captured resource; its `_create_resource` function makes the table op
        resource = _captured(meta_graph, function, node.input[0])
        objects = meta_graph.object_graph_def.nodes
        creators = [objects[child.node_id] for child in (resource.children if resource else [])
                    if child.local_name == "_create_resource"]
        names = {name for creator in creators for name in creator.function.concrete_functions}
        candidates = [n for f in meta_graph.graph_def.library.function if f.signature.name in names for n in f.node_def]
    dtypes = {(n.attr["key_dtype"].type, n.attr["value_dtype"].type) for n in candidates if "key_dtype" in n.attr}
    if len(dtypes) != 1:
        raise BadInputError(f"cannot find the key and value types of the table filled from {vocabulary} "
                            f"(initializer {node.name!r}): {FIX}")
    return dtypes.pop()


def tf1_source(by_name: dict, tensor: str):
    """The node behind `tensor` in a TF1 graph, through Identity ops (a table handle is often read
    through one); None if it is not in the graph."""
    source = by_name.get(tensor.split(":")[0])
    while source is not None and source.op == "Identity":
        source = by_name.get(source.input[0].split(":")[0])
    return source


def _read_table(vocabulary: Path, node, dtypes: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Keys and values, sorted by key (the saved model stays deterministic), as TensorFlow reads them."""
    tf = tensorflow()
    key_dtype, value_dtype = (tf.as_dtype(d) for d in dtypes)
    attrs = {name: getattr(node.attr[name], kind) for name, kind in READER_ATTRS.items() if name in node.attr}
    table = tf.raw_ops.AnonymousHashTable(key_dtype=key_dtype, value_dtype=value_dtype)
    try:
        tf.raw_ops.InitializeTableFromTextFileV2(table_handle=table, filename=str(vocabulary), **attrs)
    except tf.errors.OpError as exc:
        reason = re.sub(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:\w+\]", "", exc.message)
        raise BadInputError(f"TensorFlow cannot fill the lookup table from {vocabulary}: {reason}; "
                            "restore or fix that file in the SavedModel's assets/ directory") from None
    keys, values = (t.numpy() for t in tf.raw_ops.LookupTableExportV2(table_handle=table, Tkeys=key_dtype,
                                                                       Tvalues=value_dtype))
    order = np.argsort(keys, kind="stable")
    return keys[order], values[order]


def _import_constants(nodes, node, keys: np.ndarray, values: np.ndarray, output: str) -> None:
    """Make `node` (same name, so control dependencies on it hold) import constant keys and values."""
    inputs, dtypes = [], []
    for role, array in (("keys", keys), ("values", values)):
        constant = add_constant(nodes, f"{node.name}/folded_{role}", array, node.device)
        inputs.append(constant.name + output)
        dtypes.append(constant.attr["dtype"].type)
    table, control = node.input[0], [i for i in node.input if i.startswith("^")]
    node.op = "LookupTableImportV2"
    node.input[:] = [table, *inputs, *control]
    node.ClearField("attr")
    node.attr["Tin"].type, node.attr["Tout"].type = dtypes


def _used_names(function) -> set[str]:
    """Names of the nodes and arguments something in the function still reads."""
    tensors = [*(i for n in function.node_def for i in n.input), *function.ret.values(), *function.control_ret.values()]
    return {t.lstrip("^").split(":")[0] for t in tensors}


def _drop_argument(meta_graph, function, argument: str) -> None:
    """Remove an unused argument from a function and from every call of it.

    TFLite skips an initializer function that still takes an asset path, even an unused one.
    """
    arguments = [arg.name for arg in function.signature.input_arg]
    index = arguments.index(argument)
    del function.signature.input_arg[index]
    if "_input_shapes" in function.attr:
        del function.attr["_input_shapes"].list.shape[index]
    arg_attrs = {i - (i > index): attrs for i, attrs in function.arg_attr.items() if i != index}
    function.ClearField("arg_attr")
    for i, attrs in arg_attrs.items():
        function.arg_attr[i].CopyFrom(attrs)
    concrete = meta_graph.object_graph_def.concrete_functions.get(function.signature.name)
    captured = index - (len(arguments) - len(concrete.bound_inputs)) if concrete is not None else -1
    if captured >= 0:
        del concrete.bound_inputs[captured]
    library = meta_graph.graph_def.library.function
    for caller in [*meta_graph.graph_def.node, *(n for f in library for n in f.node_def)]:
        if "f" in caller.attr and caller.attr["f"].func.name == function.signature.name:
            data = [i for i in caller.input if not i.startswith("^")]
            del data[index]
            caller.input[:] = [*data, *(i for i in caller.input if i.startswith("^"))]
            if "Tin" in caller.attr and len(caller.attr["Tin"].list.type) > index:
                del caller.attr["Tin"].list.type[index]

"""Find and describe a SavedModel: tags, signatures, variables, assets and fingerprint."""

from __future__ import annotations

import contextlib
import hashlib
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tfport.errors import BadInputError
from tfport.savedmodel.checkpoint_index import index_entries
from tfport.savedmodel.protowire import Message, WireError

SAVED_MODEL_FILE = "saved_model.pb"
SERVE_TAG = "serve"


@dataclass(frozen=True)
class TensorSpec:
    """One signature input or output: dtype as TensorFlow names it, None for an unknown dim."""

    dtype: str
    shape: tuple[int | None, ...] | None  # None: unknown rank

    def to_json(self) -> dict:
        return {"dtype": self.dtype, "shape": None if self.shape is None else list(self.shape)}

    @classmethod
    def from_json(cls, data: dict) -> TensorSpec:
        shape = data.get("shape")
        return cls(dtype=data["dtype"], shape=None if shape is None else tuple(shape))


@dataclass(frozen=True)
class Signature:
    key: str
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]

    def to_json(self) -> dict:
        return {
            "inputs": {name: spec.to_json() for name, spec in self.inputs.items()},
            "outputs": {name: spec.to_json() for name, spec in self.outputs.items()},
        }

    @classmethod
    def from_json(cls, key: str, data: dict) -> Signature:
        return cls(
            key=key,
            inputs={n: TensorSpec.from_json(s) for n, s in data["inputs"].items()},
            outputs={n: TensorSpec.from_json(s) for n, s in data["outputs"].items()},
        )


@dataclass(frozen=True)
class Variable:
    name: str
    dtype: str
    shape: tuple[int, ...]
    bytes: int


@dataclass(frozen=True)
class Asset:
    path: str  # relative to the assets/ directory
    bytes: int


@dataclass
class SavedModelInfo:
    path: Path
    name: str
    version: int | None
    tags: list[str]
    signatures: dict[str, Signature]
    fingerprint: str
    fingerprint_source: str
    variables: list[Variable] = field(default_factory=list)
    assets: list[Asset] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # signature -> identical one kept

    @property
    def distinct_signatures(self) -> list[str]:
        """Signatures that are not aliases: converters that dedupe functions keep these."""
        return [key for key in self.signatures if key not in self.aliases]

    def alias_notes(self, answered_by: Callable[[str], str]) -> list[str]:
        """One report note per alias: `answered_by(kept)` says what in the artifact answers it."""
        return [f"signature {alias!r} is the same function as {kept!r}; {answered_by(kept)}"
                for alias, kept in self.aliases.items()]

    @property
    def variable_bytes(self) -> int:
        """Bytes of the checkpoint's data files (a variable tracked twice is stored once)."""
        return sum(f.stat().st_size for f in (self.path / "variables").glob("variables.data-*"))

    def to_json(self) -> dict:
        return {
            "path": str(self.path),
            "name": self.name,
            "version": self.version,
            "tags": self.tags,
            "fingerprint": self.fingerprint,
            "fingerprint_source": self.fingerprint_source,
            "signatures": {key: sig.to_json() for key, sig in self.signatures.items()},
            "variables": [asdict(v) | {"shape": list(v.shape)} for v in self.variables],
            "variable_bytes": self.variable_bytes,
            "assets": [asdict(a) for a in self.assets],
            "aliases": self.aliases,
        }


def resolve_model_dir(path: Path) -> tuple[Path, int | None]:
    """Return the SavedModel directory for `path` and the version taken from a versioned base.

    A TF-Serving base directory (`model/1/`, `model/2/`, ...) resolves to its highest version.
    """
    path = Path(path)
    if not path.exists():
        raise BadInputError(
            f"no such path: {path} — pass the directory that `tf.saved_model.save` "
            "or Keras `model.export` wrote"
        )
    if path.is_file():
        hint = (
            f"pass its directory: {path.parent}"
            if path.name == SAVED_MODEL_FILE
            else "export a Keras model with `model.export(DIR)` and pass DIR"
            if path.suffix in {".keras", ".h5"}
            else "pass the SavedModel directory"
        )
        raise BadInputError(f"{path} is a file, not a SavedModel directory — {hint}")
    if (path / SAVED_MODEL_FILE).is_file():
        return path, None
    versions = sorted(
        int(child.name)
        for child in path.iterdir()
        if child.name.isdigit() and (child / SAVED_MODEL_FILE).is_file()
    )
    if versions:
        return path / str(versions[-1]), versions[-1]
    raise BadInputError(
        f"no {SAVED_MODEL_FILE} in {path} — pass the directory that `tf.saved_model.save` "
        "or Keras `model.export` wrote (or a TF-Serving base directory with numbered versions)"
    )


def is_saved_model(path: Path) -> bool:
    """Is `path` a SavedModel directory, or a TF-Serving base directory holding versions of one?"""
    try:
        resolve_model_dir(path)
    except BadInputError:
        return False
    return True


def fingerprint(model_dir: Path) -> tuple[str, str]:
    """Identify a SavedModel's content without TensorFlow: (fingerprint, where it came from).

    `fingerprint.pb` (written by TF >= 2.12) already hashes graph, signatures and checkpoint;
    older exports fall back to a hash over every file of the SavedModel.
    """
    fingerprint_file = model_dir / "fingerprint.pb"
    digest = hashlib.sha256()
    if fingerprint_file.is_file():
        digest.update(fingerprint_file.read_bytes())
        return digest.hexdigest()[:32], "fingerprint.pb"
    for file in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(model_dir)).encode())
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:32], "content hash"


def model_name(model_dir: Path, version: int | None) -> str:
    """A short name for output paths: the base directory's name for versioned models."""
    return (model_dir.parent if version is not None else model_dir).resolve().name


def inspect_saved_model(path: Path) -> SavedModelInfo:
    """Read everything tfport needs to know about a SavedModel, without TensorFlow or its graph."""
    model_dir, version = resolve_model_dir(path)
    with corrupt_file_errors(model_dir / SAVED_MODEL_FILE):
        return _describe(model_dir, version, read_saved_model_proto(model_dir))


def _describe(model_dir: Path, version: int | None, meta_graph: Message) -> SavedModelInfo:
    digest, source = fingerprint(model_dir)
    signatures = _signatures(meta_graph)
    return SavedModelInfo(
        path=model_dir,
        name=model_name(model_dir, version),
        version=version,
        tags=meta_graph.message(1).strings(4),  # meta_info_def.tags
        signatures=signatures,
        fingerprint=digest,
        fingerprint_source=source,
        variables=_variables(model_dir, meta_graph),
        assets=_assets(model_dir),
        aliases=_signature_aliases(meta_graph, signatures),
    )


def require_signatures(info: SavedModelInfo) -> None:
    """Signatures are what tfport records, converts and compares: a model without one has nothing
    to port (`inspect` still describes it)."""
    if not info.signatures:
        raise BadInputError(
            f"{info.path} has no signatures, so there is nothing to convert or check — export it with one: "
            "tf.saved_model.save(obj, DIR, signatures={'serving_default': obj.serve}) with a tf.function that "
            "has an input_signature, Keras model.export(DIR), or in TF1 SavedModelBuilder.add_meta_graph_and_variables("
            "sess, tags, signature_def_map={'serving_default': "
            "tf.compat.v1.saved_model.predict_signature_def(inputs, outputs)})"
        )


# tensorflow/core/framework/types.proto, DataType -> TensorFlow's dtype name
DTYPES = {
    1: "float32", 2: "float64", 3: "int32", 4: "uint8", 5: "int16", 6: "int8", 7: "string",
    8: "complex64", 9: "int64", 10: "bool", 11: "qint8", 12: "quint8", 13: "qint32",
    14: "bfloat16", 15: "qint16", 16: "quint16", 17: "uint16", 18: "complex128", 19: "float16",
    20: "resource", 21: "variant", 22: "uint32", 23: "uint64",
}


@contextlib.contextmanager
def corrupt_file_errors(path: Path) -> Iterator[None]:
    """Nested messages decode lazily: a damaged file can surface anywhere while reading it."""
    try:
        yield
    except (WireError, struct.error, UnicodeDecodeError, IndexError) as exc:
        raise BadInputError(
            f"{path} is not a valid SavedModel ({exc}) — the file is corrupt or truncated; export the model again"
        ) from None


def read_saved_model_proto(model_dir: Path) -> Message:
    """The serving MetaGraphDef of saved_model.pb, decoded without TensorFlow."""
    path = model_dir / SAVED_MODEL_FILE
    with corrupt_file_errors(path):
        graphs = Message.parse(path.read_bytes()).messages(2)  # SavedModel.meta_graphs
    if not graphs:
        raise BadInputError(f"{path} holds no MetaGraph — export the model again")
    serving = [g for g in graphs if SERVE_TAG in g.message(1).strings(4)]  # meta_info_def.tags
    return (serving or graphs)[0]


def _dtype(number: int) -> str:
    return DTYPES.get(number, f"dtype#{number}")


def _tensor_spec(info: Message) -> TensorSpec:
    shape = info.message(3)  # TensorInfo.tensor_shape
    if shape.int(3):  # unknown_rank
        return TensorSpec(dtype=_dtype(info.int(2)), shape=None)
    dims = tuple(None if d.int(1) < 0 else d.int(1) for d in shape.messages(2))
    return TensorSpec(dtype=_dtype(info.int(2)), shape=dims)


def _signatures(meta_graph: Message) -> dict[str, Signature]:
    return {
        key: Signature(
            key=key,
            inputs={name: _tensor_spec(info) for name, info in sorted(sig.map(1).items())},
            outputs={name: _tensor_spec(info) for name, info in sorted(sig.map(2).items())},
        )
        for key, sig in sorted(meta_graph.map(5).items())
        if not key.startswith("__")  # __saved_model_init_op is not a signature to port
    }


def functions(meta_graph: Message) -> dict[str, Message]:
    """The graph's function library: FunctionDef by name."""
    library = meta_graph.message(2).message(2)  # graph_def.library
    return {f.message(1).string(1): f for f in library.messages(1)}


def signature_functions(meta_graph: Message) -> dict[str, str]:
    """Signature key -> name of the function that implements it, from the TF2 object graph
    ({} for a TF1 graph, whose signatures name tensors of the top-level graph)."""
    nodes = meta_graph.message(7).messages(1)  # object_graph_def.nodes
    holder = next((c.int(1) for c in nodes[0].messages(1) if c.string(2) == "signatures"), None) if nodes else None
    return {child.string(2): nodes[child.int(1)].message(8).string(1)  # bare_concrete_function.concrete_function_name
            for child in (nodes[holder].messages(1) if holder is not None else [])}


def called_functions(node: Message) -> list[str]:
    """Functions a node calls: `f`, branches, loop bodies — any func-valued attr."""
    called = []
    for value in node.map(5).values():
        called += [value.message(10).string(1)] if 10 in value.raw else []
        called += [func.string(1) for func in value.message(1).messages(9)]  # list.func
    return [name for name in called if name]


def reachable_functions(library: dict[str, Message], roots: Iterable[str]) -> set[str]:
    """`roots` and every function they call, directly or not."""
    seen, pending = set(), list(roots)
    while pending:
        name = pending.pop()
        if name in seen or name not in library:
            continue
        seen.add(name)
        pending += [f for node in library[name].messages(3) for f in called_functions(node)]
    return seen


def signature_op_types(meta_graph: Message, key: str) -> list[str]:
    """The op type of every node signature `key` may run (with repeats): its function and all it
    calls, or in a TF1 graph the nodes its outputs depend on (and the functions they call)."""
    library = functions(meta_graph)
    function = signature_functions(meta_graph).get(key)
    if function is None:
        nodes = _tf1_signature_nodes(meta_graph, key)
        called = reachable_functions(library, [f for node in nodes for f in called_functions(node)])
        return [node.string(2) for node in nodes] + [n.string(2) for name in called for n in library[name].messages(3)]
    return [node.string(2) for name in reachable_functions(library, [function]) for node in library[name].messages(3)]


def _tf1_signature_nodes(meta_graph: Message, key: str) -> list[Message]:
    """The top-level graph nodes a TF1 signature's outputs depend on (data and control inputs)."""
    outputs = meta_graph.map(5)[key].map(2).values()  # signature_def[key].outputs: TensorInfo
    return graph_dependencies(meta_graph, [info.string(1) for info in outputs])


def graph_dependencies(meta_graph: Message, tensors: Iterable[str]) -> list[Message]:
    """The top-level graph nodes that running `tensors` (or ops, `name` or `name:0`) runs: those
    nodes and everything they depend on, through data and control inputs."""
    by_name = {node.string(1): node for node in meta_graph.message(2).messages(1)}
    pending = [tensor.lstrip("^").split(":")[0] for tensor in tensors]
    seen: dict[str, Message] = {}
    while pending:
        name = pending.pop()
        if name in seen or name not in by_name:
            continue
        seen[name] = by_name[name]
        pending += [i.lstrip("^").split(":")[0] for i in by_name[name].strings(3)]  # NodeDef.input
    return list(seen.values())


def table_string_keys(meta_graph: Message) -> list[str]:
    """The string keys of every lookup table the graph fills from constants (LookupTableImportV2):
    words the model knows, for synthesizing string inputs when it ships no vocabulary file.

    In a TF1 graph the keys are a Const beside the import; in a TF2 initializer function they are
    a captured constant, saved in the top-level graph and named by the object graph."""
    top_level = {node.string(1): node for node in meta_graph.message(2).messages(1)}  # graph_def.node
    scopes = [(None, list(top_level.values())), *((f, f.messages(3)) for f in functions(meta_graph).values())]
    keys: list[str] = []
    for function, nodes in scopes:
        local = {node.string(1): node for node in nodes}
        for node in nodes:
            if node.string(2) != "LookupTableImportV2":
                continue
            name = node.strings(3)[1].lstrip("^").split(":")[0]  # inputs: table, keys, values
            constant = local.get(name) or top_level.get(_captured_constant(meta_graph, function, name))
            tensor = constant.map(5).get("value", Message({})).message(8) if constant else Message({})  # attr.tensor
            if tensor.int(1) == 7:  # DT_STRING
                keys += tensor.strings(8)  # TensorProto.string_val
    return list(dict.fromkeys(keys))


def _captured_constant(meta_graph: Message, function: Message | None, argument: str) -> str | None:
    """The top-level Const a TF2 function's argument was captured from, if it is one."""
    if function is None:
        return None
    arguments = [arg.string(1) for arg in function.message(1).messages(2)]  # signature.input_arg names
    concrete = meta_graph.message(7).map(2).get(function.message(1).string(1))  # object graph's concrete_functions
    if concrete is None or argument not in arguments:
        return None
    bound = concrete.ints(2)  # bound_inputs: the captures, after the ordinary arguments
    index = arguments.index(argument) - (len(arguments) - len(bound))
    objects = meta_graph.message(7).messages(1)
    if index < 0 or bound[index] >= len(objects):
        return None
    return objects[bound[index]].message(9).string(1) or None  # SavedObject.constant.operation


def _signature_aliases(meta_graph: Message, signatures: dict[str, Signature]) -> dict[str, str]:
    """Signatures that wrap the same function with the same specs as another one.

    Keras `model.export` writes `serve` and `serving_default` this way; converters keep one.
    """
    library = functions(meta_graph)
    groups: dict[tuple, list[str]] = {}
    for key, function in signature_functions(meta_graph).items():
        wrapper = library.get(function)
        if wrapper is None or key not in signatures:
            continue
        called = sorted(
            node.map(5).get("f", Message({})).message(10).string(1)  # attr["f"].func.name
            for node in wrapper.messages(3) if node.string(2).endswith("PartitionedCall")
        )
        signature = signatures[key]
        groups.setdefault((tuple(called), repr(signature.inputs), repr(signature.outputs)), []).append(key)
    aliases = {}
    for keys in groups.values():
        kept = "serving_default" if "serving_default" in keys else sorted(keys)[0]
        aliases |= {key: kept for key in keys if key != kept}
    return aliases


VARIABLE_OPS = {"VarHandleOp", "VariableV2", "Variable"}


def _variables(model_dir: Path, meta_graph: Message) -> list[Variable]:
    """The checkpoint's variables, refusing a model whose graph has variables but whose checkpoint
    was not copied with it (TensorFlow would only say "You may be trying to load on a different
    device…"). A TF1 model without variables legitimately has none; TF2 always restores one."""
    index = model_dir / "variables" / "variables.index"
    if not index.is_file():
        declared = _declared_variables(meta_graph)
        tf2 = bool(meta_graph.message(7).messages(1))  # an object graph, restored from the checkpoint
        if declared or tf2:
            why = f"the model has {declared} variable(s)" if declared else \
                "a TF2 SavedModel needs its checkpoint even without variables (it restores the object graph)"
            raise BadInputError(
                f"{index} is missing, but {why} — the checkpoint was not copied with the model: copy the whole "
                "SavedModel directory, including variables/ (variables.index and variables.data-*), or export it again"
            )
        return []
    try:
        entries = list(index_entries(index))
    except (WireError, struct.error) as exc:
        raise BadInputError(f"{index} is not a readable checkpoint index ({exc}) — export the model again") from None
    variables = [
        Variable(name=name, dtype=_dtype(entry.int(1)), bytes=entry.int(5),
                 shape=tuple(d.int(1) for d in entry.message(2).messages(2)))
        for name, entry in entries
        if not name.startswith("_CHECKPOINTABLE_OBJECT_GRAPH")
    ]
    if any(v.bytes for v in variables) and not any(index.parent.glob("variables.data-*")):
        raise BadInputError(f"{index.parent} has variables.index but no variables.data-* file — copy the whole "
                            "variables/ directory with the model, or export it again")
    return variables


def _declared_variables(meta_graph: Message) -> int:
    """How many variables the graph declares: variable ops of the top-level graph (TF1 and TF2
    SavedModels both restore through them), or variables of the TF2 object graph."""
    ops = sum(node.string(2) in VARIABLE_OPS for node in meta_graph.message(2).messages(1))  # graph_def.node
    objects = sum(7 in node.raw for node in meta_graph.message(7).messages(1))  # SavedObject.variable
    return max(ops, objects)


def _assets(model_dir: Path) -> list[Asset]:
    assets_dir = model_dir / "assets"
    if not assets_dir.is_dir():
        return []
    return [
        Asset(path=str(p.relative_to(assets_dir)), bytes=p.stat().st_size)
        for p in sorted(assets_dir.rglob("*"))
        if p.is_file()
    ]

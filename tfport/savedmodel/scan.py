"""Find ops that reach outside the model — files, network, processes — before anything runs it.

Loading a SavedModel runs its graph (init ops, then signatures), so a model from elsewhere is
read as data first: every node of the graph and its function library is checked against the
ops below. Save/Restore ops that belong to the model's own variable checkpoint are expected:
those the SaverDef's nodes run, in the top-level graph (a TF1 Saver) or in functions they call (TF2).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tfport.savedmodel.protowire import Message
from tfport.savedmodel.reader import (
    SAVED_MODEL_FILE,
    called_functions,
    corrupt_file_errors,
    functions,
    graph_dependencies,
    reachable_functions,
    read_saved_model_proto,
    resolve_model_dir,
)

FILE_SYSTEM, NETWORK, PROCESS = "file system", "network", "process"
RISKY_OPS = {
    **dict.fromkeys([
        "ReadFile", "WriteFile", "MatchingFiles", "DeleteFile", "ImmutableConst",
        "Save", "SaveV2", "SaveSlices", "Restore", "RestoreV2", "RestoreSlice", "MergeV2Checkpoints",
        "WholeFileReader", "WholeFileReaderV2", "TextLineReader", "TextLineReaderV2",
        "TFRecordReader", "TFRecordReaderV2", "FixedLengthRecordReader", "FixedLengthRecordReaderV2",
        "TFRecordDataset", "TFRecordDatasetV2", "TextLineDataset", "FixedLengthRecordDataset",
        "FixedLengthRecordDatasetV2", "SaveDataset", "SaveDatasetV2", "LoadDataset",
        "CreateSummaryFileWriter", "CreateSummaryDbWriter", "WriteSummary", "WriteScalarSummary",
        "DebugIdentityV2", "DebugIdentityV3", "EncodeWav", "DatasetToTFRecord",
    ], FILE_SYSTEM),
    **dict.fromkeys(["Rpc", "TryRpc", "RpcClient", "RpcCall", "RpcServer", "RpcServerRegister",
                     "RpcServerStart", "CollectiveReduceV2", "CollectiveGatherV2", "_Send", "_Recv"], NETWORK),
    **dict.fromkeys(["PyFunc", "PyFuncStateless", "EagerPyFunc"], PROCESS),
}
CHECKPOINT_OPS = {"SaveV2", "RestoreV2", "MergeV2Checkpoints", "Save", "Restore", "SaveSlices", "RestoreSlice"}


@dataclass(frozen=True)
class Finding:
    op: str
    node: str
    function: str  # "" for the top-level graph
    category: str
    detail: str = ""

    def describe(self) -> str:
        where = f"function {self.function}" if self.function else "the top-level graph"
        return f"{self.op} ({self.category}) — node {self.node!r} in {where}" + (f": {self.detail}" if self.detail else "")


def scan_saved_model(path: Path) -> list[Finding]:
    """Every risky op in the SavedModel; an empty list means nothing reaches outside the model."""
    model_dir, _ = resolve_model_dir(path)
    with corrupt_file_errors(model_dir / SAVED_MODEL_FILE):
        return _scan(read_saved_model_proto(model_dir))


def _scan(meta_graph: Message) -> list[Finding]:
    library = functions(meta_graph)
    saver = _saver_nodes(meta_graph)
    saver_names = {node.string(1) for node in saver}
    saver_functions = reachable_functions(library, [f for node in saver for f in called_functions(node)])
    top_level = meta_graph.message(2).messages(1)  # graph_def.node
    findings = [_check(node, "", node.string(1) in saver_names) for node in top_level]
    findings += [_check(node, name, name in saver_functions) for name, f in library.items() for node in f.messages(3)]
    return [finding for finding in findings if finding]


def _check(node: Message, function: str, in_checkpoint: bool) -> Finding | None:
    """A finding for a risky node; checkpoint ops are expected where the variable checkpoint runs them."""
    op, name = node.string(2), node.string(1)
    if op == "PrintV2":
        stream = node.map(5).get("output_stream", Message({})).string(2)
        if stream.startswith("file://"):
            return Finding(op, name, function, FILE_SYSTEM, f"prints to {stream}")
        return None
    category = RISKY_OPS.get(op)
    if category is None or (op in CHECKPOINT_OPS and in_checkpoint):
        return None
    return Finding(op, name, function, category)


def _saver_nodes(meta_graph: Message) -> list[Message]:
    """The variable checkpoint's nodes: those the SaverDef names (filename, save and restore) and
    all they depend on in the top-level graph. A TF1 Saver builds SaveV2, RestoreV2 and
    MergeV2Checkpoints right there; a TF2 one calls functions that do."""
    saver = meta_graph.message(3)  # saver_def
    named = [saver.string(1), saver.string(2), saver.string(3)]  # filename_tensor, save_tensor, restore_op
    return graph_dependencies(meta_graph, [name for name in named if name])


def refuse_untrusted(path: Path, trust: bool) -> None:
    """Stop before loading a model that reaches outside itself, unless the user trusts it."""
    findings = scan_saved_model(path)
    if findings and not trust:
        from tfport.errors import BadInputError

        listed = "; ".join(f.describe() for f in findings[:5]) + (f"; and {len(findings) - 5} more" if len(findings) > 5 else "")
        raise BadInputError(
            f"{path} has ops that reach outside the model, which loading it would run: {listed} — "
            "inspect it with `tfport scan`, and pass --trust only if you trust where it came from"
        )

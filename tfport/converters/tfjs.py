"""SavedModel -> one TF.js graph model per signature, with the tensorflowjs converter.

Keras 3's exact GELU (`Erfc`), grouped Conv2D and vocabulary-file tables are rewritten first
(tfport.savedmodel.rewrites.apply); any other op TF.js lacks fails the conversion by name.
tensorflowjs runs in its own environment (tfport.converters.tfjs_env), on the rewritten copy.

Control flow is kept functional (`control_flow_v2`): tensorflowjs's default lowers a functional
While (Keras 3's LSTM and GRU) into v1 frames in which the body's control node depends on each
loop variable's Switch; TF.js reads a control input on a Switch as its output 0 (the exit
branch), which stays empty while the loop runs, so the second iteration never starts and
executeAsync fails with "Cannot compute the outputs". TF.js runs a functional While's body and
condition as functions, correctly.
"""

from __future__ import annotations

import collections
import hashlib
import json
import re
import shutil
from pathlib import Path

from tfport.converters.tfjs_env import run_tensorflowjs
from tfport.converters.tfjs_format import tensor_spec
from tfport.converters.tfjs_loop_lists import store_returned_items
from tfport.converters.tfjs_wide_biases import make_biases_vectors
from tfport.errors import BadInputError, ConversionError
from tfport.logfile import native_errors, with_native_reason
from tfport.plugin import ArtifactMetadata, ConversionRequest, ConversionResult, RuntimeNeeds
from tfport.savedmodel.reader import read_saved_model_proto, signature_op_types
from tfport.savedmodel.tensorflow import tensorflow

# tfport mode -> tensorflowjs weight quantization. TF.js has no signed 1-byte weights: `int8`
# maps to the same 1-byte affine storage as `uint8` (per-tensor min and scale, dequantized to
# float32 when the model loads), so the two modes make identical files.
WEIGHT_DTYPES = {"float32": None, "fp16": "float16", "uint8": "uint8", "int8": "uint8", "uint16": "uint16"}
DEFAULT_SHARD_BYTES = 4 * 1024 * 1024
# The ops tensorflowjs lets through, and grappler's debug_stripper removes, with strip_debug_ops.
DEBUG_OPS = {"Assert", "CheckNumerics", "Print"}


def convert(request: ConversionRequest) -> ConversionResult:
    tensorflow()
    model = request.saved_model
    artifact = request.out_dir / f"{model.name}.tfjs"
    artifact.mkdir()
    weight_dtype = WEIGHT_DTYPES[request.quantization]
    shard = request.options.get("shard_size") or DEFAULT_SHARD_BYTES
    if shard < 1:
        raise BadInputError(f"--shard-size {shard}: give a positive number of bytes")
    notes = [_quantization_note(request.quantization, weight_dtype)] if weight_dtype else []
    directories = {key: model_dir_name(key) for key in model.distinct_signatures}
    directories.update({alias: directories[kept] for alias, kept in model.aliases.items()})
    from tfport.savedmodel.rewrites.apply import rewritten_model

    meta_graph = read_saved_model_proto(model.path)  # what each signature runs, for notes and failure reasons

    with rewritten_model(model.path, erfc=True, flat_lookups=True, grouped_conv=True,
                         einsum_matmuls=True) as (source, rewrite_notes):
        notes += rewrite_notes
        outs = {key: artifact / directories[key] for key in model.distinct_signatures}
        versions = _run_tensorflowjs(source, model, outs, weight_dtype, shard, meta_graph)
        from tfport.savedmodel.signature_tensors import signature_tensors

        for key in model.distinct_signatures:
            model_json = artifact / directories[key] / "model.json"
            _key_by_signature(model_json, signature_tensors(source, model.tags, key))
            notes += _wide_biases_note(*make_biases_vectors(model_json), key)
            rewired = store_returned_items(model_json)
            notes += [f"signature {key!r}: {rewired} loop write(s) to a TensorList store the copy the loop body "
                      "returns, which TF.js keeps (on wasm it frees the original after each step)"] if rewired else []
            notes += _debug_ops_note(signature_op_types(meta_graph, key), key)
            notes += _unused_inputs(model_json, model.signatures[key], key)
    notes += model.alias_notes(lambda kept: f"it runs {directories[kept]}/model.json")
    metadata = ArtifactMetadata(
        converter=f"tensorflowjs {versions['tensorflowjs']} (TensorFlow {versions['tensorflow']}, in tfport's "
                  "converter environment)",
        runtime=_runtime_needs(artifact / directories[model.distinct_signatures[0]] / "model.json"),
        io={key: _signature_io(artifact / directories[key] / "model.json") for key in model.distinct_signatures},
        signature_aliases=model.aliases,
        target_data={"weight_dtype": weight_dtype or "float32", "model_dirs": directories,
                     "output_dtypes": {key: {n: s.dtype for n, s in sig.outputs.items()}
                                       for key, sig in model.signatures.items()}})
    if request.options.get("bundle"):
        from tfport.converters.tfjs_bundle import write_bundle

        notes.append(write_bundle(artifact, model, directories))
    return ConversionResult(artifact=artifact, notes=notes, metadata=metadata)


# Names the bundle, the parity server (/tfjs/) and `tfport parity` reports use inside the artifact.
RESERVED_NAMES = {"index.js", "index.d.ts", "readme.md", "parity.html", "tfjs-global.js", "tfjs", "tfport",
                  "report.json", "report.md", "report.html", "junit.xml", "tfport.json"}


def model_dir_name(key: str) -> str:
    """The signature key as a directory name, unless it could leave the artifact or clash."""
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", key) and key.lower() not in RESERVED_NAMES:
        return key
    readable = re.sub(r"[^A-Za-z0-9_.-]", "_", key).lstrip(".") or "signature"
    return f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def _quantization_note(mode: str, weight_dtype: str) -> str:
    if weight_dtype == "float16":
        return "weights stored as float16 (half the size), computed in float32"
    kind = "1-byte" if weight_dtype == "uint8" else "2-byte"
    mapped = " (TF.js has no signed 1-byte weights: int8 is stored as uint8, the same file)" if mode == "int8" else ""
    return f"weights stored as {kind} affine {weight_dtype} with a per-tensor min and scale{mapped}; " \
           "activations stay float32"


def _run_tensorflowjs(source: Path, model, outs: dict[str, Path], weight_dtype: str | None, shard: int,
                      meta_graph) -> dict[str, str]:
    """Every signature's graph model, in tensorflowjs's environment; the versions it ran."""
    request = {"saved_model": str(source), "tags": ",".join(model.tags) or "serve",
               "signatures": [{"key": key, "out": str(out), "weight_dtype": weight_dtype, "shard": shard}
                              for key, out in outs.items()]}
    with native_errors() as tensorflow_errors:
        reply = run_tensorflowjs(request)
    if "failed" in reply:
        key = reply["failed"]
        for out in outs.values():
            shutil.rmtree(out, ignore_errors=True)
        reason = _reason(reply["error"], signature_op_types(meta_graph, key), set(reply["known_ops"]))
        raise ConversionError(f"tensorflowjs cannot convert signature {key!r}: "
                              f"{with_native_reason(reason, tensorflow_errors())}")
    return reply["versions"]


def _key_by_signature(model_json: Path, tensors) -> None:
    """Key model.json's signature by the SavedModel's own input and output keys.

    tensorflowjs finds a tensor's key by its dtype and shape, and keeps the tensor's name (`x:0`,
    `Identity_1:0`) when several tensors share both, for dict outputs and for TF1 signatures."""
    data = json.loads(model_json.read_text(encoding="utf-8"))
    signature = data["signature"]
    for side, keys in (("inputs", tensors.inputs), ("outputs", tensors.outputs)):
        signature[side] = {keys.get(entry["name"], name): entry for name, entry in signature.get(side, {}).items()}
    model_json.write_text(json.dumps(data), encoding="utf-8")


def _wide_biases_note(reshaped: int, unfused: int, key: str) -> list[str]:
    """What tfport.converters.tfjs_wide_biases changed, for the report (parity checks it)."""
    done = [f"{reshaped} broadcast constant bias(es) given rank 1"] * bool(reshaped) + [
        f"{unfused} op(s) unfused into the op and an AddV2 of its bias"] * bool(unfused)
    return [f"signature {key!r}: fused op(s) with a bias of rank > 1, which TF.js's wasm backend refuses: "
            f"{' and '.join(done)}"] if done else []


def _debug_ops_note(ops: list[str], key: str) -> list[str]:
    """Say which debug ops the TF.js model left out: the checks they make in TensorFlow do not run."""
    counts = collections.Counter(op for op in ops if op in DEBUG_OPS)
    if not counts:
        return []
    listed = ", ".join(f"{op} ×{n}" if n > 1 else op for op, n in sorted(counts.items()))
    return [f"signature {key!r}: stripped debug op(s) {listed}, which TF.js cannot run — the checks they make "
            "in TensorFlow (asserts, NaN checks) do not run in the TF.js model"]


def _signature_io(model_json: Path) -> dict[str, dict]:
    """Inputs and outputs as model.json declares them (TF.js computes int64 as int32)."""
    signature = json.loads(model_json.read_text())["signature"]

    def spec(tensor: dict) -> dict:
        dtype, shape = tensor_spec(tensor)
        return {"tfjs_name": tensor["name"], "dtype": dtype, "shape": list(shape) if shape is not None else []}

    return {side: {key: spec(tensor) for key, tensor in signature.get(side, {}).items()} for side in ("inputs", "outputs")}


def _runtime_needs(model_json: Path) -> RuntimeNeeds:
    """The format; the TF.js release parity runs on is the minimum the target states (older
    releases may load the model too, but nobody checked)."""
    data = json.loads(model_json.read_text())
    return RuntimeNeeds(name="@tensorflow/tfjs (tfjs-core + tfjs-converter)",
                        min_version_source="the TF.js release parity ran on (older releases are not checked)",
                        details={"format": data.get("format"), "converted_by": data.get("convertedBy")})


def _reason(text: str, ops: list[str], known_ops: set[str]) -> str:
    """tensorflowjs's error in words: the ops TF.js lacks, or its last line."""
    unsupported = re.search(r"Unsupported Ops in the model[^\n]*\n(.+)", text, re.S)
    if unsupported:
        ops = sorted(set(re.findall(r"\w+", unsupported.group(1).split("\n\n")[0])))
        return f"TF.js has no kernel for op(s) {', '.join(ops)}"
    lines = [line for line in text.splitlines() if line.strip()]
    reason = lines[-1] if lines else "tensorflowjs failed"
    lacking = sorted(set(ops) - known_ops - FROZEN_AWAY - DEBUG_OPS)  # it can fail on them before its own op check
    return f"TF.js has no kernel for op(s) {', '.join(lacking)} (tensorflowjs: {reason})" if lacking else reason


# Ops that freezing removes or turns into constants, so TF.js never needs a kernel for them.
FROZEN_AWAY = {"VarHandleOp", "ReadVariableOp", "AssignVariableOp", "VarIsInitializedOp", "StatefulPartitionedCall",
               "PartitionedCall", "NoOp", "Identity", "IdentityN", "Placeholder", "Const", "VariableV2"}


def _unused_inputs(model_json: Path, signature, key: str) -> list[str]:
    """Notes on SavedModel inputs the graph model dropped (no output depends on them); every output must be there."""
    graph = json.loads(model_json.read_text())["signature"]
    missing = sorted(set(signature.outputs) - set(graph.get("outputs", {})))
    if missing:
        raise ConversionError(f"the TF.js model of signature {key!r} lost output(s) {', '.join(missing)}")
    unused = sorted(set(signature.inputs) - set(graph.get("inputs", {})))
    return [f"signature {key!r}: no output depends on input(s) {', '.join(unused)}; the TF.js model ignores them"
            ] if unused else []

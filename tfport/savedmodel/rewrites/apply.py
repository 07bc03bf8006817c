"""Rewrite a copy of a SavedModel into a form converters handle, computing the same function.

- Vocabulary tables (tfport.savedmodel.rewrites.fold_tables): TFLite keeps a table initialized from constants but
  silently drops one initialized from a file, and TF.js cannot run the latter at all.
- Table lookups (tfport.savedmodel.rewrites.flat_lookups, for TF.js): TF.js drops the keys' shape from the values.
- TF1 tables (tfport.savedmodel.rewrites.tf1_tables): a main op fills tables that only the `table_initializer`
  collection names (TFLite sees no other initializer); the collection goes for tf2onnx, which
  fails on it.
- String <-> int32 tables, TF1 or TF2 (tfport.savedmodel.rewrites.int32_tables): the int32 side becomes int64, the
  only kind tf2onnx and TFLite builtins convert.
- jit_compile functions (Keras 3 wraps `Conv2D(groups > 1)` in one): converters do not inline a
  call marked `_XlaMustCompile` (or `_noinline`) and fail on the call op; the marks are dropped.
  TensorFlow's CPU kernels need not run grouped Conv2D without XLA, which is fine: only
  converters read the copy, and they build graphs from it without running them on TensorFlow.
- Sign-bit tests on a float's bits (tfport.savedmodel.rewrites.sign_bit; Keras 3's argmax and argmin): Bitcast and
  BitwiseAnd become float comparisons, which TFLite builtins, ONNX and TF.js have.
- Grouped Conv2D (tfport.savedmodel.rewrites.grouped_conv, for TF.js, whose Conv2D has no groups): DepthwiseConv2dNative,
  or a Conv2D per group.
- Keras 2's LSTM functions (`api_implements: lstm_…`, with unfused_lstm, for TFLite): TFLite
  fuses them into UNIDIRECTIONAL_SEQUENCE_LSTM, whose state lives in variable tensors that one
  call leaves for the next (measured: a second call off by 0.07 on an 8-unit LSTM); without the
  mark the loop becomes a builtin WHILE that starts from zeros on every call, as the model does.
- tf.print left in (tfport.savedmodel.rewrites.debug_prints): removed, for every target.
- StridedSlice with new axes, Roll, set_diag (tfport.savedmodel.rewrites.builtin_forms): ops
  that send a whole TFLite file to Flex, or that TF.js, ONNX or OpenVINO lack, as ops all have.
- ResourceGather (tfport.savedmodel.rewrites.variable_gathers): a read and a GatherV2, which freeze.
- |RFFT(x)| (tfport.savedmodel.rewrites.spectra, with spectrum_magnitudes, for ONNX): a real DFT.
- Einsum (builtin_forms, with einsum_matmuls, for TF.js): Transpose, Reshape and a batched MatMul;
  the wasm backend has no Einsum kernel (every Keras MultiHeadAttention and EinsumDense).
- Erfc (Keras 3's exact GELU, 0.5·x·erfc(-x/√2)): tensorflowjs rejects it and onnxruntime has no
  kernel for it; Erfc(x) becomes Sub(1, Erf(x)), in the graph and in every function (loop bodies
  included). 1 - Erf(x) is exact to ~1e-7 absolute, where erfc itself is tiny (x ≳ 2).

The original is never touched: the copy links to the original's variables and assets and holds
only the rewritten saved_model.pb (fingerprint.pb is left out: the graph changed).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from tfport.savedmodel.reader import SAVED_MODEL_FILE
from tfport.savedmodel.rewrites.builtin_forms import EINSUM_FORMS, FORMS, rewrite_builtin_forms
from tfport.savedmodel.rewrites.debug_prints import remove_debug_prints
from tfport.savedmodel.rewrites.flat_lookups import flatten_lookup_keys
from tfport.savedmodel.rewrites.fold_tables import fold_vocabulary_tables
from tfport.savedmodel.rewrites.graph_edit import add_constant, add_node, output_name, rename_output, scopes
from tfport.savedmodel.rewrites.grouped_conv import rewrite_grouped_convolutions
from tfport.savedmodel.rewrites.int32_tables import widen_int32_tables
from tfport.savedmodel.rewrites.sign_bit import rewrite_sign_bit_tests
from tfport.savedmodel.rewrites.spectra import rewrite_spectrum_magnitudes
from tfport.savedmodel.rewrites.tf1_tables import add_table_main_op, remove_table_collection
from tfport.savedmodel.rewrites.variable_gathers import read_then_gather
from tfport.savedmodel.tensorflow import tensorflow

SKIPPED = {SAVED_MODEL_FILE, "fingerprint.pb"}  # rewritten, or stale once the graph changed
BUILTIN_FORMS = {"StridedSlice": "the slice without new axes plus ExpandDims (new_axis_mask, e.g. mask[:, None])",
                 "Roll": "a Gather of (i - shift) mod n per axis",
                 "MatrixSetDiagV3": "a Select on row == column (set_diag)",
                 "MatrixBandPart": "a Select on column - row (band_part)",
                 "CombinedNonMaxSuppression": "one NonMaxSuppressionV5 over every image and class, then the "
                                              "per-class and total limits by rank",
                 "Einsum": "Transpose, Reshape and a batched MatMul (TF.js's wasm backend has no Einsum)"}


@contextlib.contextmanager
def rewritten_model(model_dir: Path, erfc: bool = False, flat_lookups: bool = False, grouped_conv: bool = False,
                    drop_table_collection: bool = False, unfused_lstm: bool = False,
                    spectrum_magnitudes: bool = False,
                    einsum_matmuls: bool = False) -> Iterator[tuple[Path, list[str]]]:
    """(directory to convert, one note per rewrite): the model itself when nothing was rewritten."""
    with tempfile.TemporaryDirectory(prefix="tfport-rewritten-") as scratch:
        copy = Path(scratch) / Path(model_dir).name
        notes = rewrite_saved_model(model_dir, copy, erfc=erfc, flat_lookups=flat_lookups, grouped_conv=grouped_conv,
                                    drop_table_collection=drop_table_collection, unfused_lstm=unfused_lstm,
                                    spectrum_magnitudes=spectrum_magnitudes, einsum_matmuls=einsum_matmuls)
        yield (copy if notes else Path(model_dir)), notes


def rewrite_saved_model(model_dir: Path, out_dir: Path, erfc: bool = False, flat_lookups: bool = False,
                        grouped_conv: bool = False, drop_table_collection: bool = False,
                        unfused_lstm: bool = False, spectrum_magnitudes: bool = False,
                        einsum_matmuls: bool = False) -> list[str]:
    """Write the rewritten copy to `out_dir` and say what changed; [] writes nothing."""
    tensorflow()
    from tensorflow.core.protobuf import saved_model_pb2

    model_dir = Path(model_dir)
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((model_dir / SAVED_MODEL_FILE).read_bytes())
    notes = [f"folded vocabulary table into the graph: {f}" for f in fold_vocabulary_tables(saved_model, model_dir)]
    notes += [f"lookup table {table!r} holds int64 instead of int32, cast at its imports and lookups (tf2onnx and "
              "TFLite builtins convert only string <-> int64 tables)" for table in widen_int32_tables(saved_model)]
    notes += [f"added main op {name!r} filling the tables of the TF1 table_initializer collection, which only "
              "TensorFlow's Python loader runs by itself" for name in add_table_main_op(saved_model)]
    count = remove_table_collection(saved_model) if drop_table_collection else 0
    notes += ["dropped the TF1 table_initializer collection (the main op fills the tables): signature functions "
              "inherit it, and freezing them fails on initializers they do not contain"] if count else []
    count = remove_debug_prints(saved_model)
    notes += [f"removed {count} tf.print call(s) (PrintV2, Print): printing is no part of what the model computes, "
              "and no target but TensorFlow runs it (TFLite would need Flex for it)"] if count else []
    forms = rewrite_builtin_forms(saved_model, {**FORMS, **(EINSUM_FORMS if einsum_matmuls else {})})
    notes += [f"rewrote {count} {op} op(s) as {BUILTIN_FORMS[op]}, which every target has (checked by parity)"
              for op, count in sorted(forms.items())]
    count = read_then_gather(saved_model)
    notes += [f"rewrote {count} gather(s) from a variable (ResourceGather, e.g. an embedding in a loop) as a read of "
              "the variable and a GatherV2, which freezing makes constant"] if count else []
    count = drop_xla_must_compile(saved_model)
    notes += [f"dropped jit_compile (_XlaMustCompile, _noinline) from {count} function(s) so converters inline them "
              "(Keras 3 puts Conv2D with groups > 1 in one)"] if count else []
    count = rewrite_sign_bit_tests(saved_model)
    notes += [f"rewrote {count} sign-bit test(s) on a float's bits (Bitcast, BitwiseAnd: Keras 3 argmax/argmin's "
              "-0.0 check) as x < 0 or 1/x < 0"] if count else []
    depthwise, split = rewrite_grouped_convolutions(saved_model) if grouped_conv else (0, 0)
    notes += [f"rewrote {depthwise} grouped Conv2D(s) with groups == input channels as DepthwiseConv2dNative"
              ] if depthwise else []
    notes += [f"rewrote {split} grouped Conv2D(s) as Split, one Conv2D per group and ConcatV2"] if split else []
    count = unmark_keras_lstm(saved_model) if unfused_lstm else 0
    notes += [f"unmarked {count} Keras 2 LSTM function(s) (api_implements) so TFLite keeps them a WHILE loop: its "
              "fused LSTM op carries the state from one call into the next"] if count else []
    count = rewrite_spectrum_magnitudes(saved_model) if spectrum_magnitudes else 0
    notes += [f"rewrote {count} spectrum magnitude(s) |RFFT(x)| as a real DFT (MatMuls with cosine and sine "
              "tables): ONNX has no complex tensors, and tf2onnx's RFFT needs static dims"] if count else []
    count = rewrite_erfc(saved_model) if erfc else 0
    notes += [f"rewrote {count} Erfc op(s) (Keras exact GELU) as 1 - Erf"] if count else []
    count = flatten_lookup_keys(saved_model) if flat_lookups else 0
    notes += [f"table lookups ({count}) take flattened keys and reshape the values back, as TF.js returns "
              "one value per key without the keys' shape"] if count else []
    if notes:
        write_linked_copy(model_dir, out_dir, saved_model)
    return notes


def write_linked_copy(model_dir: Path, out_dir: Path, saved_model) -> None:
    """`out_dir` as a copy of the model whose saved_model.pb is `saved_model` (a parsed proto);
    every other file links to the original's."""
    out_dir.mkdir(parents=True)
    for entry in Path(model_dir).iterdir():
        if entry.name not in SKIPPED:
            (out_dir / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    (out_dir / SAVED_MODEL_FILE).write_bytes(saved_model.SerializeToString())


def drop_xla_must_compile(saved_model) -> int:
    """Unmark the functions that must be XLA-compiled, and every call of them; return how many functions.

    jit_compile also marks the function `_noinline`, which TFLiteConverter obeys (it then fails on
    the call op), so that mark goes too, on these functions only."""
    count = 0
    for meta_graph in saved_model.meta_graphs:
        graph = meta_graph.graph_def
        for function in graph.library.function:
            if "_XlaMustCompile" in function.attr and function.attr.pop("_XlaMustCompile").b:
                function.attr.pop("_noinline", None)
                count += 1
        for node in [*graph.node, *(n for f in graph.library.function for n in f.node_def)]:
            node.attr.pop("_XlaMustCompile", None)
    return count


def unmark_keras_lstm(saved_model) -> int:
    """Drop `api_implements: lstm_…` (Keras 2's mark for swapping in a fused LSTM) from every
    function; return how many."""
    count = 0
    for meta_graph in saved_model.meta_graphs:
        for function in meta_graph.graph_def.library.function:
            if "api_implements" in function.attr and function.attr["api_implements"].s.startswith(b"lstm_"):
                del function.attr["api_implements"]
                count += 1
    return count


def rewrite_erfc(saved_model) -> int:
    """Replace every Erfc in a parsed SavedModel proto (graphs and functions); return the count."""
    return sum(_rewrite_nodes(nodes, function) for nodes, function in scopes(saved_model))


def _rewrite_nodes(nodes, function) -> int:
    """Erfc(x) -> Sub(1, Erf(x)) in a graph (function None) or a function body; the node keeps its
    name, so readers and control dependencies on it hold (tfport.savedmodel.rewrites.graph_edit)."""
    tf = tensorflow()
    count = 0
    for node in [n for n in nodes if n.op == "Erfc"]:
        dtype = node.attr["T"].type
        data_inputs = [i for i in node.input if not i.startswith("^")]
        control = [i for i in node.input if i.startswith("^")]
        one = add_constant(nodes, f"{node.name}/tfport_one", np.array(1, tf.as_dtype(dtype).as_numpy_dtype), node.device)
        if function is None:  # in a TF1 graph, keep the constant in the frame of its consumer (loops)
            one.input.append("^" + data_inputs[0].split(":")[0])
        erf = add_node(nodes, f"{node.name}/tfport_erf", "Erf", [data_inputs[0], *control], node.device, T=dtype)
        node.op = "Sub"
        node.input[:] = [output_name(one.name, function, "output"), output_name(erf.name, function, "y")]
        rename_output(nodes, function, node.name, "y", "z")  # Erfc's output is `y`, Sub's `z`
        count += 1
    return count

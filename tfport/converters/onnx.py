"""SavedModel -> one `<signature>.onnx` per signature with tf2onnx, each validated before it counts.

Layout: `<out_dir>/<model>.onnx/<signature>.onnx` (and `<signature>.onnx.data` when weights are
kept as external data). Signatures that are the same function as another (Keras exports `serve`
and `serving_default`) are converted once; the runner answers them with the kept file.

tf2onnx can finish without error and still emit a graph onnxruntime cannot load: an op it has no
handler for passes through under its TensorFlow name. `Erfc` (Keras 3's exact GELU) is rewritten
to 1 - Erf(x) in the SavedModel first (tfport.savedmodel.rewrites.apply); any other such op fails by op type
and node name. Then every file must pass onnx.checker, strict shape inference and load in onnxruntime.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import traceback
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

from tfport.converters import onnx_labels as labels
from tfport.errors import BadInputError, ConversionError
from tfport.logfile import native_errors, with_native_reason
from tfport.plugin import ArtifactMetadata, ConversionRequest, ConversionResult, RuntimeNeeds
from tfport.savedmodel.rewrites.apply import rewritten_model
from tfport.savedmodel.tensorflow import tensorflow

PROTOBUF_LIMIT = 2_000_000_000  # bytes; above it weights must live in external data
ONNX_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")  # ops here must be defined by ONNX itself
EXTERNAL_THRESHOLD = 1024  # bytes; smaller tensors (shapes, scales) stay in the .onnx, as onnx does by default
MIN_OPSET = 9  # tf2onnx's oldest well-supported opset
# The first onnxruntime release implementing each opset (onnxruntime's compatibility table).
ONNXRUNTIME_FOR_OPSET = {9: "0.3", 10: "0.4", 11: "1.0", 12: "1.3", 13: "1.6", 14: "1.8", 15: "1.9",
                         16: "1.11", 17: "1.12", 18: "1.14", 19: "1.15", 20: "1.17", 21: "1.18"}
ONNX_DTYPES = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string",
               9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 16: "bfloat16"}


def supported_opsets() -> range:
    from tf2onnx import constants

    return range(MIN_OPSET, max(constants.OPSET_TO_IR_VERSION) + 1)


def default_opset() -> int:
    """The newest opset the installed tf2onnx, onnx and onnxruntime all support."""
    import onnx

    ceiling = min(supported_opsets()[-1], onnx.defs.onnx_opset_version())
    return next((opset for opset in range(ceiling, MIN_OPSET - 1, -1) if _runtime_loads(opset)), MIN_OPSET)


def _runtime_loads(opset: int) -> bool:
    """Does onnxruntime load a one-node model of this opset?"""
    import onnxruntime
    from onnx import TensorProto, helper
    from tf2onnx import constants

    tensor = helper.make_tensor_value_info
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "opset_probe",
                              [tensor("x", TensorProto.FLOAT, [1])], [tensor("y", TensorProto.FLOAT, [1])])
    probe = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              ir_version=constants.OPSET_TO_IR_VERSION[opset])
    try:
        onnxruntime.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception:  # onnxruntime's own exception types: this opset is too new for it
        return False
    return True


def convert(request: ConversionRequest) -> ConversionResult:
    tensorflow()  # before tf2onnx imports it: quiet logs, reproducible kernels
    model = request.saved_model
    opset, opset_note = _opset(request.options.get("opset"))
    external = bool(request.options.get("external_data")) or model.variable_bytes > PROTOBUF_LIMIT
    artifact = request.out_dir / f"{model.name}.onnx"
    artifact.mkdir()
    notes = [opset_note]
    io: dict[str, dict] = {}
    if external:
        notes.append("external data: tensors of 1 KiB or more are stored in <signature>.onnx.data beside each .onnx"
                     + ("" if request.options.get("external_data") else " (the variables exceed 2 GB)"))
    # tables (TF1: without the table_initializer collection), Erfc (exact GELU)
    with rewritten_model(model.path, erfc=True, drop_table_collection=True, spectrum_magnitudes=True
                         ) as (source, rewrite_notes):
        notes += rewrite_notes
        for key in model.distinct_signatures:
            aliases = sorted(alias for alias, kept in model.aliases.items() if kept == key)
            proto, storage = _tf2onnx_any_mode(source, model, key, opset, external, notes)
            _refuse_tensorflow_ops(proto, key, opset)
            _label(proto, model.signatures[key], key, aliases)
            path = artifact / f"{key}.onnx"
            _save(proto, storage, path, external)
            del proto, storage
            if request.quantization != "float32":
                _quantize(request, key, path, external)
            _validate(path, key)
            io[key] = _signature_io(path)
    notes += model.alias_notes(lambda kept: f"it runs {kept}.onnx")
    metadata = ArtifactMetadata(
        converter=f"tf2onnx {version('tf2onnx')}", runtime=_runtime_needs(artifact, model.distinct_signatures), io=io,
        signature_aliases=model.aliases, target_data={"opset": opset, "external_data": external, "onnx": version("onnx"),
                                                      "files": {key: f"{key}.onnx" for key in model.distinct_signatures}})
    return ConversionResult(artifact=artifact, notes=notes, metadata=metadata)


def _opset(requested: int | None) -> tuple[int, str]:
    import onnxruntime

    supported = supported_opsets()
    if requested is None:
        opset = default_opset()
        return opset, (f"opset {opset}: the newest that tf2onnx {version('tf2onnx')} and onnxruntime "
                       f"{onnxruntime.__version__} both support (--opset to choose)")
    if requested not in supported:
        raise BadInputError(f"--opset {requested}: tf2onnx {version('tf2onnx')} converts to opsets "
                            f"{supported[0]} to {supported[-1]}")
    return requested, f"opset {requested} (--opset)"


class _Tf2onnxLog(logging.Handler):
    """Collects what tf2onnx logs about ops it could not convert (it raises only the first error,
    often without naming the node)."""

    FAILED = re.compile(r"Failed to convert node '([^']+)'")

    def __init__(self):
        super().__init__(logging.ERROR)
        self.failed_nodes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call inside tf2onnx must not break the conversion
            return
        match = self.FAILED.search(message)
        if match:
            self.failed_nodes.append(match.group(1))


@contextlib.contextmanager
def _tf2onnx_log() -> Iterator[_Tf2onnxLog]:
    logger = logging.getLogger("tf2onnx")
    handler = _Tf2onnxLog()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _tf2onnx_any_mode(source: Path, model, key: str, opset: int, external: bool, notes: list[str]):
    """With external data, tf2onnx's large-model mode (the only one past 2 GB); when that mode
    fails on a model that fits in a protobuf (it cannot convert lookup tables, for one), the
    regular mode, saved with external data all the same."""
    if not external:
        return _tf2onnx(source, model, key, opset, large_model=False)
    try:
        return _tf2onnx(source, model, key, opset, large_model=True)
    except ConversionError as exc:
        if model.variable_bytes > PROTOBUF_LIMIT:
            raise
        converted = _tf2onnx(source, model, key, opset, large_model=False)
        reason = str(exc).removeprefix(f"tf2onnx cannot convert signature {key!r}: ")
        notes.append(f"signature {key!r}: tf2onnx's large-model mode failed ({reason}); converted in its regular "
                     "mode, weights still saved as external data")
        return converted


def _tf2onnx(source: Path, model, key: str, opset: int, large_model: bool):
    """(ModelProto, tf2onnx's external tensor storage or None) for one signature.

    Inputs and outputs come out named after the signature's keys (tf2onnx's tensors_to_rename).
    """
    import numpy as np
    from tf2onnx import tf_loader, utils
    from tf2onnx.convert import _convert_common  # what tf2onnx's own --saved-model CLI calls

    from tfport.savedmodel.signature_tensors import signature_tensors

    # tf2onnx numbers the nodes it makes (Conv__352) from a counter global to the process: from 1,
    # a model converts to the same names every time — the names `--keep-float` and explain use.
    utils.INTERNAL_NAME = 1
    if large_model and not hasattr(np, "product"):
        np.product = np.prod  # tf2onnx 1.17's large-model path still calls this alias numpy 2 removed
    graph_def = None
    with _tf2onnx_log() as log, native_errors() as tensorflow_errors:
        try:
            graph_def, inputs, outputs, tables, renames = tf_loader.from_saved_model(
                str(source), None, None, tag=list(model.tags) or None, signatures=[key], large_model=large_model,
                return_initialized_tables=True, return_tensors_to_rename=True,
            )
            tensors = signature_tensors(source, model.tags, key)  # tf2onnx lower-cases keys (`X` -> `x`)
            renames |= {**tensors.inputs, **tensors.outputs}
            convert = functools.partial(_convert_common, graph_def, name=key, opset=opset, input_names=inputs,
                                        output_names=outputs, large_model=large_model, tensors_to_rename=renames,
                                        initialized_tables=tables)
            try:
                with _optimizer_copies(False):
                    return convert()
            except Exception as exc:
                if not _raised_in_optimizer(exc):
                    raise
            utils.INTERNAL_NAME = 1
            with _optimizer_copies(True):  # the optimizer that failed is skipped, as tf2onnx does by default
                return convert()
        except Exception as exc:  # tf2onnx raises plain exceptions (ValueError, AssertionError, ...)
            raise ConversionError(f"tf2onnx cannot convert signature {key!r}: "
                                  f"{with_native_reason(_failure(exc, log.failed_nodes, graph_def), tensorflow_errors())}"
                                  ) from None


CATCH_ERRORS = "TF2ONNX_CATCH_ERRORS"  # tf2onnx 1.17 reads only whether it is set: set, it copies nothing
_catch_errors_lock = threading.Lock()


@contextlib.contextmanager
def _optimizer_copies(catching: bool) -> Iterator[None]:
    """tf2onnx's ONNX optimizers with or without their safety copies. By default tf2onnx deep-copies
    the whole graph, weights included, before each of its ~24 optimizers, to fall back to the copy
    if one fails: 2.0 of the 2.8 s of MobileNetV2's conversion, and 450 MB of peak memory. Without
    them (its large-model mode's way) the same optimizers make the same graph (but for which of
    several equal constants keeps its name, which varies from run to run with the copies too);
    when one fails, tfport converts again with the copies. A value the user set is left alone."""
    with _catch_errors_lock:
        user_set = CATCH_ERRORS in os.environ
        if not user_set and not catching:
            os.environ[CATCH_ERRORS] = "FALSE"
        try:
            yield
        finally:
            if not user_set:
                os.environ.pop(CATCH_ERRORS, None)


def _raised_in_optimizer(exc: Exception) -> bool:
    return any(f"tf2onnx{os.sep}optimizer" in frame.filename for frame in traceback.extract_tb(exc.__traceback__))


def _failure(exc: Exception, failed_nodes: list[str], graph_def) -> str:
    """tf2onnx's last message line, with the op type and name of each node it failed on."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    reason = (lines[-1] if lines else type(exc).__name__).removeprefix("make_sure failure: ")
    types, functions = {}, []
    if graph_def is not None:
        functions = [f.node_def for f in graph_def.library.function]
        types = {node.name: node.op for nodes in [graph_def.node, *functions] for node in nodes}
    complex_ops = sorted({node.op for nodes in ([graph_def.node, *functions] if graph_def is not None else [])
                          for node in nodes if _on_complex_values(node)})
    if complex_ops:
        return (f"ONNX has no complex tensors, and tf2onnx converts complex values only as an RFFT read by ComplexAbs: "
                f"op(s) {', '.join(complex_ops)} compute on complex64 here (tf2onnx: {reason})")
    if not failed_nodes:  # it crashed before naming a node: name the ops it has no conversion for
        lacking = sorted({op for op in types.values() if not _has_handler(op)} - CONVERTED_WITHOUT_HANDLER)
        return f"no conversion for TensorFlow op(s) {', '.join(lacking)} (tf2onnx: {reason})" if lacking else reason
    where = "; ".join(f"{types.get(name, 'op')} node {name!r}" for name in dict.fromkeys(failed_nodes))
    return f"{reason} (failed on {where})"


COMPLEX_TYPES = {8, 18}  # DT_COMPLEX64, DT_COMPLEX128
SPECTRUM_OPS = {"RFFT", "ComplexAbs"}  # the one complex pattern tf2onnx converts


def _on_complex_values(node) -> bool:
    """Whether a node computes on complex values, beyond the RFFT -> ComplexAbs pattern."""
    types = [value.type for key, value in node.attr.items() if key in ("T", "Tout", "Tcomplex")]
    return node.op not in SPECTRUM_OPS and (bool(COMPLEX_TYPES & set(types)) or node.op in {"Complex", "Real", "Imag"})


# Ops of a frozen graph that tf2onnx inlines or rewrites (TF1 loops) before it looks for a handler.
CONVERTED_WITHOUT_HANDLER = {"PartitionedCall", "StatefulPartitionedCall", "TensorListElementShape", "Enter", "Exit",
                             "LoopCond", "Merge", "Switch", "NextIteration"}


def _refuse_tensorflow_ops(proto, key: str, opset: int) -> None:
    """TensorFlow ops tf2onnx passed through under their own names: say which, and from which opset
    tf2onnx would convert them."""
    import onnx

    from tfport.converters.onnx_graph import all_nodes

    left = [n for n in all_nodes(proto.graph) if n.domain in ONNX_DOMAINS and not onnx.defs.has(n.op_type, n.domain)]
    if left:
        ops = sorted({n.op_type for n in left})
        nodes = "; ".join(f"{n.op_type} node {n.name!r}" for n in left[:5]) + ("; …" if len(left) > 5 else "")
        later = {op: _first_opset_converting(op) for op in ops}
        hints = "".join(f"; tf2onnx converts {op} from opset {first} on: try --opset {first}"
                        for op, first in later.items() if first is not None and first > opset)
        raise ConversionError(f"tf2onnx cannot convert signature {key!r}: no conversion for TensorFlow op(s) "
                              f"{', '.join(ops)} at opset {opset} ({nodes}){hints}")


def _has_handler(op: str) -> bool:
    """Whether tf2onnx converts TensorFlow op `op` at some opset."""
    from tf2onnx.handler import tf_op

    return any(op in ops for ops in tf_op.get_opsets().get("", []))


def _first_opset_converting(op: str) -> int | None:
    """The oldest ONNX opset at which tf2onnx has a handler for TensorFlow op `op`, if any."""
    from tf2onnx.handler import tf_op

    handlers = tf_op.get_opsets().get("", [])
    return next((opset for opset, ops in enumerate(handlers) if op in ops and opset >= MIN_OPSET), None)


def _label(proto, signature, key: str, aliases: list[str]) -> None:
    """Record which SavedModel keys the graph's inputs and outputs stand for, and fill in shapes
    tf2onnx could not infer (e.g. after a lookup table) from the signature."""
    initializers = {t.name for t in proto.graph.initializer}
    graph_inputs = [i.name for i in proto.graph.input if i.name not in initializers]
    props = {
        labels.SIGNATURE: key,
        labels.INPUTS: json.dumps(_name_mapping(graph_inputs, list(signature.inputs), key, "inputs")),
        labels.OUTPUTS: json.dumps(_name_mapping([o.name for o in proto.graph.output], list(signature.outputs),
                                                   key, "outputs")),
        labels.ALIASES: json.dumps(aliases),
    }
    for name, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = name, value
    specs = {**signature.inputs, **signature.outputs}
    for value in [*proto.graph.input, *proto.graph.output]:
        spec = specs.get(value.name)
        tensor_type = value.type.tensor_type
        if spec is None or spec.shape is None or tensor_type.HasField("shape"):
            continue
        tensor_type.shape.SetInParent()
        for index, dim in enumerate(spec.shape):
            if dim is None:
                tensor_type.shape.dim.add().dim_param = f"{value.name}_dim{index}"
            else:
                tensor_type.shape.dim.add().dim_value = dim


def _name_mapping(onnx_names: list[str], keys: list[str], signature: str, what: str) -> dict[str, str]:
    """ONNX tensor name -> SavedModel signature key (tf2onnx renamed them to the keys)."""
    if sorted(onnx_names) != sorted(keys):
        raise ConversionError(
            f"tf2onnx named the {what} of signature {signature!r} {onnx_names}, not the signature's keys {keys}"
        )
    return {name: name for name in onnx_names}


def _save(proto, storage, path: Path, external: bool) -> None:
    import onnx

    from tfport.converters.onnx_graph import all_tensors

    if storage is not None:  # tf2onnx's large-model mode keeps tensors in a side table
        for tensor in all_tensors(proto.graph):
            if tensor.data_location == onnx.TensorProto.EXTERNAL:
                location = next(e.value for e in tensor.external_data if e.key == "location")
                tensor.raw_data = storage.name_to_tensor_data.pop(location)  # pop: hold each tensor once
                tensor.data_location = onnx.TensorProto.DEFAULT
                del tensor.external_data[:]
    if external:
        onnx.save_model(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=f"{path.name}.data", size_threshold=EXTERNAL_THRESHOLD, convert_attribute=True)
        _share_data_file(path)
    else:
        onnx.save_model(proto, str(path))


def _share_data_file(path: Path) -> None:
    """onnx creates the external data file readable by its owner only; give it the model's mode."""
    data = path.with_name(f"{path.name}.data")
    if data.exists():
        data.chmod(path.stat().st_mode)


@contextlib.contextmanager
def _moved_aside(path: Path) -> Iterator[Path]:
    """Move `path` (and its external data) into a temp dir, to be replaced by a new `path`."""
    with tempfile.TemporaryDirectory(prefix="tfport-onnx-") as scratch:
        source = Path(scratch) / path.name
        for file in (path, path.with_name(f"{path.name}.data")):
            if file.exists():
                shutil.move(file, source.with_name(file.name))
        yield source


def kept_float(options) -> list[str]:
    """--keep-float: the values int8 leaves in float, as `tfport explain` names them (`node;output`
    of the int8 file, where a value may come from a DequantizeLinear)."""
    return [name for name in (options.get("keep_float") or "").split(",") if name]


COMPUTING = {"Conv", "ConvTranspose", "MatMul", "Gemm"}  # where a kept value's chain of producers ends


def float_nodes(source: Path, kept: list[str]) -> list[str]:
    """The float model's nodes that compute the kept values: each value's producer (found by the
    value's name, or the one its DequantizeLinear is named after), and the producers feeding it one
    to one back to the convolution or matmul it follows (int8 fuses Conv -> Clip into one node)."""
    if not kept:
        return []
    import onnx

    graph = onnx.load(str(source), load_external_data=False).graph
    by_name = {node.name: node for node in graph.node}
    producer = {output: node for node in graph.node for output in node.output}
    constants = {init.name for init in graph.initializer}
    chosen: dict[str, None] = {}
    for entry in kept:
        node_name, _, output = entry.partition(";")
        tensors = (output, output.removesuffix("_DequantizeLinear_Output"), node_name.removesuffix("_DequantizeLinear"))
        # by the value first: quantizing renames the nodes it fuses (Conv + Clip -> Conv__352)
        node = next((producer[name] for name in tensors if name in producer), by_name.get(node_name))
        while node is not None and node.name not in chosen:
            chosen[node.name] = None
            feeding = [producer[name] for name in node.input if name in producer and name not in constants]
            node = feeding[0] if node.op_type not in COMPUTING and len(feeding) == 1 else None
    return list(chosen)


def _quantize(request: ConversionRequest, key: str, path: Path, external: bool) -> None:
    """Replace the float32 file at `path` by its quantized version."""
    mode = request.quantization
    with _moved_aside(path) as source:
        try:
            if mode == "fp16":
                _to_float16(source, path, external)
            elif mode == "dynamic":
                from onnxruntime.quantization import QuantType, quantize_dynamic

                quantize_dynamic(str(source), str(path), weight_type=QuantType.QInt8,
                                 use_external_data_format=external)
            elif mode == "int8":
                from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

                reader = _calibration_reader(request.samples_for(key), source)
                # U8S8: on x86, onnxruntime's int8 kernels multiply uint8 activations by int8
                # weights; S8S8 QDQ ran MobileNetV2 1.3x slower than float32, U8S8 1.3x faster.
                # Without VNNI those kernels sum pairs in 16 bits, which 8-bit weights can overflow:
                # 7-bit weights (reduce_range) compute the same on every x86 CPU; --full-range-weights keeps 8.
                quantize_static(str(source), str(path), reader, quant_format=QuantFormat.QDQ,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True,
                                reduce_range=not request.options.get("full_range_weights"), use_external_data_format=external,
                                nodes_to_exclude=float_nodes(source, kept_float(request.options)))
            else:
                raise BadInputError(f"the onnx target has no quantization mode {mode!r}")
        except (ConversionError, BadInputError):
            raise
        except Exception as exc:  # onnxruntime's quantizers raise many types
            raise ConversionError(f"onnxruntime could not quantize signature {key!r} to {mode}: "
                                  f"{_last_line(str(exc))}") from None
    _share_data_file(path)


def _to_float16(source: Path, path: Path, external: bool) -> None:
    """float16 weights and compute, float32 inputs and outputs (onnxruntime's float16 converter,
    with its default list of ops kept in float32)."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    half = convert_float_to_float16(str(source), keep_io_types=True)  # by path: > 2 GB works
    _sort_topologically(half.graph)
    _save(half, None, path, external)


def _sort_topologically(graph) -> None:
    """The float16 converter appends its Cast nodes at the end; ONNX wants producers first.
    A node's subgraphs may read outer tensors too, which count as its inputs here."""
    produced_by = {output: index for index, node in enumerate(graph.node) for output in node.output if output}
    needs = [{produced_by[name] for name in _reads(node) if name in produced_by} - {index}
             for index, node in enumerate(graph.node)]
    users: dict[int, list[int]] = {index: [] for index in range(len(graph.node))}
    for index, producers in enumerate(needs):
        for producer in producers:
            users[producer].append(index)
    waiting = [len(producers) for producers in needs]
    ready = collections.deque(index for index, count in enumerate(waiting) if count == 0)  # keeps the old order
    order = []
    while ready:
        index = ready.popleft()
        order.append(index)
        for user in users[index]:
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.append(user)
    if len(order) != len(graph.node):
        raise ConversionError("the float16 graph has a cycle")
    nodes = [graph.node[index] for index in order]
    del graph.node[:]
    graph.node.extend(nodes)


def _reads(node) -> set[str]:
    """Tensor names a node reads: its inputs and whatever its subgraphs take from outside."""
    from tfport.converters.onnx_graph import bodies

    names = {name for name in node.input if name}
    for body in bodies(node):
        local = {i.name for i in body.input} | {t.name for t in body.initializer}
        local |= {output for inner in body.node for output in inner.output}
        names |= {name for inner in body.node for name in _reads(inner) if name not in local}
    return names


def _calibration_reader(feeds: list, model: Path):
    """Feeds the calibration samples of one file (ConversionRequest.samples_for) under its ONNX input names."""
    import numpy as np
    import onnx
    from onnxruntime.quantization import CalibrationDataReader

    meta = {p.key: p.value for p in onnx.load(str(model), load_external_data=False).metadata_props}
    inputs = json.loads(meta[labels.INPUTS])  # onnx name -> signature key
    samples = [{name: np.asarray(feed[key]) for name, key in inputs.items()} for feed in feeds]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._samples = iter(samples)

        def get_next(self):
            return next(self._samples, None)

    return Reader()


def _validate(path: Path, key: str) -> None:
    """The artifact must pass the checker and shape inference, and load in onnxruntime (on the CPU:
    the execution provider asked for is the runtime's concern, checked when parity opens it)."""
    import onnx
    import onnxruntime

    try:
        onnx.checker.check_model(str(path))  # by path: handles external data and > 2 GB
        onnx.shape_inference.infer_shapes(onnx.load(str(path), load_external_data=False),
                                          check_type=True, strict_mode=True)
    except Exception as exc:  # onnx raises ValidationError, InferenceError, ...
        raise ConversionError(f"{path.name} is not a valid ONNX model: {_last_line(str(exc))}") from None
    try:
        onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types per failure
        raise ConversionError(f"onnxruntime cannot load signature {key!r}: {_unloadable(str(exc), path)}") from None


def _unloadable(message: str, path: Path) -> str:
    """Name the ops the runtime lacks and where they sit, from onnxruntime's error."""
    import onnx

    from tfport.converters.onnx_graph import all_nodes

    ops = set(re.findall(r"(?:No Op registered for|implementation for) (\w+)", message))
    if not ops:
        return _last_line(message)
    nodes = [n for n in all_nodes(onnx.load(str(path), load_external_data=False).graph) if n.op_type in ops]
    where = "; ".join(f"{n.op_type} node {n.name!r}" for n in nodes[:5])
    return f"no kernel for {', '.join(sorted(ops))} ({where})"


def _last_line(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


def _signature_io(path: Path) -> dict[str, dict]:
    """The file's inputs and outputs under the SavedModel's names, with ONNX's dtypes and shapes."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    meta = {p.key: p.value for p in proto.metadata_props}
    keys = {**json.loads(meta.get(labels.INPUTS, "{}")), **json.loads(meta.get(labels.OUTPUTS, "{}"))}

    def spec(value) -> dict:
        tensor = value.type.tensor_type
        return {"onnx_name": value.name, "dtype": ONNX_DTYPES.get(tensor.elem_type, str(tensor.elem_type)),
                "shape": [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]}

    return {"inputs": {keys.get(v.name, v.name): spec(v) for v in proto.graph.input},
            "outputs": {keys.get(v.name, v.name): spec(v) for v in proto.graph.output}}


def _runtime_needs(artifact: Path, keys: list[str]) -> RuntimeNeeds:
    """Opsets and IR version the files declare, and the first onnxruntime release that runs them."""
    import onnx

    opsets: dict[str, int] = {}
    ir_version = 0
    for key in keys:
        proto = onnx.load(str(artifact / f"{key}.onnx"), load_external_data=False)
        ir_version = max(ir_version, proto.ir_version)
        for entry in proto.opset_import:
            opsets[entry.domain or "ai.onnx"] = max(opsets.get(entry.domain or "ai.onnx", 0), entry.version)
    opset = opsets.get("ai.onnx", 0)
    contrib = sorted(domain for domain in opsets if domain not in ONNX_DOMAINS)
    return RuntimeNeeds(
        name="onnxruntime", min_version=ONNXRUNTIME_FOR_OPSET.get(opset),
        min_version_source=f"onnxruntime's compatibility table: first release implementing opset {opset}",
        needs=[f"operators of domain(s) {', '.join(contrib)}: onnxruntime only"] if contrib else [],
        details={"opsets": opsets, "ir_version": ir_version},
    )

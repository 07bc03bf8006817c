"""Load a SavedModel whose object graph this TensorFlow cannot revive: without the optimizer's state.

A Keras 2 model saved after `compile`/`fit` (`model.save`) keeps its optimizer in the object
graph, with a slot variable per weight (Adam's m and v). `tf.saved_model.load` recreates those
slots by calling `add_slot` on the revived optimizer, which only the legacy Keras package
(tf_keras) can revive: where it is not installed — the usual case from TensorFlow 2.16 on, with
Keras 3 — the optimizer comes back as a plain `_UserObject` and loading stops with
"'_UserObject' object has no attribute 'add_slot'". No signature reads an optimizer slot, so a
copy whose object graph no longer names slot variables (they load as ordinary, unused variables)
computes every signature as the original does.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path

from tfport.savedmodel.reader import SAVED_MODEL_FILE
from tfport.savedmodel.rewrites.apply import write_linked_copy

_lock = threading.Lock()
_copies: dict[str, tuple[Path, str]] = {}  # resolved model dir -> (copy, note), for this process


def load_without_optimizer(load, export_dir, tags, options, failure: Exception):
    """`load` of a copy without optimizer slot variables, when `failure` came from reviving them;
    otherwise `failure` is raised again."""
    copy = _copy_without_slots(Path(export_dir), failure)
    if copy is None:
        raise failure
    return load(str(copy), tags, options)


def revival_notes(model_dir: Path) -> list[str]:
    """What this process did to load `model_dir`, for the report (one line, or none)."""
    found = _copies.get(str(Path(model_dir).resolve()))
    return [found[1]] if found else []


def _copy_without_slots(model_dir: Path, failure: Exception) -> Path | None:
    key = str(model_dir.resolve())
    with _lock:
        if key in _copies:
            return _copies[key][0]
        if not isinstance(failure, AttributeError) or "add_slot" not in str(failure):
            return None
        from tensorflow.core.protobuf import saved_model_pb2

        saved_model = saved_model_pb2.SavedModel()
        saved_model.ParseFromString((model_dir / SAVED_MODEL_FILE).read_bytes())
        dropped = 0
        for meta_graph in saved_model.meta_graphs:
            for node in meta_graph.object_graph_def.nodes:
                dropped += len(node.slot_variables)
                del node.slot_variables[:]
        if not dropped:
            return None
        scratch = Path(tempfile.mkdtemp(prefix="tfport-revivable-"))
        atexit.register(shutil.rmtree, scratch, True)
        copy = scratch / model_dir.name
        write_linked_copy(model_dir, copy, saved_model)
        import tensorflow as tf

        note = (f"TensorFlow {tf.__version__} cannot revive this SavedModel's optimizer ({failure}: it was saved "
                f"with its optimizer, and only tf_keras revives that): loaded without the optimizer's {dropped} slot "
                "variables, which no signature reads")
        _copies[key] = (copy, note)
        return copy

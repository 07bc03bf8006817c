"""One `tf.saved_model.load` per SavedModel and run, however many converters load it.

Restoring a SavedModel rebuilds every function it holds (2 s for MobileNetV2), and the golden
recording, TFLiteConverter (twice, and its batch-1 copy), tf2onnx and OpenVINO each load the model
by their own call (tensorflowjs loads it in its own process). Inside `one_load_per_model()`, the
loader those libraries call returns the object loaded first for the same directory and tags. They
only read it: they freeze its functions into new graphs. A model holding resources other than
variables (lookup tables) is not shared: tf2onnx detaches tables from a function while it freezes
it, so such a model is loaded anew for each, as without this module. Every load, shared or not,
falls back to tfport.savedmodel.revival where TensorFlow cannot revive a saved optimizer.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# Where TensorFlow keeps `tf.saved_model.load`; a converter library that keeps it under a name of
# its own routes that name with `route` once it has imported the library.
BINDINGS = (
    ("tensorflow.python.saved_model.load", "load"),
    ("tensorflow._api.v2.saved_model", "load"),
    ("tensorflow.saved_model", "load"),
)

_lock = threading.Lock()
_loaded: dict[tuple[str, tuple[str, ...]], Any] | None = None  # None: no run is sharing loads


@contextlib.contextmanager
def one_load_per_model() -> Iterator[None]:
    """Share loads for the duration of one run; the loaded models are released at its end."""
    global _loaded
    with _lock:
        _loaded = {}
    try:
        yield
    finally:
        with _lock:
            _loaded = None


def install() -> None:
    """Route TensorFlow's own bindings through the sharing loader (idempotent; outside a run it
    loads as before). Called once TensorFlow has been imported."""
    for module_name, attribute in BINDINGS:
        route(module_name, attribute)


def route(module_name: str, attribute: str) -> None:
    """Make `module_name.attribute`, a converter library's own name for `tf.saved_model.load`,
    share loads too; the module must have been imported. Idempotent."""
    from tensorflow.python.saved_model import load as load_module

    original = getattr(load_module.load, "__wrapped__", load_module.load)
    module = sys.modules.get(module_name)
    if module is not None and getattr(module, attribute, None) is original:
        setattr(module, attribute, _sharing(original))


@functools.cache
def _sharing(original: Callable[..., Any]) -> Callable[..., Any]:
    reviving = functools.partial(_reviving, original)

    @functools.wraps(original)
    def load(export_dir, tags=None, options=None):
        if _loaded is None or options is not None:
            return reviving(export_dir, tags, options)
        key = (str(Path(export_dir).resolve()), tuple(sorted([tags] if isinstance(tags, str) else tags or ())))
        with _lock:  # a second thread asking for the same model waits for the first load
            if key in _loaded:
                return _loaded[key]
            model = reviving(export_dir, tags, None)
            if _loaded is not None and not _holds_resources(model):
                _loaded[key] = model
            return model

    return load


def _reviving(original: Callable[..., Any], export_dir, tags, options) -> Any:
    """`original`, or where this TensorFlow cannot revive the model's optimizer, a load of the model
    without its optimizer's state (tfport.savedmodel.revival)."""
    try:
        return original(export_dir, tags, options)
    except AttributeError as exc:
        from tfport.savedmodel.revival import load_without_optimizer

        return load_without_optimizer(original, export_dir, tags, options, exc)


def _holds_resources(model: Any) -> bool:
    """Does the model hold resources other than variables (tables), which converters modify?"""
    from tensorflow.python.checkpoint.trackable_view import TrackableView
    from tensorflow.python.trackable.resource import CapturableResource

    return any(isinstance(node, CapturableResource) for node in TrackableView(model).descendants())

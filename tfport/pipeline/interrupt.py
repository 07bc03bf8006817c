"""Ctrl-C stops a run even when a converter swallows it: tf2onnx has bare `except:` clauses that
catch the KeyboardInterrupt. The handler also records the request, checked between steps."""

from __future__ import annotations

import signal
import threading

_requested = threading.Event()


def _handler(signum, frame) -> None:
    _requested.set()
    raise KeyboardInterrupt


def install() -> None:
    signal.signal(signal.SIGINT, _handler)


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C came while third-party code was running."""
    if _requested.is_set():
        raise KeyboardInterrupt

"""Where tfport keeps what the user should not have to see: native logs and tracebacks."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path


def cache_dir() -> Path:
    """tfport's per-user cache directory ($TFPORT_CACHE, else $XDG_CACHE_HOME/tfport)."""
    if "TFPORT_CACHE" in os.environ:
        return Path(os.environ["TFPORT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tfport"


def log_path() -> Path:
    path = Path(os.environ.get("TFPORT_LOG", cache_dir() / "tfport.log"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


_redirect_lock = threading.Lock()
_redirect_depth = 0
_saved_stderr: int | None = None


@contextlib.contextmanager
def native_stderr_to_log() -> Iterator[None]:
    """Send file descriptor 2 to the log file, so converters' C++ chatter stays off the screen.

    Nested and concurrent uses (parallel conversions) share one redirection.
    """
    global _redirect_depth, _saved_stderr
    with _redirect_lock:
        if _redirect_depth == 0:
            sys.stderr.flush()
            _saved_stderr = os.dup(2)
            with open(log_path(), "ab") as log:
                os.dup2(log.fileno(), 2)
        _redirect_depth += 1
    try:
        yield
    finally:
        with _redirect_lock:
            _redirect_depth -= 1
            if _redirect_depth == 0:
                sys.stderr.flush()
                os.dup2(_saved_stderr, 2)
                os.close(_saved_stderr)


# TensorFlow's C++ error lines: `E0000 00:00:1796.. 5188 file.cc:177] message`.
NATIVE_ERROR = re.compile(r"^E\d{4} [\d:. ]+\d+ [\w.]+:\d+\] (.+)$", re.M)
STARTUP_NOISE = ("Unable to register", "computation placer", "cuInit")  # printed by TensorFlow imports


@contextlib.contextmanager
def native_errors() -> Iterator[Callable[[], list[str]]]:
    """Inside the block, a callable returning the C++ error lines the log file gained meanwhile:
    grappler only says "check error log" and logs its reason (e.g. "Init node … doesn't exist
    in graph") on the native stderr that tfport sends to the log."""
    path = log_path()
    start = path.stat().st_size if path.exists() else 0

    def read() -> list[str]:
        with open(path, "rb") as log:
            log.seek(start)
            text = log.read().decode("utf-8", errors="replace")
        return [m for m in NATIVE_ERROR.findall(text) if not any(noise in m for noise in STARTUP_NOISE)]

    yield read


def with_native_reason(message: str, errors: list[str]) -> str:
    """A converter's message, with TensorFlow's own logged reason when the message points to a log."""
    if "error log" not in message or not errors:
        return message
    return f"{message.rstrip('. ')} — TensorFlow logged: {errors[-1]}"


def file_logger(name: str = "tfport") -> logging.Logger:
    """A logger that writes to the log file only, never to the user's terminal."""
    logger = logging.getLogger(name)
    path = str(log_path().resolve())
    if not any(getattr(handler, "baseFilename", None) == path for handler in logger.handlers):
        logger.handlers[:] = [logging.FileHandler(path)]
        logger.propagate = False
    return logger

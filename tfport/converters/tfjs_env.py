"""tfport's TensorFlow 2.19 environment: tensorflowjs's converter, and the interpreter that links Flex.

tensorflowjs 4.22 (its last release, Oct 2024) imports TensorFlow Decision Forests, which pins
TensorFlow 2.19 and protobuf < 6: installed beside tfport, it would downgrade a newer TensorFlow.
So it lives in a venv of its own — made once, by `tfport setup tfjs` or on first use, from
tfjs_requirements.txt (exact pins) — in a directory named by the hash of that file and the
Python version, under $TFPORT_TFJS_ENV (default: tfport's cache directory, tfjs-converter/). A
conversion runs tfjs_worker.py there, one request for all signatures, on the SavedModel after
tfport's rewrites; `tfport convert` starts that worker at the beginning of the run (warm_up), so
that its imports (5 s) overlap with recording the golden set. Cost, measured (docs/targets.md):
2.9 GB on disk, 69 s to make from PyPI.

The same environment runs TFLite files with Select TF ops (tfport.targets.tflite_flex):
TensorFlow 2.19's interpreter is the last pip build that links the Flex delegate.

It is made in a staging directory and renamed into place; the scripts pip writes into bin/ name
their interpreter by absolute path, so that path is rewritten to the final one before the rename
(without it `bin/tensorflowjs_converter` fails with "required file not found").
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tfport.atomic import staged_directory
from tfport.errors import ConversionError, RuntimeMissingError
from tfport.logfile import cache_dir, log_path
from tfport.processes import stop

REQUIREMENTS = Path(__file__).with_name("tfjs_requirements.txt")
WORKER = Path(__file__).with_name("tfjs_worker.py")
READY = "tfport-ready"  # written last: an environment without it is incomplete


def environment_dir() -> Path:
    """One environment per requirements file and Python minor version."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + python.encode()).hexdigest()[:16]
    root = Path(os.environ["TFPORT_TFJS_ENV"]) if os.environ.get("TFPORT_TFJS_ENV") else cache_dir() / "tfjs-converter"
    return root / f"py{python}-{digest}"


def _python(directory: Path) -> Path:
    return directory / "bin" / "python"


def environment_python() -> Path:
    """The environment's Python (make it first with `setup`)."""
    return _python(environment_dir())


def worker_environment() -> dict[str, str]:
    """The variables a process in the environment runs with: none of this Python's paths, no GPU."""
    environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    environment.update(PYTHONNOUSERSITE="1", TFDF_DISABLE_WELCOME_MESSAGE="1", CUDA_VISIBLE_DEVICES="")
    return environment


def _relocate_scripts(directory: Path, final: Path) -> None:
    """Point the scripts pip wrote in `directory` (shebangs, activate) at `final`, where they live.
    An environment made before tfport did this names its staging directory: it is mended on use."""
    shebang = (directory / "bin" / "pip").read_bytes().split(b"\n", 1)[0].removeprefix(b"#!").strip()
    written_for, new = bytes(Path(shebang.decode()).parent.parent), bytes(final)
    if written_for == new or not shebang.startswith(b"/"):
        return
    for script in [*(directory / "bin").iterdir(), directory / "pyvenv.cfg"]:
        if script.is_file() and not script.is_symlink():
            content = script.read_bytes()
            if written_for in content:
                script.write_bytes(content.replace(written_for, new))


def setup() -> str:
    """Make the environment once (python -m venv, then pip install -r); later calls find it."""
    directory = environment_dir()
    if (directory / READY).is_file():
        _relocate_scripts(directory, directory)
        return f"TensorFlow 2.19 environment (tensorflowjs, the Flex interpreter) ready in {directory}"
    # Printed on stdout: during conversion, file descriptor 2 goes to the log file.
    print(f"making tfport's TensorFlow 2.19 environment for tensorflowjs and the Flex interpreter (once, ~2.9 GB "
          f"from PyPI) in {directory} …", flush=True)
    try:
        with staged_directory(directory, replace=False) as staging, open(log_path(), "ab") as log:
            _run([sys.executable, "-m", "venv", "--prompt", "tfport-tensorflow-2.19", str(staging)], log, "python -m venv")
            _run([str(_python(staging)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                  "--no-input", "-r", str(REQUIREMENTS)], log, "pip install -r tfjs_requirements.txt")
            _relocate_scripts(staging, directory)
            (staging / READY).write_text(REQUIREMENTS.read_text(encoding="utf-8"), encoding="utf-8")
    except OSError:  # another tfport process made it meanwhile: keep theirs, it is in use
        if not (directory / READY).is_file():
            raise
    return f"TensorFlow 2.19 environment (tensorflowjs, the Flex interpreter) made in {directory}"


def _run(command: list[str], log, what: str) -> None:
    log.write(f"\n$ {' '.join(command)}\n".encode())
    log.flush()
    done = subprocess.run(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeMissingError(f"making the tensorflowjs converter environment failed: `{what}` exited with "
                                  f"{done.returncode} (its output is in {log_path()}) — is PyPI reachable, and does "
                                  f"TensorFlow 2.19 have wheels for Python {sys.version_info.major}."
                                  f"{sys.version_info.minor}? (3.9 to 3.12)")


class _Worker:
    """tfjs_worker.py in the environment: it imports TensorFlow 2.19 and tensorflowjs from the moment
    it starts, then converts one request per line, in order."""

    def __init__(self) -> None:
        self._log = open(log_path(), "ab")
        self._process = subprocess.Popen([str(environment_python()), str(WORKER)], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self._log, env=worker_environment())
        self.lock = threading.Lock()  # one request at a time

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    def convert(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            self._process.stdin.write(json.dumps(request).encode() + b"\n")
            self._process.stdin.flush()
        except OSError:
            pass  # it stopped: the missing reply says so
        line = self._process.stdout.readline()
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            raise ConversionError(f"the tensorflowjs converter process stopped (exit code {self.close()}; its "
                                  f"messages are in {log_path()})") from None

    def close(self) -> int:
        """Stopped at once: between requests it holds nothing (and left alone, TensorFlow's teardown
        takes a second)."""
        code = stop(self._process, timeout=30, terminate=True)
        self._log.close()
        return code


_warm_lock = threading.Lock()
_warm: _Worker | None = None  # started by warm_up(), serving this run's conversions


@contextlib.contextmanager
def warm_up() -> Iterator[None]:
    """Start a worker now, for the conversions of this run to use: its 5 s of imports overlap with
    whatever tfport does meanwhile (recording the golden set, the other targets). Without the
    environment nothing starts: the conversion makes it, and reports if it cannot."""
    global _warm
    with _warm_lock:
        worker = _Worker() if _warm is None and (environment_dir() / READY).is_file() else None
        if worker is not None:
            _warm = worker
    if worker is None:
        yield
        return
    try:
        yield
    finally:
        with _warm_lock:
            _warm = None
        with worker.lock:
            worker.close()


def run_tensorflowjs(request: dict[str, Any]) -> dict[str, Any]:
    """tfjs_worker.py's reply to `request`, run in the environment (made first if need be): on the
    warm worker when one is running (tfport.targets.tfjs's warm_up), else on a worker of its own."""
    setup()
    with _warm_lock:
        worker = _warm if _warm is not None and _warm.running else None  # one that crashed is not reused
    if worker is None:
        worker = _Worker()
        try:
            return worker.convert(request)
        finally:
            worker.close()
    with worker.lock:
        return worker.convert(request)

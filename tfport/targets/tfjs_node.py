"""The Node.js side of the TF.js target: a pinned npm runtime and the process that runs models.

The runtime (tfjs_runtime/: package.json and package-lock.json) is installed by
tfport.targets.npm_runtime on first use or by `tfport setup tfjs`. Only @tensorflow/tfjs-core,
-converter and the cpu, wasm and webgl backends: never @tensorflow/tfjs-node, whose install
downloads a native binary. runner.mjs is copied beside node_modules under a name holding its own
hash, so a new runner needs no reinstall.
"""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
from pathlib import Path

from tfport.atomic import write_bytes_atomically
from tfport.errors import RuntimeFailure, RuntimeMissingError
from tfport.logfile import log_path
from tfport.processes import stop
from tfport.targets.npm_runtime import NpmRuntime, node_problem
from tfport.targets.tfjs_wire import FramedEngine

RUNTIME = NpmRuntime("the TF.js runtime", Path(__file__).with_name("tfjs_runtime"), "@tensorflow/tfjs-core")
RUNNER = "runner.mjs"


def runtime_problem() -> str | None:
    return node_problem() or RUNTIME.problem()


def setup() -> str:
    return RUNTIME.setup()


def pinned_version() -> str:
    """The @tensorflow/tfjs-core release the runtime installs (and parity runs on)."""
    return RUNTIME.pinned_version()


def runner_script() -> Path:
    """runner.mjs beside node_modules (so its imports resolve), named by its content hash."""
    source = (RUNTIME.source / RUNNER).read_bytes()
    script = RUNTIME.directory / f"runner-{hashlib.sha256(source).hexdigest()[:12]}.mjs"
    if not script.is_file():
        write_bytes_atomically(script, source)
    return script


class NodeProcess(FramedEngine):
    """One `node runner.mjs BACKEND` per runner, serving load/run requests over stdin/stdout."""

    where = "TF.js on Node.js"

    def __init__(self, backend: str):
        problem = runtime_problem()
        if problem:
            raise RuntimeMissingError(problem)
        setup()
        self.backend = backend
        self._log = open(log_path(), "ab")
        self._process = subprocess.Popen(["node", str(runner_script()), backend], cwd=RUNTIME.directory,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log)

    def _exchange(self, request: bytes) -> tuple[dict, bytes]:
        try:
            self._process.stdin.write(request)
            self._process.stdin.flush()
            (length,) = struct.unpack("<I", self._read(4))
            reply = json.loads(self._read(length))
            return reply, self._read(sum(o["bytes"] for o in reply.get("outputs", [])))
        except (BrokenPipeError, struct.error, ValueError):
            self._process.kill()
            raise RuntimeFailure(f"the TF.js runner on Node.js stopped (exit code {self._process.wait()}; "
                                  f"its messages are in {log_path()})") from None

    def _read(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self._process.stdout.read(size - len(data))
            if not chunk:
                raise BrokenPipeError
            data += chunk
        return data

    def close(self) -> None:
        stop(self._process, timeout=10)
        self._log.close()

"""The Node.js side of the TF.js target: a pinned npm runtime and the process that runs models.

The runtime's package.json and package-lock.json (shipped in tfjs_runtime/) are installed with
`npm ci` into tfport's cache, in a directory named by their hash, on first use or by
`tfport setup tfjs`. Only @tensorflow/tfjs-core, -converter, -backend-cpu and -backend-wasm:
never @tensorflow/tfjs-node, whose install downloads a native binary. runner.mjs is copied
beside node_modules under a name holding its own hash, so a new runner needs no reinstall.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

from tfport.errors import RuntimeFailure, RuntimeMissingError
from tfport.logfile import cache_dir, log_path
from tfport.pipeline.atomic import staged_directory, write_bytes_atomically
from tfport.targets.tfjs_wire import FramedEngine

SOURCE = Path(__file__).with_name("tfjs_runtime")
LOCK_FILES = ("package.json", "package-lock.json")
RUNNER = "runner.mjs"
MIN_NODE = 18
NPM_CI = ("npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--prefer-offline")


def runtime_problem() -> str | None:
    node = shutil.which("node")
    if node is None:
        return f"Node.js ≥ {MIN_NODE} is not installed (no `node` on PATH) — install it: apt-get install nodejs npm"
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`{node} --version` failed ({exc}) — TF.js parity needs a working Node.js ≥ {MIN_NODE}"
    match = re.match(r"v(\d+)", version)
    if not match or int(match.group(1)) < MIN_NODE:
        return f"Node.js {version or '(unknown version)'} is too old — TF.js parity needs Node.js ≥ {MIN_NODE}"
    if shutil.which("npm") is None and not _installed(runtime_dir()):
        return "npm is not installed — it installs the TF.js runtime once (apt-get install npm)"
    return None


def runtime_dir() -> Path:
    """Where the pinned npm packages live: one directory per lockfile content."""
    digest = hashlib.sha256(b"".join((SOURCE / name).read_bytes() for name in LOCK_FILES)).hexdigest()[:16]
    return cache_dir() / "tfjs-runtime" / digest


def node_modules() -> Path:
    return runtime_dir() / "node_modules"


def _installed(directory: Path) -> bool:
    return (directory / "node_modules" / "@tensorflow" / "tfjs-core" / "package.json").is_file()


def setup() -> str:
    """Install the pinned npm packages once (`npm ci`); later calls find them in the cache."""
    directory = runtime_dir()
    if _installed(directory):
        return f"TF.js runtime ready in {directory}"
    problem = runtime_problem()
    if problem:
        raise RuntimeMissingError(problem)
    # Printed on stdout: during conversion and parity, file descriptor 2 goes to the log file.
    print(f"installing the TF.js runtime (npm ci, once) into {directory} …", flush=True)
    try:
        with staged_directory(directory, replace=False) as staging:
            for name in LOCK_FILES:
                shutil.copy2(SOURCE / name, staging / name)
            with open(log_path(), "ab") as log:
                try:
                    done = subprocess.run(NPM_CI, cwd=staging, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
                except OSError as exc:
                    raise RuntimeMissingError(f"cannot run npm ({exc}) — install npm (apt-get install npm)") from None
            if done.returncode != 0:
                raise RuntimeMissingError(f"`npm ci` failed installing the TF.js runtime (exit code "
                                          f"{done.returncode}; npm's output is in {log_path()}) — is the npm "
                                          "registry reachable?")
    except OSError:  # another tfport process installed it meanwhile: keep theirs, it is in use
        if not _installed(directory):
            raise
    return f"TF.js runtime installed in {directory}"


def pinned_version() -> str:
    """The @tensorflow/tfjs-core release the runtime installs (and parity runs on)."""
    return json.loads((SOURCE / "package.json").read_text())["dependencies"]["@tensorflow/tfjs-core"]


def runner_script() -> Path:
    """runner.mjs beside node_modules (so its imports resolve), named by its content hash."""
    source = (SOURCE / RUNNER).read_bytes()
    script = runtime_dir() / f"runner-{hashlib.sha256(source).hexdigest()[:12]}.mjs"
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
        self._process = subprocess.Popen(["node", str(runner_script()), backend], cwd=runtime_dir(),
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
        if self._process.poll() is None:
            try:
                self._process.stdin.close()
                self._process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
        self._log.close()

"""A pinned npm runtime: a package.json and package-lock.json shipped inside tfport, installed with
`npm ci` once into tfport's cache, in a directory named by their hash.

TF.js (tfport.targets.tfjs_node) and LiteRT.js (tfport.targets.litert_web) each ship one. Install
scripts never run (`--ignore-scripts`): nothing is downloaded but the locked packages, so a
machine that reaches the npm registry once, or has its cache, runs parity offline from then on.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tfport.atomic import staged_directory
from tfport.errors import RuntimeMissingError
from tfport.logfile import cache_dir, log_path

LOCK_FILES = ("package.json", "package-lock.json")
MIN_NODE = 18
NPM_CI = ("npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--prefer-offline")


def node_problem() -> str | None:
    """Why Node.js cannot run here, or None."""
    node = shutil.which("node")
    if node is None:
        return f"Node.js ≥ {MIN_NODE} is not installed (no `node` on PATH) — install it: apt-get install nodejs npm"
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`{node} --version` failed ({exc}) — parity on Node.js needs a working Node.js ≥ {MIN_NODE}"
    match = re.match(r"v(\d+)", version)
    if not match or int(match.group(1)) < MIN_NODE:
        return f"Node.js {version or '(unknown version)'} is too old — parity on Node.js needs Node.js ≥ {MIN_NODE}"
    return None


@dataclass(frozen=True)
class NpmRuntime:
    """One pinned set of npm packages. `marker`: the package whose package.json shows it installed."""

    title: str  # in messages: "the TF.js runtime"
    source: Path  # the directory holding package.json and package-lock.json
    marker: str  # e.g. "@tensorflow/tfjs-core"

    @property
    def directory(self) -> Path:
        digest = hashlib.sha256(b"".join((self.source / name).read_bytes() for name in LOCK_FILES)).hexdigest()[:16]
        return cache_dir() / self.source.name.replace("_", "-") / digest

    @property
    def node_modules(self) -> Path:
        return self.directory / "node_modules"

    def installed(self) -> bool:
        return (self.node_modules / self.marker / "package.json").is_file()

    def pinned_version(self, package: str | None = None) -> str:
        """The release of `package` (default: the marker) that package.json pins."""
        return json.loads((self.source / "package.json").read_text())["dependencies"][package or self.marker]

    def problem(self) -> str | None:
        """Why the packages can be neither found nor installed here, or None."""
        if not self.installed() and shutil.which("npm") is None:
            return f"npm is not installed — it installs {self.title} once (apt-get install npm)"
        return None

    def setup(self) -> str:
        """Install the pinned packages once (`npm ci`); later calls find them in the cache."""
        directory = self.directory
        if self.installed():
            return f"{self.title} ready in {directory}"
        problem = self.problem()
        if problem:
            raise RuntimeMissingError(problem)
        # Printed on stdout: during conversion and parity, file descriptor 2 goes to the log file.
        print(f"installing {self.title} (npm ci, once) into {directory} …", flush=True)
        try:
            with staged_directory(directory, replace=False) as staging:
                for name in LOCK_FILES:
                    shutil.copy2(self.source / name, staging / name)
                with open(log_path(), "ab") as log:
                    try:
                        done = subprocess.run(NPM_CI, cwd=staging, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
                    except OSError as exc:
                        raise RuntimeMissingError(f"cannot run npm ({exc}) — install npm (apt-get install npm)") from None
                if done.returncode != 0:
                    raise RuntimeMissingError(f"`npm ci` failed installing {self.title} (exit code {done.returncode}; "
                                              f"npm's output is in {log_path()}) — is the npm registry reachable?")
        except OSError:  # another tfport process installed it meanwhile: keep theirs, it is in use
            if not self.installed():
                raise
        return f"{self.title} installed in {directory}"

"""Artifacts already made are not made again: a cache keyed by everything that shapes them.

The key covers the SavedModel fingerprint, target, quantization, target options, the golden set
(calibration data), the versions of tfport (and a digest of its code) and of the target's
converter and runtime packages. Entries are immutable directories, copied into the out directory
(not hard-linked: onnx refuses external-data files with more than one link).
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from tfport import __version__
from tfport.atomic import staged_directory, write_text_atomically
from tfport.errors import TfportError
from tfport.logfile import cache_dir
from tfport.parity import OutputResult

RECORD = "tfport.json"


def package_versions(packages: tuple[str, ...]) -> dict[str, str]:
    versions = {}
    for package in packages:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "missing"
    return versions


def file_digest(path: Path) -> str:
    """SHA-256 of a file, read in chunks: artifacts can be gigabytes."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


@functools.cache
def _code_digest() -> str:
    """tfport's own source: a changed converter must not be answered from the cache."""
    digest = hashlib.sha256()
    package = Path(__file__).parent
    for file in sorted(p for p in package.rglob("*") if p.suffix in {".py", ".mjs", ".js", ".html", ".json"}
                       and "node_modules" not in p.parts):
        digest.update(file.read_bytes())
    return digest.hexdigest()


def artifact_key(parts: Mapping[str, Any]) -> str:
    identity = {"tfport": __version__, "code": _code_digest(), **parts}
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _entry(key: str) -> Path:
    return cache_dir() / "artifacts" / key


def restore(key: str, staging: Path) -> dict[str, Any] | None:
    """Fill `staging` from the cache; the artifact's record, or None on a miss."""
    entry = _entry(key)
    if not (entry / RECORD).is_file():
        return None
    shutil.copytree(entry, staging, dirs_exist_ok=True)
    return json.loads((entry / RECORD).read_text(encoding="utf-8"))


def store(key: str, staging: Path) -> None:
    """Best effort: a full disk or a concurrent run storing the same entry costs only the reuse."""
    try:
        with staged_directory(_entry(key)) as entry:
            shutil.copytree(staging, entry, dirs_exist_ok=True)
    except (OSError, TfportError):
        pass


def _parity_file(key: str) -> Path:
    return cache_dir() / "parity" / f"{key}.json"


def load_parity(key: str) -> tuple[list[OutputResult], list[str]] | None:
    """Parity results and the runner's notes stored for this key, or None (missing or unreadable:
    run parity again)."""
    try:
        stored = json.loads(_parity_file(key).read_text(encoding="utf-8"))
        return [OutputResult.from_json(item) for item in stored["outputs"]], [str(n) for n in stored["notes"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store_parity(key: str, results: list[OutputResult], notes: list[str]) -> None:
    if any(result.verdict == "error" for result in results):
        return
    try:
        _parity_file(key).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(_parity_file(key), json.dumps({"outputs": [r.to_json() for r in results],
                                                             "notes": notes}))
    except (OSError, TfportError):
        pass  # best effort, as for artifacts

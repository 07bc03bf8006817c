"""Artifacts already made are not made again: a cache keyed by everything that shapes them.

The key covers the SavedModel fingerprint, target, quantization, target options, the golden set
(calibration data), the versions of tfport (and a digest of its code) and of the target's
converter and runtime packages. Entries are immutable directories, copied into the out directory
(not hard-linked: onnx refuses external-data files with more than one link).

A cache may be restored from another machine or branch, so an entry proves what it holds: it
records every file's size and SHA-256 when written, and the copy taken out of it is checked
against that record; an entry that fails is discarded and the artifact made again. Parity
results are keyed by the artifact's content, so a changed byte never inherits a verdict.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from tfport import __version__
from tfport.atomic import retire, staged_directory, write_text_atomically
from tfport.digests import ENTRY_FILES, changed_files, file_table
from tfport.errors import TfportError
from tfport.logfile import cache_dir
from tfport.parity.metrics import OutputResult


def package_versions(packages: tuple[str, ...]) -> dict[str, str]:
    versions = {}
    for package in packages:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "missing"
    return versions


@functools.cache
def _code_digest() -> str:
    """tfport's own source: a changed converter must not be answered from the cache."""
    digest = hashlib.sha256()
    package = Path(__file__).parent.parent
    for file in sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(file.read_bytes())
    return digest.hexdigest()


def artifact_key(parts: Mapping[str, Any]) -> str:
    identity = {"tfport": __version__, "code": _code_digest(), **parts}
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:32]


def artifacts_dir() -> Path:
    return cache_dir() / "artifacts"


def parity_dir() -> Path:
    return cache_dir() / "parity"


def _entry(key: str) -> Path:
    return artifacts_dir() / key


def holds(key: str) -> bool:
    """Is there an entry for `key` (not yet checked: restore() checks what it copies)?"""
    return _entry(key).is_dir()


def restore(key: str, staging: Path) -> tuple[bool, str | None]:
    """Fill `staging` from the cache: (True, None) on a verified hit, (False, None) on a miss, and
    (False, why) when the entry failed its check and was discarded.

    The copy is checked, not the entry, so what gets used is what was hashed."""
    entry = _entry(key)
    if not entry.is_dir():
        return False, None
    try:
        shutil.copytree(entry, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns(ENTRY_FILES))
        listed = json.loads((entry / ENTRY_FILES).read_text(encoding="utf-8"))["files"]
        problems = changed_files(staging, listed, staging, "the cache entry's file record")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        _empty(staging)
        if not entry.is_dir():
            return False, None  # another run discarded it meanwhile: a miss
        problems = [f"it cannot be read back ({exc})"]
    if not problems:
        os.utime(entry)  # last use, for `tfport cache prune`
        return True, None
    _empty(staging)
    discard(entry)
    return False, f"discarded the cached artifact {entry}: {'; '.join(problems)} — converted again"


def store(key: str, staging: Path) -> None:
    """Best effort: a full disk or a concurrent run storing the same entry costs only the reuse.

    The entry appears whole or not at all (staged beside it, then renamed), and an existing entry
    is never replaced, so a run copying out of it never sees it change."""
    if _entry(key).exists():
        return
    try:
        with staged_directory(_entry(key), replace=False) as entry:
            shutil.copytree(staging, entry, dirs_exist_ok=True)
            (entry / ENTRY_FILES).write_text(json.dumps({"files": file_table(entry, entry)}, indent=1), encoding="utf-8")
    except (OSError, TfportError):
        pass


def discard(path: Path) -> None:
    """Remove a cache entry: renamed first, so no run ever sees a half-deleted one."""
    try:
        retire(path)
    except OSError:
        pass  # best effort, as for storing


def _empty(directory: Path) -> None:
    for child in Path(directory).iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()


def _parity_file(key: str) -> Path:
    return parity_dir() / f"{key}.json"


def load_parity(key: str) -> tuple[list[OutputResult], list[str]] | None:
    """Parity results and the runner's notes stored for this key, or None (missing or unreadable:
    run parity again)."""
    try:
        stored = json.loads(_parity_file(key).read_text(encoding="utf-8"))
        results = [OutputResult.from_json(item) for item in stored["outputs"]], [str(n) for n in stored["notes"]]
        os.utime(_parity_file(key))  # last use, for `tfport cache prune`
        return results
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store_parity(key: str, label: str, results: list[OutputResult], notes: list[str]) -> None:
    """`label` names the artifact in `tfport cache`; the key alone decides reuse."""
    if any(result.verdict == "error" for result in results):
        return
    try:
        _parity_file(key).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomically(_parity_file(key), json.dumps({"label": label, "outputs": [r.to_json() for r in results],
                                                             "notes": notes}))
    except (OSError, TfportError):
        pass  # best effort, as for artifacts

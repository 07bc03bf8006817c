"""`tfport cache`: where the cache is, what it holds, and making it smaller.

Entries are artifact directories (`artifacts/<key>/`) and parity results (`parity/<key>.json`);
their modification time is their last use (reuse touches them), so pruning drops the least
recently used first. Pruning never touches another run's staging directory unless it is old
enough to be a killed run's leftover.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from tfport.errors import BadInputError, TfportError
from tfport.logfile import cache_dir, log_path
from tfport.pipeline import cache
from tfport.pipeline.record import RECORD, ArtifactRecord

LEFTOVER_AGE_S = 3600  # a staging directory this old belongs to a run that was killed
UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
         "t": 1000**4, "tb": 1000**4, "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}


@dataclass(frozen=True)
class Entry:
    kind: str  # "artifact", "parity" or "leftover" (a killed run's staging directory)
    path: Path
    label: str  # what it holds, e.g. "cnn tflite-int8"
    size_bytes: int
    last_used: float  # seconds since the epoch


def entries() -> list[Entry]:
    """Every cache entry, least recently used first."""
    found = []
    for path in _children(cache.artifacts_dir()):
        kind = "leftover" if path.name.startswith(".") else "artifact"
        found.append(Entry(kind, path, _artifact_label(path) if kind == "artifact" else path.name,
                           _size(path), path.stat().st_mtime))
    for path in _children(cache.parity_dir()):
        kind = "leftover" if path.name.startswith(".") else "parity"
        found.append(Entry(kind, path, _parity_label(path) if kind == "parity" else path.name,
                           _size(path), path.stat().st_mtime))
    return sorted(found, key=lambda entry: entry.last_used)


def other_contents() -> dict[str, int]:
    """What else lives in the cache directory (the TF.js runtime, the log), with sizes."""
    skip = {cache.artifacts_dir().name, cache.parity_dir().name}
    return {path.name: _size(path) for path in _children(cache_dir()) if path.name not in skip}


def prune(max_bytes: int) -> list[Entry]:
    """Remove least recently used entries until artifacts and parity results fit in `max_bytes`
    (and killed runs' leftovers, whatever the size); returns what was removed."""
    now, removed = time.time(), []
    current = entries()
    for entry in [e for e in current if e.kind == "leftover" and now - e.last_used > LEFTOVER_AGE_S]:
        cache.discard(entry.path)
        removed.append(entry)
    kept = [e for e in current if e.kind != "leftover"]
    total = sum(e.size_bytes for e in kept)
    for entry in kept:
        if total <= max_bytes:
            break
        cache.discard(entry.path)
        removed.append(entry)
        total -= entry.size_bytes
    return removed


def clear() -> int:
    """Remove every artifact and parity result, and whatever runtimes installed in the cache
    (fetched again on first use); keeps the log. Returns the bytes freed."""
    freed = 0
    for path in _children(cache_dir()):
        if path.resolve() != log_path().resolve():
            freed += _size(path)
            cache.discard(path)
    return freed


def parse_size(text: str) -> int:
    """`500MB`, `2G`, `1.5GiB`, `0` -> bytes (k, M, G, T are powers of 1000; KiB, MiB, GiB of 1024)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in UNITS:
        raise BadInputError(f"--max-size {text!r}: write a size such as 500MB, 2GB or 1.5GiB")
    return int(float(match.group(1)) * UNITS[match.group(2).lower()])


def _children(directory: Path) -> list[Path]:
    return sorted(directory.iterdir()) if directory.is_dir() else []


def _size(path: Path) -> int:
    """Bytes under `path`; files another run removes meanwhile count as gone."""
    total = 0
    for file in [path] if path.is_file() else path.rglob("*"):
        try:
            total += file.lstat().st_size if file.is_file() else 0
        except OSError:
            pass
    return total


def _artifact_label(path: Path) -> str:
    try:
        record = ArtifactRecord.read(path)
        return f"{record.model['name']} {record.target}-{record.quantization}"
    except TfportError:
        return f"{path.name} (no readable {RECORD}: `tfport cache prune` or the next use discards it)"


def _parity_label(path: Path) -> str:
    try:
        return str(json.loads(path.read_text(encoding="utf-8")).get("label", path.stem))
    except (OSError, ValueError, AttributeError):
        return path.stem

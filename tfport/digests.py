"""What a set of files is, by content: SHA-256 digests and file tables (size and digest by path),
and the check of files against such a table. Keys of every cache, golden manifests and release
manifests are built from these, so that a result never outlives the bytes it was about."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tfport.atomic import OWNER_MARK

ENTRY_FILES = ".tfport-files.json"  # inside each artifact entry: the file table it was written with


def file_digest(path: Path) -> str:
    """SHA-256 of a file, read in chunks: artifacts can be gigabytes."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def content_files(directory: Path) -> list[Path]:
    """The files that make up `directory`'s content; tfport's bookkeeping marks are not part of it."""
    return sorted(f for f in Path(directory).rglob("*") if f.is_file() and f.name not in (OWNER_MARK, ENTRY_FILES))


def file_table(root: Path, directory: Path) -> dict[str, dict[str, Any]]:
    """Every file under `directory` by its path relative to `root`, with size and SHA-256."""
    return {
        file.relative_to(root).as_posix(): {"size_bytes": file.stat().st_size, "sha256": file_digest(file)}
        for file in content_files(directory)
    }


def changed_files(root: Path, listed: Mapping[str, Mapping[str, Any]], directory: Path | None,
                  record: str = "the manifest") -> list[str]:
    """One line per file that is missing, differs from its recorded size or SHA-256, or (under
    `directory`, when given) is not listed."""
    problems = []
    for name, recorded in listed.items():
        file = Path(root) / name
        if not file.is_file():
            problems.append(f"{name} is missing")
        elif file.stat().st_size != recorded["size_bytes"] or file_digest(file) != recorded["sha256"]:
            problems.append(f"{name} changed (SHA-256 differs from {record})")
    if directory is not None and Path(directory).is_dir():
        present = {f.relative_to(root).as_posix() for f in content_files(directory)}
        problems += [f"{name} is not in {record}" for name in sorted(present - set(listed))]
    return problems


def content_digest(directory: Path) -> str:
    """One SHA-256 over every file of `directory` (names, sizes and contents): what parity is keyed by."""
    return hashlib.sha256(json.dumps(file_table(directory, directory), sort_keys=True).encode()).hexdigest()

"""tfport.json: the record `convert` writes beside each artifact — which target and mode made it,
from which SavedModel, with the converter's notes and the artifact's metadata.

It is what lets every command name an artifact the same way: the directory `convert` wrote, or
the artifact file (or a file inside a directory artifact) beside the record.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfport.digests import content_digest, content_files, file_digest
from tfport.errors import BadInputError
from tfport.plugin import ArtifactMetadata

RECORD = "tfport.json"


@dataclass
class ArtifactRecord:
    target: str
    quantization: str
    artifact: str  # the artifact's name inside the record's directory
    tfport: str  # the version that made it
    model: dict[str, Any]  # name and fingerprint of the SavedModel it was made from
    metadata: ArtifactMetadata
    notes: list[str] = field(default_factory=list)
    directory: Path | None = None  # where it was read from (the artifact sits in it)

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "quantization": self.quantization, "artifact": self.artifact,
                "tfport": self.tfport, "model": self.model, "notes": self.notes, "metadata": self.metadata.to_json()}

    def write(self, directory: Path) -> None:
        (Path(directory) / RECORD).write_text(json.dumps(self.to_json(), indent=2, default=str) + "\n",
                                              encoding="utf-8")

    @classmethod
    def read(cls, directory: Path) -> ArtifactRecord:
        """The record in `directory`, refused when it is malformed (written by hand, or by an older tfport)."""
        path = Path(directory) / RECORD
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(str(data["target"]), str(data["quantization"]), str(data["artifact"]), str(data["tfport"]),
                       {"name": data["model"]["name"], "fingerprint": data["model"]["fingerprint"]},
                       ArtifactMetadata.from_json(data["metadata"]), [str(n) for n in data.get("notes", [])],
                       Path(directory))
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BadInputError(f"{path} is malformed ({exc!r}) — convert the model again") from None


def artifact_dirs(directory: Path) -> list[Path]:
    """The artifact directories (each with its record) of a `convert` or `release` out directory."""
    return sorted(record.parent for record in Path(directory).glob(f"*/{RECORD}"))


def resolve_artifact(path: Path) -> tuple[Path, ArtifactRecord | None]:
    """(the artifact, its record or None) for what a user names: the directory `convert` wrote
    (holding tfport.json), the artifact itself, or one file inside a directory artifact."""
    path = Path(path)
    if not path.exists():
        raise BadInputError(f"no such artifact: {path}")
    if path.is_dir() and (path / RECORD).is_file():
        record = ArtifactRecord.read(path)
        artifact = path / record.artifact
        if not artifact.exists():
            raise BadInputError(f"{path / RECORD} names {record.artifact}, which is not in {path} — convert again")
        return artifact, record
    for candidate in list(path.resolve().parents)[:2]:
        if (candidate / RECORD).is_file():
            return path, ArtifactRecord.read(candidate)
    return path, None


def artifact_size(artifact: Path) -> int:
    """Bytes of the artifact: its file, or every file of a directory artifact."""
    files = [artifact] if artifact.is_file() else content_files(artifact)
    return sum(f.stat().st_size for f in files)


def describe_artifact(result: Any, artifact: Path, out_dir: Path) -> None:
    """Fill a report's ArtifactResult with where the artifact is (relative to `out_dir`), its size
    and SHA-256 (of the file; of its file table for a directory artifact)."""
    artifact = Path(artifact)
    result.artifact = os.path.relpath(artifact, out_dir)
    result.size_bytes = artifact_size(artifact)
    result.sha256 = file_digest(artifact) if artifact.is_file() else content_digest(artifact)

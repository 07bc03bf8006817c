"""`tfport verify`: a release directory checked from itself alone — file hashes first, then parity
again on each artifact's runtime with the tolerances the release applied. Needs no SavedModel."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfport.errors import EXIT_OK, EXIT_PARITY_FAILED, TfportError
from tfport.golden import read_golden
from tfport.registry import get_target, require_runtime
from tfport.release import GOLDEN_DIR, read_manifest, released_files
from tfport.replay import Stage, golden_summary, no_stage, prove, read_record
from tfport.report import ArtifactResult, Report
from tfport.tolerance import RecordedTolerances, Tolerance


@dataclass
class Verification:
    report: Report  # parity re-run of every artifact whose files are intact
    problems: list[str] = field(default_factory=list)  # files missing, changed or not in the manifest

    @property
    def exit_code(self) -> int:
        return max(EXIT_PARITY_FAILED if self.problems else EXIT_OK, self.report.exit_code)


def verify_release(directory: Path, stage: Stage = no_stage) -> Verification:
    directory = Path(directory)
    manifest = read_manifest(directory)
    stage("golden", "checking hashes")
    problems = changed_files(directory, manifest["golden"]["files"], directory / GOLDEN_DIR)
    golden = None if problems else read_golden(directory / GOLDEN_DIR)
    results = []
    for entry in manifest["artifacts"]:
        result = ArtifactResult(target=entry["target"], quantization=entry["quantization"])
        stage(result.label, "checking hashes")
        changed = changed_files(directory, entry["files"], directory / Path(entry["path"]).parts[0])
        problems += changed
        if changed or golden is None:
            result.error = "not run: " + ("; ".join(changed) or "the golden set failed its hash check")
            result.error_exit_code = EXIT_PARITY_FAILED
        else:
            stage(result.label, "parity on the runtime")
            _rerun(result, entry, directory, golden)
        results.append(result)
    golden_info = golden_summary(golden) if golden else {"path": str(directory / GOLDEN_DIR)}
    return Verification(Report(model=manifest["model"], golden=golden_info, results=results,
                               versions=manifest.get("versions", {})), problems)


def changed_files(root: Path, listed: dict[str, dict[str, Any]], directory: Path) -> list[str]:
    """One line per file that is missing, differs from its recorded size or SHA-256, or is not listed."""
    from tfport.cache import file_digest

    problems = []
    for name, recorded in listed.items():
        file = root / name
        if not file.is_file():
            problems.append(f"{name} is missing")
        elif file.stat().st_size != recorded["size_bytes"] or file_digest(file) != recorded["sha256"]:
            problems.append(f"{name} changed (SHA-256 differs from the manifest)")
    if directory.is_dir():
        present = {f.relative_to(root).as_posix() for f in released_files(directory)}
        problems += [f"{name} is not in the manifest" for name in sorted(present - set(listed))]
    return problems


def _rerun(result: ArtifactResult, entry: dict[str, Any], directory: Path, golden) -> None:
    artifact = directory / entry["path"]
    try:
        target = get_target(entry["target"])
        require_runtime(target)
        result.metadata = (read_record(artifact) or {}).get("metadata", {})
    except TfportError as exc:
        result.error, result.error_exit_code = str(exc), exc.exit_code
        return
    recorded = RecordedTolerances({
        (o["signature"], o["output"]): Tolerance().updated(o["tolerance"]) for o in entry["parity"]["outputs"]
    })
    prove(result, target, artifact, entry.get("options", {}), golden, recorded, directory)

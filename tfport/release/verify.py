"""`tfport verify`: a release directory checked from itself alone — with a key, the manifest's
signature first; then file hashes, then parity again on each artifact's runtime with the
tolerances the release applied. Needs no SavedModel."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfport.digests import changed_files
from tfport.errors import EXIT_OK, EXIT_PARITY_FAILED, TfportError
from tfport.golden.golden_set import read_golden
from tfport.parity.run import prove
from tfport.parity.tolerance import RecordedTolerances, Tolerance
from tfport.pipeline.progress import Stage, no_stage
from tfport.pipeline.record import describe_artifact, resolve_artifact
from tfport.registry import get_target, require_runtime
from tfport.release.make import GOLDEN_DIR, MANIFEST, read_manifest
from tfport.release.signing import verify_signature
from tfport.reports.report import ArtifactResult, Report


@dataclass
class Verification:
    report: Report  # parity re-run of every artifact whose files are intact
    problems: list[str] = field(default_factory=list)  # files missing, changed or not in the manifest
    signature: str | None = None  # ssh-keygen's confirmation, when a key was given and it verified

    @property
    def exit_code(self) -> int:
        return max(EXIT_PARITY_FAILED if self.problems else EXIT_OK, self.report.exit_code)


def verify_release(directory: Path, stage: Stage = no_stage, public_key: Path | None = None) -> Verification:
    """Raises SignatureError (exit 1) when `public_key` is given and the manifest is unsigned or
    does not verify: nothing a changed manifest says is looked at."""
    directory = Path(directory)
    signature = None
    if public_key is not None:
        if not (directory / MANIFEST).is_file():
            read_manifest(directory)  # names the missing directory or manifest
        stage("signature", "checking the manifest's signature")
        signature = verify_signature(directory / MANIFEST, public_key)
    manifest = read_manifest(directory)
    stage("golden", "checking hashes")
    problems = changed_files(directory, manifest["golden"]["files"], directory / GOLDEN_DIR)
    golden = None if problems else read_golden(directory / GOLDEN_DIR)
    results = []
    for entry in manifest["artifacts"]:
        result = ArtifactResult(target=entry["target"], quantization=entry["quantization"],
                                runtime=entry.get("parity_run", ""))
        stage(result.name, "checking hashes")
        changed = changed_files(directory, entry["files"], directory / Path(entry["path"]).parts[0])
        problems += changed
        if changed or golden is None:
            result.error = "not run: " + ("; ".join(changed) or "the golden set failed its hash check")
            result.error_exit_code = EXIT_PARITY_FAILED
        else:
            stage(result.name, "parity on the runtime")
            _rerun(result, entry, directory, golden)
        results.append(result)
    golden_info = golden.summary() if golden else {"path": str(directory / GOLDEN_DIR)}
    return Verification(Report(model=manifest["model"], golden=golden_info, results=results,
                               versions=manifest.get("versions", {})), problems, signature)


def _rerun(result: ArtifactResult, entry: dict[str, Any], directory: Path, golden) -> None:
    try:
        target = get_target(entry["target"])
        require_runtime(target)
        artifact, record = resolve_artifact(directory / entry["path"])
        result.metadata = record.metadata if record else None
    except TfportError as exc:
        result.error, result.error_exit_code = str(exc), exc.exit_code
        return
    recorded = RecordedTolerances({
        (o["signature"], o["output"]): Tolerance().updated(o["tolerance"]) for o in entry["parity"]["outputs"]
    })
    prove(result, target, artifact, entry.get("options", {}), golden, recorded)
    describe_artifact(result, artifact, directory)

"""Release directories: the artifacts that passed parity, and a manifest a device team can check.

A release directory is a `tfport convert` out directory, trimmed to what is released:
    manifest.json            per artifact: files with SHA-256, signatures as the artifact declares
                             them, what the runtime must provide, the parity verdict and metrics
    <target>-<mode>/         each released artifact beside its tfport.json record
    golden/                  the golden set, so `tfport verify` re-runs parity from this directory alone
    report.json, report.md, report.html, junit.xml    the run that made the release
    manifest.json.sig        with --sign: the manifest's SSH signature (tfport.release.signing)
Artifacts that failed parity are removed and listed in `excluded` with the reason, unless
`allow_failed` keeps them (marked `released_despite_failure`).
"""

from __future__ import annotations

import datetime
import json
import shutil
from pathlib import Path
from typing import Any

from tfport import __version__, digests
from tfport.atomic import retire, staged_directory, write_text_atomically
from tfport.errors import BadInputError
from tfport.parity.metrics import PASS, OutputResult
from tfport.pipeline import cache
from tfport.pipeline.convert import ConvertJob, convert
from tfport.pipeline.progress import Stage, no_stage
from tfport.pipeline.record import artifact_dirs
from tfport.plugin import ArtifactMetadata
from tfport.registry import get_target, run_options, target_options_for
from tfport.release import signing
from tfport.reports.report import ArtifactResult, Report, detail

MANIFEST = "manifest.json"
SCHEMA = "tfport-release"
SCHEMA_VERSION = 1
GOLDEN_DIR = "golden"


def make_release(
    job: ConvertJob, allow_failed: bool = False, stage: Stage = no_stage, sign_key: Path | None = None,
) -> tuple[Report, Path, dict]:
    """Convert and prove like `convert`, then trim the out directory to a release and write its
    manifest, signed with `sign_key` when given (the key is tried first, before any conversion)."""
    manifest: dict[str, Any] = {}
    if sign_key is not None:
        signing.check_signing_key(sign_key)

    def finish(report: Report, out_dir: Path) -> None:
        stage("release", "writing the manifest")
        manifest.update(write_release(report, out_dir, job, allow_failed))
        if sign_key is not None:
            stage("release", "signing the manifest")
            signing.sign_manifest(out_dir / MANIFEST, sign_key)

    report, out_dir = convert(job, stage, finish)
    return report, out_dir, manifest


def write_release(report: Report, out_dir: Path, job: ConvertJob, allow_failed: bool) -> dict[str, Any]:
    # An artifact proven on several runtimes (Target.parity_runs) is released when it passes on all.
    failing = {r.label for r in report.results if r.verdict != PASS}
    released = [r for r in report.results if r.artifact and (r.label not in failing or allow_failed)]
    excluded = [r for r in report.results if r not in released]
    (out_dir / MANIFEST).unlink(missing_ok=True)  # never a manifest describing other files
    signing.signature_path(out_dir / MANIFEST).unlink(missing_ok=True)  # nor a signature of another manifest
    _remove_unreleased(out_dir, {_directory(r) for r in released})
    _include_golden(Path(report.golden["path"]), out_dir / GOLDEN_DIR)
    manifest = {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "verdict": "pass" if all(r.verdict == PASS for r in released) else "fail",
        "model": report.model,
        "versions": {"tfport": __version__, **cache.package_versions(("tensorflow", "numpy"))},
        "golden": {"path": GOLDEN_DIR, "samples_per_signature": report.golden.get("samples_per_signature"),
                   "recorded_with": report.versions, "files": digests.file_table(out_dir, out_dir / GOLDEN_DIR)},
        "artifacts": [_artifact_entry(r, out_dir, job) for r in released],
        "excluded": [{"target": r.target, "quantization": r.quantization, "parity_run": r.runtime, "verdict": r.verdict,
                      "reason": _reason(r)}
                     for r in excluded],
    }
    write_text_atomically(out_dir / MANIFEST, json.dumps(manifest, indent=2, default=str) + "\n")
    return manifest


def _directory(result: ArtifactResult) -> str:
    return Path(result.artifact).parts[0]


def _include_golden(used: Path, inside: Path) -> None:
    """A golden set given with --golden is copied in: `verify` must need nothing but the release."""
    if used.resolve() != inside.resolve():
        with staged_directory(inside) as staging:
            shutil.copytree(used, staging, dirs_exist_ok=True)


def _remove_unreleased(out_dir: Path, keep: set[str]) -> None:
    """Artifact directories of failed or earlier runs; renamed first so no half-deleted one is seen."""
    for directory in artifact_dirs(out_dir):
        if directory.name not in keep:
            retire(directory)


def _artifact_entry(result: ArtifactResult, out_dir: Path, job: ConvertJob) -> dict[str, Any]:
    metadata = result.metadata
    target = get_target(result.target)
    return {
        "target": result.target, "quantization": result.quantization, "parity_run": result.runtime,
        "path": result.artifact,
        "verdict": result.verdict, "released_despite_failure": result.verdict != PASS,
        "size_bytes": result.size_bytes, "sha256": result.sha256,
        "files": digests.file_table(out_dir, out_dir / _directory(result)),
        "signatures": _signatures(metadata, report_signatures(result)),
        "runtime": metadata.runtime.to_json(),
        "converter": metadata.converter,
        "tools": cache.package_versions(target.packages),
        "options": run_options(target, target_options_for(target, job.target_options), result.runtime),
        "parity": {"verdict": result.verdict, "worst": worst_metrics(result.outputs),
                   "outputs": [_output_entry(o) for o in result.outputs]},
        "notes": result.notes, "seconds": result.seconds,
        **({"budget": metadata.target_data["budget"]} if "budget" in metadata.target_data else {}),
    }


def report_signatures(result: ArtifactResult) -> list[str]:
    return list(dict.fromkeys(o.signature for o in result.outputs))


def _signatures(metadata: ArtifactMetadata, keys: list[str]) -> dict[str, Any]:
    """Each signature's tensors as the artifact declares them; an alias points at the one it shares."""
    described = {}
    for key in keys:
        kept = metadata.signature_aliases.get(key, key)
        described[key] = {**metadata.signature_io(key), **({"same_as": kept} if kept != key else {})}
    return described


def _output_entry(output: OutputResult) -> dict[str, Any]:
    return {"signature": output.signature, "output": output.output, "verdict": output.verdict,
            "metrics": output.metrics, "tolerance": output.tolerance, "message": output.message}


def worst_metrics(outputs: list[OutputResult]) -> dict[str, float]:
    """The worst value of each metric over all outputs (largest error, smallest similarity)."""
    worst: dict[str, float] = {}
    for output in outputs:
        for name, value in output.metrics.items():
            larger_is_worse = "error" in name or name == "mismatches"
            if name not in worst or (value > worst[name] if larger_is_worse else value < worst[name]):
                worst[name] = value
    return worst


def _reason(result: ArtifactResult) -> str:
    if result.verdict == PASS:
        return "passes on this runtime, but the artifact fails on another one it was proven on"
    if result.error or result.unchecked:
        return detail(result, None)
    failed = [o for o in result.outputs if o.verdict != PASS]
    return "parity failed: " + "; ".join(f"{o.signature}/{o.output}: {o.summary()}" for o in failed)


def read_manifest(directory: Path) -> dict[str, Any]:
    """manifest.json of a release directory, refused when missing or not one tfport wrote."""
    path = Path(directory) / MANIFEST
    if not Path(directory).is_dir():
        raise BadInputError(f"no such directory: {directory}")
    if not path.is_file():
        raise BadInputError(f"{directory} has no {MANIFEST} — pass a directory `tfport release` wrote")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if manifest.get("schema") != SCHEMA:
            raise ValueError(f"schema is {manifest.get('schema')!r}, not {SCHEMA!r}")
        if manifest.get("schema_version", 0) > SCHEMA_VERSION:
            raise ValueError(f"schema version {manifest['schema_version']} is newer than this tfport reads")
        for entry in manifest["artifacts"]:
            entry["target"], entry["quantization"], entry["path"], entry["files"], entry["parity"]["outputs"]
        manifest["golden"]["files"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadInputError(f"{path} is not a tfport release manifest ({exc}) — make the release again") from None
    return manifest


"""Run artifacts on their runtimes against golden sets: the proof step, with or without conversion."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tfport import cache
from tfport.errors import BadInputError, TfportError
from tfport.golden import GoldenSet, read_golden
from tfport.logfile import native_stderr_to_log
from tfport.noise_floor import judged
from tfport.parity import OutputResult, compare_signature
from tfport.plugin import Runner, Target
from tfport.registry import (
    check_mode,
    check_options_known,
    get_target,
    require_runtime,
    target_for_artifact,
    target_options_for,
)
from tfport.report import ArtifactResult, Report
from tfport.savedmodel import Signature
from tfport.tolerance import Tolerance, TolerancePolicy

Stage = Callable[[str, str], None]  # (task, what it is doing now): drives a progress display


def no_stage(task: str, text: str) -> None:
    pass


def run_parity(
    target: Target, mode: str, runner: Runner, golden: GoldenSet,
    signatures: Mapping[str, Signature], policy: TolerancePolicy,
) -> list[OutputResult]:
    """Run every golden sample through `runner` and compare with the recorded outputs."""
    import numpy as np

    answered: dict[str, dict[str, np.ndarray]] = {}
    for key in sorted(signatures, key=lambda k: k in golden.aliases):  # kept signatures first
        kept = golden.aliases.get(key)
        if kept in answered and all(np.array_equal(golden.inputs[key][n], golden.inputs[kept][n])
                                    for n in golden.inputs[key]):
            answered[key] = answered[kept]  # the same function on the same samples: run it once
            continue
        per_sample = [runner.run(key, feed) for feed in golden.feeds(key)]
        answered[key] = {name: np.stack([s[name] for s in per_sample]) for name in per_sample[0]} if per_sample else {}
    results = []
    for key in signatures:
        limits = {output: output_tolerance(target, mode, golden, policy, key, output) for output in golden.outputs[key]}
        for result in compare_signature(key, golden.outputs[key], answered[key], lambda output, limits=limits: limits[output][0]):
            result.limits = limits[result.output][1]
            results.append(result)
    return results


def output_tolerance(
    target: Target, mode: str, golden: GoldenSet, policy: TolerancePolicy, signature: str, output: str,
) -> tuple[Tolerance, dict[str, Any]]:
    """The tolerance one output is judged by — the target's default, the user's config and flags,
    then the golden set's noise floor (tfport.noise_floor.judged) — and the limits behind it."""
    tolerance = policy.for_output(target.tolerances[mode], target.name, mode, signature, output)
    given = policy.for_output(Tolerance(), target.name, mode, signature, output)
    return judged(tolerance, given, mode, golden.noise_floor(signature, output))


def timed_parity(
    target, mode, artifact, metadata, options, golden, signatures, policy, result,
) -> tuple[list[OutputResult], list[str]]:
    """run_parity, and the runner's notes on how it ran; load and run time go into result.seconds["parity"]."""
    started = time.perf_counter()
    runner = target.open_runner(artifact, metadata, options)
    try:
        return run_parity(target, mode, runner, golden, signatures, policy), list(getattr(runner, "notes", []))
    finally:
        runner.close()
        result.seconds["parity"] = round(time.perf_counter() - started, 3)


def describe_artifact(result: ArtifactResult, artifact: Path, out_dir: Path) -> None:
    files = [artifact] if artifact.is_file() else sorted(p for p in artifact.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for file in files:
        with open(file, "rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    result.artifact = os.path.relpath(artifact, out_dir)
    result.size_bytes = sum(f.stat().st_size for f in files)
    result.sha256 = digest.hexdigest()


def check_artifact(
    artifact: Path, golden_dir: Path, policy: TolerancePolicy, mode: str | None = None,
    report_dir: Path | None = None, options: Mapping[str, Any] | None = None, stage: Stage = no_stage,
) -> tuple[Report, Path]:
    """Parity of an existing artifact against a golden set: no conversion, no TensorFlow needed."""
    artifact = Path(artifact)
    if not artifact.exists():
        raise BadInputError(f"no such artifact: {artifact}")
    record = read_record(artifact)
    target = get_target(record["target"]) if record else target_for_artifact(artifact)
    mode = mode or (record or {}).get("quantization") or target.default_mode
    check_mode(target, mode)
    check_options_known([target], options or {})
    stage("golden", "reading the golden set")
    golden = read_golden(golden_dir)
    if record:
        golden.check_model(record["model"]["fingerprint"], golden.signatures, f"artifact {artifact}")
    require_runtime(target)
    result = ArtifactResult(target=target.name, quantization=mode, metadata=(record or {}).get("metadata", {}))
    # Beside the artifact, never inside a directory artifact: that would change what gets deployed.
    report_dir = Path(report_dir) if report_dir else artifact.resolve().parent
    report_dir.mkdir(parents=True, exist_ok=True)
    stage(result.label, "parity on the runtime")
    prove(result, target, artifact, target_options_for(target, options or {}), golden, policy, report_dir)
    report = Report(model=golden.manifest["model"], golden=golden_summary(golden), results=[result])
    from tfport.render import write_reports

    write_reports(report, report_dir)
    return report, report_dir


def prove(
    result: ArtifactResult, target: Target, artifact: Path, options: Mapping[str, Any], golden: GoldenSet,
    policy: TolerancePolicy, report_dir: Path,
) -> None:
    """Parity of an existing artifact into `result`; its errors become this result's, not the run's."""
    try:
        with native_stderr_to_log():
            result.outputs, runtime_notes = timed_parity(target, result.quantization, artifact, result.metadata,
                                                         options, golden, golden.signatures, policy, result)
            result.notes += runtime_notes
        describe_artifact(result, artifact, report_dir)
    except TfportError as exc:
        result.error, result.error_exit_code = str(exc), exc.exit_code


def read_record(artifact: Path) -> dict[str, Any] | None:
    """The tfport.json that `convert` wrote beside the artifact (an artifact may be a directory
    holding per-signature files, and the user may point at one of those files)."""
    candidates = ([artifact] if artifact.is_dir() else []) + list(artifact.resolve().parents[:2])
    record_file = next((c / cache.RECORD for c in candidates if (c / cache.RECORD).is_file()), None)
    if record_file is None:
        return None
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
        record["target"], record["model"]["fingerprint"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise BadInputError(f"{record_file} is malformed ({exc!r}) — convert the model again") from None
    return record


def golden_summary(golden: GoldenSet) -> dict[str, Any]:
    samples = {key: golden.sample_count(key) for key in golden.inputs}
    return {"path": str(golden.path), "samples": max(samples.values(), default=0),
            "samples_per_signature": samples, "request": golden.manifest.get("request")}

"""`tfport parity`: an existing artifact against a golden set — no conversion, no TensorFlow needed."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tfport.golden.golden_set import read_golden
from tfport.parity.run import prove
from tfport.parity.tolerance import TolerancePolicy
from tfport.pipeline.progress import Stage, no_stage
from tfport.pipeline.record import describe_artifact, resolve_artifact
from tfport.registry import (
    check_mode,
    check_options_known,
    get_target,
    require_runtime,
    target_for_artifact,
    target_options_for,
)
from tfport.reports.report import ArtifactResult, Report
from tfport.reports.write import write_reports


def check_artifact(
    named: Path, golden_dir: Path, policy: TolerancePolicy, mode: str | None = None,
    report_dir: Path | None = None, options: Mapping[str, Any] | None = None, stage: Stage = no_stage,
    signature: str | None = None,
) -> tuple[Report, Path]:
    """`named`: the directory `convert` wrote, the artifact (tfport's or another tool's), or a file
    inside a directory artifact. `signature`: check that one alone."""
    artifact, record = resolve_artifact(Path(named))
    artifact, target = (artifact, get_target(record.target)) if record else target_for_artifact(artifact)
    mode = mode or (record.quantization if record else target.default_mode)
    check_mode(target, mode)
    check_options_known([target], options or {})
    runtime_options = target_options_for(target, options or {})
    target.check_options(runtime_options)
    stage("golden", "reading the golden set")
    golden = read_golden(golden_dir)
    if record:
        golden.check_model(record.model["fingerprint"], golden.signatures, f"artifact {artifact}")
    require_runtime(target)
    # Beside the artifact, never inside a directory artifact: that would change what gets deployed.
    report_dir = Path(report_dir) if report_dir else artifact.resolve().parent
    report_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for runtime, options_of_run in target.parity_runs(runtime_options):
        result = ArtifactResult(target=target.name, quantization=mode, runtime=runtime,
                                metadata=record.metadata if record else None)
        stage(result.name, "parity on the runtime")
        prove(result, target, artifact, options_of_run, golden, policy, signature)
        describe_artifact(result, artifact, report_dir)
        results.append(result)
    report = Report(model=golden.manifest["model"], golden=golden.summary(), results=results)
    write_reports(report, report_dir)
    return report, report_dir

"""`tfport explain` and `convert --explain`: where an artifact starts to differ from its SavedModel."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tfport.errors import BadInputError
from tfport.golden.golden_set import GoldenSet, read_golden
from tfport.logfile import native_stderr_to_log
from tfport.parity.run import output_tolerance
from tfport.parity.tolerance import TolerancePolicy
from tfport.pipeline.progress import Stage, no_stage
from tfport.pipeline.record import resolve_artifact
from tfport.plugin import ArtifactMetadata, Target
from tfport.registry import check_mode, get_target, require_runtime, target_for_artifact, target_options_for
from tfport.savedmodel.reader import inspect_saved_model

EXPLAIN_FILE = "explain.json"


def explain_artifact(
    named: Path, golden_dir: Path, policy: TolerancePolicy, model_path: Path | None = None, mode: str | None = None,
    options: Mapping[str, Any] | None = None, stage: Stage = no_stage, report_dir: Path | None = None,
) -> tuple[list[dict[str, Any]], Path]:
    """The explanation of each signature, and the explain.json written into `report_dir` (default:
    beside the artifact). `model_path`: the SavedModel to compare with (default: the one the golden
    set was recorded from)."""
    artifact, record = resolve_artifact(Path(named))
    artifact, target = (artifact, get_target(record.target)) if record else target_for_artifact(artifact)
    mode = mode or (record.quantization if record else target.default_mode)
    check_mode(target, mode)
    stage("golden", "reading the golden set")
    golden = read_golden(golden_dir)
    model_dir = Path(model_path or golden.manifest["model"].get("path") or "")
    if not model_path and not model_dir.is_dir():
        raise BadInputError(f"the golden set names SavedModel {model_dir}, which is not here — give --model PATH")
    model = inspect_saved_model(model_dir)
    require_runtime(target)
    runs = target.parity_runs(target_options_for(target, options or {}))
    if len(runs) > 1:
        raise BadInputError(f"tfport explain compares one runtime with the SavedModel, and the options name "
                            f"{len(runs)} ({', '.join(name for name, _ in runs)}) — give one")
    stage(f"{target.name}-{mode}", "running both op by op")
    explanations = explain(target, mode, artifact, record.metadata if record else None, runs[0][1], golden,
                           model_dir, model.tags, policy)
    where = (Path(report_dir) if report_dir else artifact.resolve().parent) / EXPLAIN_FILE
    where.parent.mkdir(parents=True, exist_ok=True)
    where.write_text(json.dumps({"artifact": str(artifact), "model": str(model_dir), "target": target.name,
                                 "quantization": mode, "signatures": explanations}, indent=2) + "\n")
    return explanations, where


def explain(target: Target, mode: str, artifact: Path, metadata: ArtifactMetadata | None, options: Mapping[str, Any],
            golden: GoldenSet, model_dir: Path, tags, policy: TolerancePolicy) -> list[dict[str, Any]]:
    """Each distinct signature's explanation (tfport.explain.localise), as JSON-ready data."""
    from tfport.explain.localise import explain_artifact as localise

    tolerances = {key: output_tolerance(target, mode, golden, policy, key, next(iter(golden.outputs[key])))[0]
                  for key in golden.signatures if key not in golden.aliases and golden.outputs.get(key)}
    with native_stderr_to_log():
        runner = target.open_runner(artifact, metadata, options)
        try:
            return [e.to_json() for e in localise(runner, model_dir, tags, golden, tolerances)]
        except NotImplementedError as exc:
            raise BadInputError(f"tfport explain cannot look inside {target.name} artifacts: {exc}") from None
        finally:
            runner.close()

"""Drive a runner over a golden set and judge every output: the proof step."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tfport.errors import CannotCheckHere, TfportError
from tfport.golden.golden_set import GoldenSet, once_per_function
from tfport.logfile import native_stderr_to_log
from tfport.parity.metrics import OutputResult, compare_signature
from tfport.parity.noise_floor import judged
from tfport.parity.tolerance import Tolerance, TolerancePolicy
from tfport.plugin import ArtifactMetadata, Runner, Target
from tfport.savedmodel.reader import Signature


def run_parity(
    target: Target, mode: str, runner: Runner, golden: GoldenSet,
    signatures: Mapping[str, Signature], policy: TolerancePolicy,
) -> list[OutputResult]:
    """Run every golden sample through `runner` and compare with the recorded outputs."""

    def answer(key: str) -> dict[str, np.ndarray]:
        per_sample = [runner.run(key, feed) for feed in golden.feeds(key)]
        return {name: np.stack([s[name] for s in per_sample]) for name in per_sample[0]} if per_sample else {}

    answered = once_per_function(signatures, golden.aliases, golden.inputs, answer)
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
    then the golden set's noise floor (tfport.parity.noise_floor.judged) — and the limits behind it."""
    tolerance = policy.for_output(target.tolerances[mode], target.name, mode, signature, output)
    given = policy.for_output(Tolerance(), target.name, mode, signature, output)
    return judged(tolerance, given, mode, golden.noise_floor(signature, output))


def timed_parity(
    target: Target, mode: str, artifact: Path, metadata: ArtifactMetadata | None, options: Mapping[str, Any],
    golden: GoldenSet, signatures: Mapping[str, Signature], policy: TolerancePolicy, seconds: dict[str, float],
) -> tuple[list[OutputResult], list[str]]:
    """run_parity, and the runner's notes on how it ran; load and run time go into seconds["parity"]."""
    started = time.perf_counter()
    with native_stderr_to_log():
        runner = target.open_runner(artifact, metadata, options)
        try:
            return run_parity(target, mode, runner, golden, signatures, policy), list(runner.notes)
        finally:
            runner.close()
            seconds["parity"] = round(time.perf_counter() - started, 3)


def prove(
    result: Any, target: Target, artifact: Path, options: Mapping[str, Any], golden: GoldenSet,
    policy: TolerancePolicy,
) -> None:
    """Parity of an existing artifact into `result` (a tfport.reports.report.ArtifactResult); its
    errors become this result's, not the run's."""
    try:
        result.outputs, runtime_notes = timed_parity(target, result.quantization, artifact, result.metadata,
                                                     options, golden, golden.signatures, policy, result.seconds)
        result.notes += runtime_notes
    except CannotCheckHere as exc:
        result.unchecked = str(exc)
    except TfportError as exc:
        result.error, result.error_exit_code = str(exc), exc.exit_code

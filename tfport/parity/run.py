"""Drive a runner over a golden set and judge every output: the proof step."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tfport.errors import BadInputError, CannotCheckHere, TfportError
from tfport.golden.golden_set import GoldenSet, once_per_function
from tfport.logfile import native_stderr_to_log
from tfport.parity.io_names import array_specs, match_names
from tfport.parity.metrics import OutputResult, compare_signature
from tfport.parity.noise_limit import judged
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
        actual = keyed_like(answered[key], golden.outputs[key])
        untaken = golden.untaken_branches(key)
        for result in compare_signature(key, golden.outputs[key], actual, lambda output, limits=limits: limits[output][0]):
            result.limits = limits[result.output][1]
            if result.output in untaken:
                result.weak_evidence = "; ".join(filter(None, (result.weak_evidence, untaken[result.output] + " — "
                                                                + BRANCH_HINT)))
            results.append(result)
    return results


BRANCH_HINT = "the verdict covers the sides taken only: pass --inputs FILE.npz with samples that take the others"


def keyed_like(actual: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The artifact's outputs under the golden set's keys, where another tool named them its own
    way (tfport.parity.io_names); names it cannot match stay, and are reported as missing outputs."""
    if set(reference) <= set(actual):
        return dict(actual)
    matched = match_names(array_specs(reference), array_specs(actual))
    renamed = {name: key for key, name in matched.items()}
    return {renamed.get(name, name): value for name, value in actual.items()}


def output_tolerance(
    target: Target, mode: str, golden: GoldenSet, policy: TolerancePolicy, signature: str, output: str,
) -> tuple[Tolerance, dict[str, Any]]:
    """The tolerance one output is judged by — the target's default, the user's config and flags,
    then the golden set's noise floor (tfport.parity.noise_limit.judged) — and the limits behind it."""
    tolerance = policy.for_output(target.tolerances[mode], target.name, mode, signature, output)
    given = policy.for_output(Tolerance(), target.name, mode, signature, output)
    return judged(tolerance, given, mode, golden.noise_floor(signature, output))


def timed_parity(
    target: Target, mode: str, artifact: Path, metadata: ArtifactMetadata | None, options: Mapping[str, Any],
    golden: GoldenSet, signatures: Mapping[str, Signature], policy: TolerancePolicy, seconds: dict[str, float],
    signature: str | None = None,
) -> tuple[list[OutputResult], list[str]]:
    """run_parity, and the runner's notes on how it ran; load and run time go into seconds["parity"].
    `signature` checks that one alone (with the signatures that are the same function)."""
    started = time.perf_counter()
    with native_stderr_to_log():
        runner = target.open_runner(artifact, metadata, options)
        try:
            checked, chosen = checked_signatures(runner.unnamed, golden, signatures, signature)
            return run_parity(target, mode, runner, golden, checked, policy), [*chosen, *runner.notes]
        finally:
            runner.close()
            seconds["parity"] = round(time.perf_counter() - started, 3)


def checked_signatures(
    unnamed: bool, golden: GoldenSet, signatures: Mapping[str, Signature], asked: str | None,
) -> tuple[dict[str, Signature], list[str]]:
    """The signatures to check, and a note when they are not all of them: `asked` (--signature)
    with the signatures that are the same function; for one graph that names no signature (another
    tool made it), the one it was most likely made from — serving_default, the converters' default,
    or the golden set's only function."""
    if asked is None and not unnamed:
        return dict(signatures), []
    distinct = sorted({golden.aliases.get(key, key) for key in signatures})
    if asked is not None and asked not in signatures:
        raise BadInputError(f"--signature {asked!r}: the golden set has {', '.join(sorted(signatures))}")
    chosen = asked or ("serving_default" if "serving_default" in signatures else distinct[0] if len(distinct) == 1 else None)
    if chosen is None:
        raise BadInputError(f"the artifact is one graph that names no signature, and the golden set has {', '.join(distinct)}"
                            " — pass --signature NAME for the one it was converted from")
    kept = golden.aliases.get(chosen, chosen)
    checked = {key: spec for key, spec in signatures.items() if golden.aliases.get(key, key) == kept}
    why = "as --signature asks" if asked else "the artifact is one graph that names no signature (another tool made it)"
    same = [key for key in checked if key != chosen]
    also = f" (and {', '.join(repr(k) for k in same)}, the same function)" if same else ""
    return checked, [f"checked against the golden set's signature {chosen!r}{also}: {why}"]


def prove(
    result: Any, target: Target, artifact: Path, options: Mapping[str, Any], golden: GoldenSet,
    policy: TolerancePolicy, signature: str | None = None,
) -> None:
    """Parity of an existing artifact into `result` (a tfport.reports.report.ArtifactResult); its
    errors become this result's, not the run's."""
    try:
        result.outputs, runtime_notes = timed_parity(target, result.quantization, artifact, result.metadata,
                                                     options, golden, golden.signatures, policy, result.seconds,
                                                     signature)
        result.notes += runtime_notes
    except CannotCheckHere as exc:
        result.unchecked = str(exc)
    except TfportError as exc:
        result.error, result.error_exit_code = str(exc), exc.exit_code

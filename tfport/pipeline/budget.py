"""`--budget`: int8 that meets an accuracy budget, keeping in float only the ops it must.

Plain int8 first: when it meets the budget, every op stays int8 and the report says so. Otherwise
`tfport explain` measures, op by op, where plain int8's error arises, and two kinds of mix are
tried, each converted and measured on the golden set like any artifact:

1. outliers — the ops whose own SNR drop is far above the others' (a layer with a wide range);
2. the ends — every value of the artifact in float, and then the first and last values in its
   execution order, as few as meet the budget: the error made early is amplified by all that
   follows, and the last ops' int8 steps are the output's (measured on MobileNetV2: keeping its
   32 worst ops by their own drop in float gave 9.7 dB, its first 32 ops 21.5 dB at 1.1x the size
   of plain int8; on MobileNetV2 96 with a softmax, only the ends together restore it).

A mix meets the budget when it reaches every budget metric *and* passes every check its verdict
applies (the mode's tolerance: int8's top-1 agreement among them), so a budget that is met ends
in a passing artifact. The first mix that meets it is kept — or, when none does, the best
reached, with the metric it cannot reach. A target takes part when it declares the `keep_float`
option (ops left in float by name).
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfport.errors import BadInputError
from tfport.golden.golden_set import GoldenSet
from tfport.parity.metrics import PASS
from tfport.parity.run import run_parity
from tfport.parity.tolerance import TolerancePolicy
from tfport.pipeline.explain import explain
from tfport.pipeline.record import artifact_size
from tfport.plugin import ConversionRequest, ConversionResult, Target

METRICS = {"snr_db": "snr_db", "cosine": "cosine", "top1": "top1_agreement"}  # budget name -> parity metric
OUTLIER_DB = 10.0  # an op whose own SNR drop exceeds the median drop by this much is an outlier


def parse_budget(text: str | None) -> dict[str, float]:
    """`snr_db=20,top1=0.99` -> {"snr_db": 20.0, "top1": 0.99}; refused unless every part is known."""
    budget = {}
    for part in filter(None, (text or "").split(",")):
        name, _, value = part.partition("=")
        try:
            if name.strip() not in METRICS:
                raise ValueError
            budget[name.strip()] = float(value)
        except ValueError:
            raise BadInputError(f"--budget {part!r}: write METRIC=VALUE with METRIC one of "
                                f"{', '.join(METRICS)} (e.g. --budget snr_db=20,top1=0.99)") from None
    return budget


@dataclass
class Trial:
    kept_float: list[str]
    size: int
    reached: dict[str, float]  # the worst value of each budget metric over the outputs
    why: str  # which kind of mix
    failed: list[str] = field(default_factory=list)  # the verdict's own checks that fail, per output

    def meets(self, budget: Mapping[str, float]) -> bool:
        return not self.failed and all(self.reached.get(name, float("-inf")) >= value for name, value in budget.items())

    def to_json(self) -> dict[str, Any]:
        return {"kept_float": len(self.kept_float), "size_bytes": self.size, "reached": self.reached, "mix": self.why,
                "failed_checks": self.failed}


@dataclass
class BudgetSearch:
    """What the search tried and chose; `to_json` goes into the report, the record and the manifest."""

    budget: dict[str, float]
    trials: list[Trial] = field(default_factory=list)
    chosen: Trial | None = None
    matched_ops: int = 0

    @property
    def met(self) -> bool:
        return self.chosen is not None and self.chosen.meets(self.budget)

    def note(self) -> str:
        plain, chosen = self.trials[0], self.chosen
        wanted = ", ".join(f"{name} ≥ {value:g}" for name, value in self.budget.items())
        reached = lambda trial: ", ".join(f"{name} {value:.4g}" for name, value in trial.reached.items())  # noqa: E731
        if chosen is plain and self.met:
            return f"--budget {wanted}: plain int8 meets it ({reached(plain)}) — every op stays int8"
        ratio = chosen.size / plain.size if plain.size else 0
        kept = f"{len(chosen.kept_float)} value(s) of the artifact kept in float ({chosen.why}; {self.matched_ops} " \
               "ops matched the SavedModel's)"
        if self.met and chosen.why == "every op":
            return (f"--budget {wanted}: met with every value of the artifact kept in float, and by no smaller mix "
                    f"tried — this model's int8 cannot reach it (plain int8: {reached(plain)}): {reached(chosen)}, "
                    f"{ratio:.2f}x the size of plain int8, a float model in an int8 file — ship the float32 or fp16 "
                    "artifact instead, or calibrate on real inputs (--calibration)")
        if self.met:
            return (f"--budget {wanted}: met with {kept}: {reached(chosen)}, {ratio:.2f}x the size of plain int8 "
                    f"({reached(plain)})")
        if all(chosen.reached.get(name, float("-inf")) >= value for name, value in self.budget.items()):
            return (f"--budget {wanted}: reached, but no mix tried passes the mode's own tolerance — the best has "
                    f"{kept} ({reached(chosen)}, {ratio:.2f}x the size of plain int8) and still fails "
                    f"{'; '.join(chosen.failed)}")
        return (f"--budget {wanted}: not met — the best mix tried has {kept} and reaches {reached(chosen)} at "
                f"{ratio:.2f}x the size of plain int8 ({reached(plain)}); the error left lies where the target's "
                "quantizer cannot be told to keep float (every value tfport can name was listed)")

    def to_json(self) -> dict[str, Any]:
        return {"budget": self.budget, "met": self.met, "matched_ops": self.matched_ops,
                "kept_float": self.chosen.kept_float if self.chosen else [],
                "reached": self.chosen.reached if self.chosen else {},
                "size_bytes": self.chosen.size if self.chosen else None,
                "trials": [trial.to_json() for trial in self.trials]}


def search(target: Target, mode: str, request: ConversionRequest, golden: GoldenSet, policy: TolerancePolicy,
           budget: Mapping[str, float], model_dir: Path, tags) -> tuple[ConversionResult, BudgetSearch]:
    """Convert into request.out_dir the first mix that meets `budget` (or the best reached)."""
    outcome = BudgetSearch(dict(budget))
    runner_options = target.parity_runs(request.options)[0][1]  # the search measures on the first runtime proven
    with tempfile.TemporaryDirectory(prefix="tfport-budget-", dir=request.out_dir.parent) as scratch:
        trials: list[tuple[Trial, ConversionResult]] = []
        tried: dict[tuple[str, ...], Trial] = {}

        def attempt(kept: list[str], why: str) -> Trial:
            if tuple(kept) in tried:  # the same mix by another road: measured once
                return tried[tuple(kept)]
            out = Path(tempfile.mkdtemp(dir=scratch))
            converted = target.convert(ConversionRequest(request.saved_model, mode, out, request.calibration,
                                                         {**request.options, "keep_float": ",".join(kept)}))
            reached, failed = _reached(target, mode, converted, golden, policy, budget, runner_options)
            trial = Trial(kept, artifact_size(converted.artifact), reached, why, failed)
            trials.append((trial, converted))
            outcome.trials.append(trial)
            tried[tuple(kept)] = trial
            return trial

        plain = attempt([], "plain int8")
        if not plain.meets(budget):
            ops, order = _ranked_ops(target, mode, trials[0][1], golden, model_dir, tags, policy, runner_options)
            outcome.matched_ops = len(ops)
            _mixes(ops, order, attempt, budget)
        met = [pair for pair in trials if pair[0].meets(budget)]
        best, converted = (min(met, key=lambda p: (p[0].size, len(p[0].kept_float))) if met
                           else max(trials, key=lambda p: _score(p[0], budget)))
        outcome.chosen = best
        final = request.out_dir / converted.artifact.name
        shutil.move(str(converted.artifact), final)
        converted.artifact = final
    converted.notes.append(outcome.note())
    converted.metadata.target_data["budget"] = outcome.to_json()
    return converted, outcome


def _mixes(ops: list[dict[str, Any]], order: list[str], attempt: Callable[[list[str], str], Trial],
           budget: Mapping[str, float]) -> None:
    """Outliers first; then every value of the artifact in float — and when that meets the budget,
    mixes of its two ends in execution order, where int8 hurts most: the last s values (s = 0, 1,
    2, 4, …) with the shortest prefix that then meets it, found by bisection. The ladder stops
    once a longer tail gives no smaller mix, or the tail alone is as large as the smallest mix that
    met: later layers hold most of the weights, so the tail is the costly end. A mix of values, not of matched ops, takes along
    the quantize steps and fused nodes that no TF op matched — and a softmax's output, whose int8
    steps of 1/256 on a 1000-class model erase most of its values."""
    drops = [op["added_db"] for op in ops]
    if drops:
        typical = statistics.median(drops)
        outliers = [op["artifact_name"] for op in ops if op["added_db"] > typical + OUTLIER_DB]
        few = len(outliers) <= max(1, len(ops) // 10)  # many "outliers" are the norm, not exceptions
        if outliers and few and attempt(outliers, f"{len(outliers)} outlier op(s)").meets(budget):
            return
    every = attempt(order, "every op")
    if not every.meets(budget):
        return
    count, smallest, last, prefix = len(order), every.size, 0, len(order)

    def ends(first: int) -> Trial:
        return attempt(order[:first] + order[count - last:][max(0, first + last - count):],
                       f"the first {first} and last {last} values in execution order")

    while last < count:
        if not last and not ends(count - 1).meets(budget):  # then no prefix alone meets it
            last = 1
        tail = ends(0) if last else None
        if tail is not None and (tail.meets(budget) or tail.size >= smallest):
            return
        prefix = _smallest(1 if last else 0, prefix, lambda first: ends(first).meets(budget))
        found = ends(prefix)
        if found.meets(budget) and found.size < smallest:
            smallest = found.size
        elif last:  # a longer tail costs more than the shorter prefix it allows saves
            return
        last = max(1, 2 * last)


def _smallest(low: int, high: int, meets: Callable[[int], bool]) -> int:
    """The smallest k in [low, high] for which `meets(k)`, by bisection; `meets(high)` is known."""
    while low < high:
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle + 1
    return high


def _ranked_ops(target, mode, converted: ConversionResult, golden, model_dir, tags, policy,
                options) -> tuple[list[dict[str, Any]], list[str]]:
    """Plain int8's matched ops in graph order (over every signature), with the SNR each loses;
    and every value of the artifact in its execution order."""
    explanations = explain(target, mode, converted.artifact, converted.metadata, options, golden, model_dir, tags,
                           policy)
    ops: dict[str, dict[str, Any]] = {}
    order: dict[str, None] = {}
    for explanation in explanations:
        for op in explanation["ops"]:
            ops.setdefault(op["artifact_name"], op)
        order.update(dict.fromkeys(explanation["artifact_order"]))
    return sorted(ops.values(), key=lambda op: op["depth"]), list(order)


def _reached(target, mode, converted: ConversionResult, golden, policy, budget,
             options) -> tuple[dict[str, float], list[str]]:
    """The worst value of each budget metric over every output, on the target's runtime; and the
    verdict's failing checks, per output ("serving_default/logits: top1_agreement 0.875 < 0.95")."""
    runner = target.open_runner(converted.artifact, converted.metadata, options)
    try:
        outputs = run_parity(target, mode, runner, golden, golden.signatures, policy)
    finally:
        runner.close()
    reached = {name: min((o.metrics[METRICS[name]] for o in outputs if METRICS[name] in o.metrics),
                         default=float("nan")) for name in budget}
    return reached, [f"{o.signature}/{o.output}: {o.summary()}" for o in outputs if o.verdict != PASS]


def _score(trial: Trial, budget: Mapping[str, float]) -> float:
    """How close a trial comes: its worst metric's share of the budget."""
    return min(trial.reached.get(name, 0.0) / value if value else 0.0 for name, value in budget.items())

"""Where a port starts to differ: the first op, in the SavedModel's graph order, whose value in
the artifact leaves the output's tolerance scaled to that tensor.

For each golden sample the SavedModel's frozen signature (tfport.explain.reference) and the
artifact's runner (`Runner.intermediates`) give their intermediate values; an artifact value is
matched to the first of the TF op names the converter kept for it whose tensor has its shape (a
fused op keeps the names of the ops fused into it, the producing op first). Per matched op the
error is accumulated over the samples and the tensors dropped, so no more than one sample's
values are held at a time.

The limit of an intermediate tensor is its signature's first output's tolerance, scaled: the
absolute part by the tensor's RMS over the output's, the relative part as it is; an SNR or
cosine limit applies unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tfport.explain.reference import FrozenSignature, ReferenceOp, op_key
from tfport.golden.golden_set import GoldenSet
from tfport.parity.tolerance import Tolerance
from tfport.plugin import Runner

INPUT_SNR_DB = 200.0  # what an exact value counts as, so that SNR drops stay finite


@dataclass
class OpError:
    """One matched op's error over the golden samples."""

    op: ReferenceOp
    artifact_name: str
    shape: tuple[int, ...]
    tolerance_used: float = 0.0  # the largest |Δ| / (scaled atol + rtol·|ref|) over samples; 0 without atol/rtol
    noise: float = 0.0  # Σ|Δ|² over samples
    signal: float = 0.0  # Σ|ref|²
    cosine_worst: float = 1.0

    @property
    def snr_db(self) -> float:
        if self.noise == 0:
            return float("inf")
        return float(10 * np.log10(max(self.signal, 1e-30) / self.noise))

    def leaves(self, tolerance: Tolerance) -> bool:
        if tolerance.atol is not None or tolerance.rtol is not None:
            if self.tolerance_used > 1:
                return True
        if tolerance.min_snr_db is not None and self.snr_db < tolerance.min_snr_db:
            return True
        return tolerance.min_cosine is not None and self.cosine_worst < tolerance.min_cosine

    def to_json(self, tolerance: Tolerance, added_db: float = 0.0) -> dict[str, Any]:
        return {"op": self.op.key, "type": self.op.type, "depth": self.op.depth, "inputs": list(self.op.inputs),
                "added_db": added_db,
                "artifact_name": self.artifact_name, "shape": list(self.shape),
                "tolerance_used": self.tolerance_used, "snr_db": self.snr_db, "cosine": self.cosine_worst,
                "diverges": self.leaves(tolerance)}


@dataclass
class Explanation:
    signature: str
    tolerance: Tolerance
    ops: list[OpError] = field(default_factory=list)  # matched ops, in graph order
    reference_ops: int = 0
    artifact_values: int = 0
    upstream: dict[str, list[str]] = field(default_factory=dict)  # op -> the nearest matched ops feeding it
    artifact_order: list[str] = field(default_factory=list)  # every value of the artifact, in its execution order

    def added_db(self, op: OpError) -> float:
        """The SNR this op loses against the nearest matched ops feeding it (the inputs, exact, when none)."""
        by_key = {o.op.key: o for o in self.ops}
        feeding = [by_key[key].snr_db for key in self.upstream.get(op.op.key, []) if key in by_key]
        before = min(feeding, default=float("inf"))
        if before == float("inf"):
            before = INPUT_SNR_DB
        return max(0.0, min(before, INPUT_SNR_DB) - min(op.snr_db, INPUT_SNR_DB))

    @property
    def first_divergent(self) -> OpError | None:
        return next((op for op in self.ops if op.leaves(self.tolerance)), None)

    def neighbours(self, op: OpError, around: int = 2) -> list[str]:
        index = self.ops.index(op)
        return [o.op.key for o in self.ops[max(0, index - around):index + around + 1] if o is not op]

    def to_json(self) -> dict[str, Any]:
        first = self.first_divergent
        return {"signature": self.signature, "tolerance": self.tolerance.to_json(),
                "matched": len(self.ops), "reference_ops": self.reference_ops,
                "artifact_values": self.artifact_values, "artifact_order": self.artifact_order,
                "first_divergent": first.to_json(self.tolerance, self.added_db(first)) | {
                    "around": self.neighbours(first)} if first else None,
                "ops": [op.to_json(self.tolerance, self.added_db(op)) for op in self.ops]}


def explain_signature(runner: Runner, reference: FrozenSignature, golden: GoldenSet, signature: str,
                      output_tolerance: Tolerance) -> Explanation:
    """Run every golden sample through both and accumulate each matched op's error."""
    explanation = Explanation(signature, output_tolerance, reference_ops=len(reference.ops))
    output_rms = _output_rms(golden.outputs[signature])
    errors: dict[str, OpError] = {}
    for feed in golden.feeds(signature):
        values = runner.intermediates(signature, feed)
        explanation.artifact_values = max(explanation.artifact_values, len(values))
        matched = _match(values, reference)
        explanation.artifact_order = explanation.artifact_order or [";".join(names) for names, _ in values]
        expected = reference.run(feed, matched)
        for key, (name, value) in matched.items():
            value = _aligned(np.asarray(expected.get(key), np.float64), np.asarray(value, np.float64))
            if value is None:
                continue
            error = errors.setdefault(key, OpError(reference.ops[key], name, tuple(np.shape(value))))
            _accumulate(error, np.asarray(expected[key], np.float64), value, output_tolerance, output_rms)
    explanation.ops = sorted(errors.values(), key=lambda e: e.op.depth)
    explanation.upstream = _nearest_matched(reference.edges, set(errors))
    return explanation


def _nearest_matched(edges: Mapping[str, tuple[str, ...]], matched: set[str]) -> dict[str, list[str]]:
    """For each matched op, the matched ops reached first going up its inputs."""
    nearest = {}
    for key in matched:
        found, seen, frontier = [], set(), list(edges.get(key, ()))
        while frontier:
            name = frontier.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in matched:
                found.append(name)
            else:
                frontier.extend(edges.get(name, ()))
        nearest[key] = found
    return nearest


def _match(values: list[tuple[list[str], np.ndarray]], reference: FrozenSignature) -> dict[str, tuple[str, np.ndarray]]:
    """op_key -> (the artifact's name, its value): the first kept name that is a reference op of that shape."""
    matched = {}
    for names, value in values:
        for name in names:
            key = op_key(name)
            if key in reference.ops and key not in matched and any(map(reference.ops[key].fits, _layouts(value))):
                matched[key] = (";".join(names), value)
                break
    return matched


def _layouts(value: np.ndarray) -> list[tuple[int, ...]]:
    """The shapes `value` may have in TensorFlow's layout: its own, and channels-first moved last."""
    shape = np.shape(value)
    return [shape, (shape[0], *shape[2:], shape[1])] if len(shape) > 2 else [shape]


def _aligned(expected: np.ndarray, value: np.ndarray) -> np.ndarray | None:
    """`value` in the reference's layout: as it is, or channels-first moved last (ONNX computes
    convolutions in NCHW); when both fit (as many channels as rows), the closer. None: no fit."""
    candidates = [v for v in (value, np.moveaxis(value, 1, -1) if value.ndim > 2 else None)
                  if v is not None and v.shape == expected.shape]
    if not candidates:
        return None
    return min(candidates, key=lambda v: float(np.sum((v - expected) ** 2)))


def _output_rms(outputs: Mapping[str, np.ndarray]) -> float:
    floats = [np.asarray(v, np.float64) for v in outputs.values() if np.asarray(v).dtype.kind == "f"]
    if not floats:
        return 1.0
    return float(np.sqrt(np.mean(np.concatenate([f.ravel() for f in floats]) ** 2))) or 1.0


def _accumulate(error: OpError, expected: np.ndarray, actual: np.ndarray, tolerance: Tolerance,
                output_rms: float) -> None:
    delta = actual - expected
    if tolerance.atol is not None or tolerance.rtol is not None:
        rms = float(np.sqrt(np.mean(expected ** 2))) if expected.size else 0.0
        limit = (tolerance.atol or 0.0) * rms / output_rms + (tolerance.rtol or 0.0) * np.abs(expected)
        used = np.abs(delta) / np.maximum(limit, 1e-30)
        error.tolerance_used = max(error.tolerance_used, float(np.max(used)) if used.size else 0.0)
    error.noise += float(np.sum(delta ** 2))
    error.signal += float(np.sum(expected ** 2))
    norms = float(np.linalg.norm(expected) * np.linalg.norm(actual))
    if norms > 0:
        error.cosine_worst = min(error.cosine_worst, float(np.dot(expected.ravel(), actual.ravel()) / norms))


def explain_artifact(runner: Runner, model_dir: Path, tags, golden: GoldenSet,
                     tolerances: Mapping[str, Tolerance]) -> list[Explanation]:
    """One explanation per signature in `tolerances` (each signature's first output's tolerance)."""
    explanations = []
    for signature in tolerances:
        reference = FrozenSignature(model_dir, tags, signature)
        try:
            explanations.append(explain_signature(runner, reference, golden, signature, tolerances[signature]))
        finally:
            reference.close()
    return explanations

"""Compare an artifact's outputs with the reference outputs. Knows arrays, not targets."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tfport.parity.tolerance import Tolerance

PASS, FAIL = "pass", "fail"
SNR_CAP_DB = 300.0  # reported for an exact match, where the true SNR is infinite
RELATIVE_FLOOR = 1e-3  # relative errors divide by at least this fraction of max |reference|
HISTOGRAM_BINS = 24
SCATTER_POINTS = 300


@dataclass(frozen=True)
class Check:
    metric: str
    value: float
    limit: float
    at_most: bool  # True: value <= limit passes; False: value >= limit passes

    @property
    def passed(self) -> bool:
        return self.value <= self.limit if self.at_most else self.value >= self.limit

    @property
    def margin(self) -> float:
        """How close to failing, 1.0 meaning exactly at the limit; > 1 fails."""
        value, limit = self.value, self.limit
        if self.at_most:
            return value / limit if limit else (0.0 if value == 0 else np.inf)
        if limit < 1:  # similarities that approach 1: compare the distances from 1
            return (1 - value) / (1 - limit)
        return limit / value if value > 0 else np.inf

    def describe(self) -> str:
        return f"{self.metric} {_num(self.value)} {'≤' if self.at_most else '≥'} {_num(self.limit)}"

    def to_json(self) -> dict:
        return {"metric": self.metric, "value": self.value, "limit": self.limit,
                "at_most": self.at_most, "passed": self.passed}

    @classmethod
    def from_json(cls, data: dict) -> Check:
        return cls(data["metric"], float(data["value"]), float(data["limit"]), bool(data["at_most"]))


@dataclass
class OutputResult:
    signature: str
    output: str
    verdict: str
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    tolerance: dict[str, float] = field(default_factory=dict)
    plots: dict[str, Any] = field(default_factory=dict)  # small summaries for report.html (plot_data)
    weak_evidence: str = ""  # why the golden set does not exercise this output; the verdict stands
    limits: dict[str, Any] = field(default_factory=dict)  # fixed and noise-floor limit, which applied (noise_floor)

    @property
    def worst_check(self) -> Check | None:
        failed = [c for c in self.checks if not c.passed]
        return max(failed or self.checks, key=lambda c: c.margin, default=None)

    def summary(self) -> str:
        worst = self.worst_check
        return self.message or (worst.describe() if worst else "")

    def to_json(self) -> dict:
        return {
            "signature": self.signature, "output": self.output, "verdict": self.verdict,
            "message": self.message, "metrics": self.metrics,
            "checks": [c.to_json() for c in self.checks], "tolerance": self.tolerance, "plots": self.plots,
            "weak_evidence": self.weak_evidence, "limits": self.limits,
        }

    @classmethod
    def from_json(cls, data: dict) -> OutputResult:
        return cls(data["signature"], data["output"], data["verdict"], data["message"], dict(data["metrics"]),
                   [Check.from_json(c) for c in data["checks"]], dict(data["tolerance"]), dict(data.get("plots", {})),
                   str(data.get("weak_evidence", "")), dict(data.get("limits", {})))


def compare_signature(
    signature: str,
    reference: Mapping[str, np.ndarray],
    actual: Mapping[str, np.ndarray],
    tolerance_for: Callable[[str], Tolerance],
) -> list[OutputResult]:
    results = []
    for name, expected in reference.items():
        if name not in actual:
            found = ", ".join(sorted(actual)) or "none"
            results.append(OutputResult(signature, name, FAIL, f"output missing from the artifact (it has: {found})"))
            continue
        result = compare_output(signature, name, expected, np.asarray(actual[name]), tolerance_for(name))
        result.weak_evidence = weak_evidence(expected, tolerance_for(name))
        results.append(result)
    return results


WEAK_HINT = "the golden set does not exercise this output: give real inputs with --inputs FILE.npz, or fit " \
            "the synthesized ones with --int-range/--float-range NAME=LO,HI"
CONSTANT_SPREAD = 1e-6  # relative to the output's scale: float32 noise, not a signal


def weak_evidence(reference: np.ndarray, tolerance: Tolerance) -> str:
    """Why the reference outputs cannot tell a right port from a wrong one, or "".

    An output that is the same in every sample is proven only for that value; class scores whose
    top-1 lead is smaller than the tolerance lets them move can swap classes and still pass."""
    if len(reference) < 2:
        return ""
    if reference.dtype.kind in "fc":
        values = np.abs(reference.astype(np.complex128 if reference.dtype.kind == "c" else np.float64))
        finite = reference[np.isfinite(values).all(axis=tuple(range(1, reference.ndim)))]
        if len(finite) >= 2:
            scale = float(np.abs(finite).max()) or 1.0
            spread = float(np.abs(finite - finite[0]).max())
            if spread <= CONSTANT_SPREAD * scale:
                return f"it is (nearly) the same in every sample (spread {spread:.2g} of scale {scale:.2g}) — {WEAK_HINT}"
        if reference.dtype.kind == "f" and is_class_scores(reference):
            ordered = np.sort(reference.astype(np.float64), axis=-1)
            margin = float(np.median(ordered[..., -1] - ordered[..., -2]))
            resolution = _resolution(reference.astype(np.float64), tolerance)
            if margin < resolution:
                return (f"its top-1 class leads by a median {margin:.2g}, less than the {resolution:.2g} the "
                        f"tolerance lets a score move — {WEAK_HINT}")
        return ""
    if all(np.array_equal(reference[0], sample) for sample in reference[1:]):
        return f"every sample gives the same value — {WEAK_HINT}"
    return ""


def _resolution(reference: np.ndarray, tolerance: Tolerance) -> float:
    """How far the tolerance lets a typical score move without failing."""
    if tolerance.atol is not None or tolerance.rtol is not None:
        return (tolerance.atol or 0.0) + (tolerance.rtol or 0.0) * float(np.median(np.abs(reference)))
    if tolerance.min_snr_db is not None:
        return float(np.sqrt(np.mean(reference**2))) * 10 ** (-tolerance.min_snr_db / 20)
    return 0.0


def compare_output(signature: str, name: str, expected: np.ndarray, actual: np.ndarray, tolerance: Tolerance) -> OutputResult:
    def fail(message: str, **metrics: float) -> OutputResult:
        return OutputResult(signature, name, FAIL, message, metrics, tolerance=tolerance.to_json())

    if expected.shape != actual.shape:
        return fail(f"shape {actual.shape[1:]} differs from the reference's {expected.shape[1:]}")
    if expected.dtype.kind == "c" and actual.dtype.kind == "c":
        expected, actual = _real_and_imaginary(expected), _real_and_imaginary(actual)
    kind = _kind(expected)
    if kind != _kind(actual):
        return fail(f"dtype {actual.dtype} differs from the reference's {expected.dtype}")
    if kind != "float":
        mismatches = int(np.sum(expected != actual))
        checks = [Check("mismatches", mismatches, 0, at_most=True)]
        metrics = {"mismatches": mismatches, "elements": int(expected.size)}
        return OutputResult(signature, name, PASS if mismatches == 0 else FAIL, "", metrics, checks)

    expected64, actual64 = expected.astype(np.float64), actual.astype(np.float64)
    reference_nan = ~np.isfinite(expected64)
    unexpected = int(np.sum(~np.isfinite(actual64) & ~reference_nan))
    if unexpected:
        return fail(f"{unexpected} NaN/Inf value(s) where the reference has finite values", non_finite=unexpected)
    lost = int(np.sum(reference_nan & (np.isnan(expected64) != np.isnan(actual64))))
    if lost:
        return fail(f"{lost} NaN value(s) in the reference are numbers in the artifact")
    finite = ~reference_nan
    metrics = float_metrics(expected64[finite], actual64[finite], expected64, actual64)
    checks = _float_checks(expected64[finite], actual64[finite], metrics, tolerance)
    verdict = PASS if all(c.passed for c in checks) else FAIL
    return OutputResult(signature, name, verdict, "", metrics, checks, tolerance.to_json(),
                        plot_data(expected64[finite], actual64[finite]))


def _real_and_imaginary(array: np.ndarray) -> np.ndarray:
    """Complex samples as floats: each sample's real parts, then its imaginary parts, on one axis
    (so no axis looks like class scores)."""
    flat = array.reshape(len(array), -1)
    return np.concatenate([flat.real, flat.imag], axis=1)


def plot_data(expected: np.ndarray, actual: np.ndarray) -> dict[str, Any]:
    """What report.html draws, bounded in size: a log-binned histogram of absolute errors (exact
    matches counted apart) and an evenly spaced sample of (reference, converted) pairs."""
    error = np.abs(actual - expected).ravel()
    nonzero = error[error > 0]
    histogram: dict[str, Any] = {"zeros": int(error.size - nonzero.size), "edges": [], "counts": []}
    if nonzero.size:
        low, high = float(nonzero.min()), float(nonzero.max())
        edges = np.geomspace(low, high * (1 + 1e-9), HISTOGRAM_BINS + 1) if high > low else np.array([low, high * 2])
        histogram.update(edges=edges.tolist(), counts=np.histogram(nonzero, edges)[0].tolist())
    picked = np.unique(np.linspace(0, error.size - 1, min(error.size, SCATTER_POINTS)).astype(int)) if error.size else []
    pairs = [[float(r), float(c)] for r, c in zip(expected.ravel()[picked], actual.ravel()[picked])]
    return {"abs_error_histogram": histogram, "scatter": pairs, "elements": int(error.size)}


def float_metrics(expected: np.ndarray, actual: np.ndarray, expected_full: np.ndarray, actual_full: np.ndarray) -> dict[str, float]:
    """Error statistics over all samples of one output (flattened, finite elements only)."""
    error = np.abs(actual - expected)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    floor = max(RELATIVE_FLOOR * scale, np.finfo(np.float32).tiny)
    metrics = {
        "max_abs_error": float(error.max(initial=0.0)),
        "mean_abs_error": float(error.mean()) if error.size else 0.0,
        "max_rel_error": float((error / np.maximum(np.abs(expected), floor)).max(initial=0.0)),
        "cosine": _cosine(expected, actual),
        "snr_db": _snr_db(expected, error),
    }
    if is_class_scores(expected_full):
        agree = np.argmax(expected_full, axis=-1) == np.argmax(actual_full, axis=-1)
        metrics["top1_agreement"] = float(np.mean(agree))
    return metrics


def is_class_scores(array: np.ndarray) -> bool:
    """Stacked samples of shape [samples, ..., classes] with at least two classes."""
    return array.ndim >= 3 and array.shape[-1] >= 2 and np.all(np.isfinite(array))


def _float_checks(expected, actual, metrics, tolerance: Tolerance) -> list[Check]:
    checks = []
    if tolerance.atol is not None or tolerance.rtol is not None:
        atol, rtol = tolerance.atol or 0.0, tolerance.rtol or 0.0
        allowed = atol + rtol * np.abs(expected)
        error = np.abs(actual - expected)
        with np.errstate(divide="ignore", invalid="ignore"):
            used = np.where(error == 0, 0.0, error / allowed)
        checks.append(Check("tolerance_used", float(used.max(initial=0.0)), 1.0, at_most=True))
    if tolerance.min_cosine is not None:
        checks.append(Check("cosine", metrics["cosine"], tolerance.min_cosine, at_most=False))
    if tolerance.min_snr_db is not None:
        checks.append(Check("snr_db", metrics["snr_db"], tolerance.min_snr_db, at_most=False))
    if tolerance.min_top1 is not None and "top1_agreement" in metrics:
        checks.append(Check("top1_agreement", metrics["top1_agreement"], tolerance.min_top1, at_most=False))
    return checks


def _cosine(expected: np.ndarray, actual: np.ndarray) -> float:
    norms = float(np.linalg.norm(expected) * np.linalg.norm(actual))
    if norms == 0.0:
        return 1.0 if np.array_equal(expected, actual) else 0.0
    return float(np.dot(expected.ravel(), actual.ravel()) / norms)


def _snr_db(expected: np.ndarray, error: np.ndarray) -> float:
    noise = float(np.sum(error**2))
    signal = float(np.sum(expected**2))
    if noise == 0.0:
        return SNR_CAP_DB
    if signal == 0.0:
        return -SNR_CAP_DB
    return float(min(10 * np.log10(signal / noise), SNR_CAP_DB))


def _kind(array: np.ndarray) -> str:
    kind = array.dtype.kind
    return {"f": "float", "i": "int", "u": "int", "b": "bool", "S": "string", "U": "string", "O": "string"}.get(kind, kind)


def _num(value: float) -> str:
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"

"""The float32 limit from the golden set's noise floor (tfport.golden.noise_floor): a port may
differ from the SavedModel by K noise floors, in place of one fixed tolerance for every model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from tfport.golden.noise_floor import RELATIVE_STEP, NoiseFloor
from tfport.parity.tolerance import Tolerance

K = 8  # a port may differ by K noise floors (README "Noise floor": correct ports <= 1.07, wrong ones >= 79)
NOISE, GIVEN = "noise floor", "given"  # which limit applied: K noise floors, or the user's tolerance


def judged(tolerance: Tolerance, given: Tolerance, mode: str, floor: NoiseFloor | None) -> tuple[Tolerance, dict]:
    """The tolerance to apply to one output, and the limits behind it for the report.

    float32: every element within K x the noise floor — in place of the fixed atol/rtol, which is
    too loose for a well-conditioned model and too strict for an ill-conditioned one. The floor is
    at least RELATIVE_STEP x the output's scale (what a model that passes its input through shows).
    `given`: what the user's config and flags set; those apply as given."""
    if mode != "float32" or floor is None or (tolerance.atol is None and tolerance.rtol is None):
        return tolerance, {}
    limit = K * max(floor.max_abs, RELATIVE_STEP * floor.scale)
    fixed = (tolerance.atol or 0.0) + (tolerance.rtol or 0.0) * floor.scale
    basis = {"noise_floor": floor.max_abs, "k": K, "metric": "max_abs_error", "fixed_limit": fixed,
             "noise_limit": limit}
    if given.atol is not None or given.rtol is not None:
        return tolerance, basis | {"applied": GIVEN}
    return replace(tolerance, atol=limit, rtol=0.0), basis | {"applied": NOISE}


def describe(basis: Mapping) -> str:
    """The limits behind a verdict, for people: the one that applied, then the other."""
    if not basis:
        return ""
    fixed = f"{'given' if basis['applied'] == GIVEN else 'fixed'} ≤ {basis['fixed_limit']:.3g}"
    noise = f"{basis['k']:g} × noise floor {basis['noise_floor']:.2g}: ≤ {basis['noise_limit']:.3g}"
    applied, other = (noise, fixed) if basis["applied"] == NOISE else (fixed, noise)
    return f"{basis['metric']} limit {applied} (applied); {other}"

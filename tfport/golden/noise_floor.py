"""The SavedModel's own float32 noise floor: how far each output moves when the float inputs move
by a few ulp. A float32 port computes the same math in another order, so its error is rounding
amplified by the model's conditioning — the noise floor measures that amplification on the golden
samples themselves, and the float32 limit follows it instead of one fixed tolerance for every model.

It is measured with the golden set and stored in its manifest; tfport.parity.noise_limit turns
it into the float32 limit. Reading needs only numpy; measuring takes any callable that runs the
SavedModel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

RELATIVE_STEP = 2.0**-20  # 8 float32 ulp (eps = 2^-23) of each input element
SEED = 20  # the perturbation's signs are the same for every recording
METHOD = ("float32/float64 inputs multiplied element-wise by 1 ± 2^-20 (8 ulp; random signs, seeded), both "
          "directions on every sample; per output the largest |change| of the SavedModel's own outputs")


Feed = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class NoiseFloor:
    """One output's noise floor, as the golden manifest stores it (plain JSON)."""

    max_abs: float  # largest |output change| over samples, elements and both directions
    scale: float  # largest |reference output|: where float32 rounding alone sits

    def to_json(self) -> dict[str, float]:
        return {"max_abs": self.max_abs, "scale": self.scale}

    @classmethod
    def from_json(cls, data: Mapping[str, float]) -> NoiseFloor:
        return cls(float(data["max_abs"]), float(data["scale"]))


def perturbable(feed: Feed) -> list[str]:
    """Inputs a float32-level step can move: float32 and float64 (float16 has no such step; integer,
    bool and string inputs have none)."""
    return [name for name, array in feed.items() if array.dtype.kind == "f" and array.dtype.itemsize >= 4]


def measure(
    run: Callable[[Feed], Mapping[str, np.ndarray]], feeds: Sequence[Feed], reference: Mapping[str, np.ndarray],
) -> dict[str, NoiseFloor]:
    """Noise floor of each float output over `feeds` (reference: their recorded outputs, samples
    stacked): two extra runs per sample. Empty when no input can be perturbed."""
    if not feeds or not perturbable(feeds[0]):
        return {}
    rng = np.random.default_rng(SEED)
    moved = {name: 0.0 for name, array in reference.items() if array.dtype.kind == "f"}
    for index, feed in enumerate(feeds):
        signs = {name: rng.choice([-1.0, 1.0], size=np.shape(feed[name])) for name in perturbable(feed)}
        for direction in (1.0, -1.0):
            nudged = {name: (value * (1 + direction * RELATIVE_STEP * signs[name])).astype(value.dtype)
                      if name in signs else value for name, value in feed.items()}
            outputs = run(nudged)
            for name in list(moved):
                change = _change(reference[name][index], np.asarray(outputs[name]))
                if change is None:
                    del moved[name]  # its shape follows the values: no element-wise floor
                else:
                    moved[name] = max(moved[name], change)
    floors = {}
    for name, change in moved.items():
        finite = reference[name][np.isfinite(reference[name])]
        floors[name] = NoiseFloor(change, float(np.abs(finite).max(initial=0.0)))
    return floors


def _change(expected: np.ndarray, actual: np.ndarray) -> float | None:
    if expected.shape != actual.shape:
        return None
    both = np.isfinite(expected) & np.isfinite(actual)
    return float(np.abs(actual[both].astype(np.float64) - expected[both]).max(initial=0.0))

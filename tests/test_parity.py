"""The parity engine on plain arrays: metrics, verdicts, and the messages users read."""

import numpy as np
import pytest

from tfport.parity.metrics import FAIL, PASS, compare_output, compare_signature
from tfport.parity.tolerance import Tolerance

FLOAT32 = Tolerance(atol=1e-4, rtol=1e-3)


def test_identical_float_outputs_pass_with_perfect_metrics():
    reference = np.linspace(-1, 1, 40, dtype=np.float32).reshape(4, 1, 10)
    result = compare_output("serving_default", "logits", reference, reference.copy(), FLOAT32)
    assert result.verdict == PASS
    assert result.metrics["max_abs_error"] == 0
    assert result.metrics["cosine"] == pytest.approx(1.0)
    assert result.metrics["top1_agreement"] == 1.0


def test_error_beyond_atol_fails_and_names_the_metric():
    reference = np.ones((3, 5), np.float32)
    result = compare_output("sig", "y", reference, reference + 1e-2, FLOAT32)
    assert result.verdict == FAIL
    assert result.worst_check.metric == "tolerance_used"
    assert "tolerance_used" in result.summary()


def test_relative_tolerance_scales_with_reference_magnitude():
    reference = np.full((2, 3), 1000.0, np.float32)
    result = compare_output("sig", "y", reference, reference * (1 + 5e-4), FLOAT32)
    assert result.verdict == PASS


def test_quantization_metrics_cosine_snr_top1():
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(50, 1, 10)).astype(np.float32)
    noisy = reference + rng.normal(scale=0.05, size=reference.shape).astype(np.float32)
    tolerance = Tolerance(min_cosine=0.99, min_snr_db=15, min_top1=0.9)
    result = compare_output("sig", "scores", reference, noisy, tolerance)
    assert result.verdict == PASS
    assert 20 < result.metrics["snr_db"] < 30
    assert result.metrics["top1_agreement"] >= 0.9
    scaled = compare_output("sig", "scores", reference, reference * 2, tolerance)
    assert scaled.metrics["cosine"] == pytest.approx(1.0)
    assert scaled.verdict == FAIL, "cosine ignores scale; SNR must catch a doubled output"


def test_integer_and_string_outputs_compare_exactly():
    ids = np.array([[1, 2, 3]])
    assert compare_output("s", "ids", ids, ids.copy(), FLOAT32).verdict == PASS
    wrong = compare_output("s", "ids", ids, np.array([[1, 2, 4]]), FLOAT32)
    assert wrong.verdict == FAIL and wrong.metrics["mismatches"] == 1
    words = np.array([[b"a", b"b"]])
    assert compare_output("s", "w", words, np.array([[b"a", b"b"]], dtype=object), FLOAT32).verdict == PASS


def test_complex_outputs_compare_their_real_and_imaginary_parts_as_floats():
    rng = np.random.default_rng(1)
    spectrum = (rng.normal(size=(4, 1, 5)) + 1j * rng.normal(size=(4, 1, 5))).astype(np.complex64)
    close = compare_output("s", "spectrum", spectrum, spectrum + np.complex64(1e-6), FLOAT32)
    assert close.verdict == PASS and "top1_agreement" not in close.metrics
    conjugated = compare_output("s", "spectrum", spectrum, np.conj(spectrum), FLOAT32)
    assert conjugated.verdict == FAIL and conjugated.metrics["max_abs_error"] > 0.1


def test_shape_dtype_nan_and_missing_outputs_fail_with_a_named_reason():
    reference = np.zeros((2, 3), np.float32)
    shape = compare_output("sig", "y", reference, np.zeros((2, 4), np.float32), FLOAT32)
    assert shape.verdict == FAIL and "shape" in shape.message
    dtype = compare_output("sig", "y", reference, np.zeros((2, 3), np.int32), FLOAT32)
    assert dtype.verdict == FAIL and "dtype" in dtype.message
    nan = reference.copy()
    nan[0, 0] = np.nan
    assert "NaN" in compare_output("sig", "y", reference, nan, FLOAT32).message
    missing = compare_signature("sig", {"y": reference}, {"z": reference}, lambda _: FLOAT32)
    assert missing[0].verdict == FAIL and "missing" in missing[0].message and missing[0].output == "y"


def test_nan_in_reference_must_stay_nan():
    reference = np.array([[np.nan, 1.0]], np.float32)
    assert compare_output("s", "y", reference, reference.copy(), FLOAT32).verdict == PASS
    assert compare_output("s", "y", reference, np.array([[0.0, 1.0]], np.float32), FLOAT32).verdict == FAIL


def test_weak_evidence_is_flagged_and_the_verdict_stands():
    from tfport.parity.metrics import weak_evidence

    rng = np.random.default_rng(2)
    varying = rng.normal(size=(8, 1, 4)).astype(np.float32)
    assert weak_evidence(varying, FLOAT32) == ""
    constant = np.tile(varying[:1], (8, 1, 1)) + np.float32(1e-9)
    assert "same in every sample" in weak_evidence(constant, FLOAT32)
    assert "same value" in weak_evidence(np.array([[3, 1]] * 8), FLOAT32)
    assert weak_evidence(np.array([[3], [1]] * 4), FLOAT32) == ""
    close_scores = np.stack([np.full((1, 3), 0.3) + [[0.0, 1e-6, 2e-6]] for _ in range(8)]) + \
        rng.normal(scale=1e-3, size=(8, 1, 1))
    assert "top-1 class leads by a median" in weak_evidence(close_scores, FLOAT32)
    assert weak_evidence(close_scores, Tolerance(min_snr_db=300)) == ""
    results = compare_signature("s", {"y": constant}, {"y": constant.copy()}, lambda _: FLOAT32)
    assert results[0].verdict == PASS and "same in every sample" in results[0].weak_evidence
    from tfport.parity.metrics import OutputResult

    assert OutputResult.from_json(results[0].to_json()).weak_evidence == results[0].weak_evidence

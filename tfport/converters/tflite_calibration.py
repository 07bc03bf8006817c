"""What TFLite calibrates on: the modes that run the model on calibration samples while
converting, those samples as TFLiteConverter's representative dataset, and the calibrated model
kept for conversions that differ only in the ops left in float. Apart from the converter so that
the target's record (tfport.targets.tflite) reads CALIBRATED without importing it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import numpy as np

from tfport.plugin import ConversionRequest

CALIBRATED = ("int8", "int16x8")


def representative_dataset(request: ConversionRequest):
    """Calibration samples by converted signature; an alias's samples calibrate the one it aliases."""
    model = request.saved_model
    single = len(model.distinct_signatures) == 1

    def samples() -> Iterator:
        for signature, feed in request.calibration():
            kept = model.aliases.get(signature, signature)
            yield feed if single else (kept, feed)

    return samples


_last_calibrated: tuple[str, bytes] | None = None  # (key, flatbuffer): the latest calibrated model only


def calibrated_once(request: ConversionRequest, variant: object, calibrate: Callable[[], bytes]) -> bytes:
    """The calibrated model that int8 with ops kept in float is quantized from (it does not depend
    on which ops stay float), computed once for a row of such conversions — `--budget` converts one
    mix after another, and calibrating was 95 % of each (5.5 of 5.8 s on MobileNetV2 96). Keyed by
    the SavedModel's fingerprint, the options but keep_float, `variant` (how the converter was set
    up) and the calibration samples' bytes."""
    global _last_calibrated
    digest = hashlib.sha256(repr((request.saved_model.fingerprint, request.quantization, variant, sorted(
        (name, repr(value)) for name, value in request.options.items() if name != "keep_float"))).encode())
    for signature, feed in request.calibration():
        digest.update(signature.encode())
        for name in sorted(feed):
            value = np.ascontiguousarray(feed[name])
            digest.update(f"{name}{value.dtype}{value.shape}".encode())
            digest.update(value.tobytes() if value.dtype.kind != "O" else repr(value.tolist()).encode())
    key = digest.hexdigest()
    if _last_calibrated is None or _last_calibrated[0] != key:
        _last_calibrated = (key, calibrate())
    return _last_calibrated[1]

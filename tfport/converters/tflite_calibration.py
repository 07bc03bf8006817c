"""What TFLite calibrates on: the modes that run the model on calibration samples while
converting, and those samples as TFLiteConverter's representative dataset. Apart from the
converter so that the target's record (tfport.targets.tflite) reads CALIBRATED without importing it."""

from __future__ import annotations

from collections.abc import Iterator

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

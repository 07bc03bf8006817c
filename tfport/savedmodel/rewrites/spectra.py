"""|RFFT(x)| as a real DFT: two MatMuls with cosine and sine tables, for tf2onnx.

ONNX has no complex tensors; tf2onnx converts an RFFT only when ComplexAbs reads it, and then
needs static dims: an STFT front end (`tf.abs(tf.signal.stft(...))`, frames of unknown count)
fails with "ComplexAbs expected the first dimension to be 2 but shape is [-1, -1, -1, -1]". The
magnitude of a real DFT, sqrt((x·C)² + (x·S)²) with C[n, k] = cos(2πnk/N), S[n, k] = sin(2πnk/N),
is the same spectrum in MatMul, Square, Add and Sqrt, which every ONNX runtime has. It costs
N·(N/2+1) multiplies per frame instead of an FFT's N·log N (a 512-point frame: 131k), and agrees
with the FFT to float32 rounding.
"""

from __future__ import annotations

import numpy as np

from tfport.savedmodel.rewrites.builtin_forms import Form, Scope, rewrite_builtin_forms
from tfport.savedmodel.tensorflow import tensorflow


def rewrite_spectrum_magnitudes(saved_model) -> int:
    """Rewrite every ComplexAbs of an RFFT (fft_length a constant); return the count."""
    return rewrite_builtin_forms(saved_model, {"ComplexAbs": _magnitude_form})["ComplexAbs"]


def _magnitude_form(node, scope: Scope) -> Form | None:
    spectrum = scope.producer(node.input[0])
    if spectrum is None or spectrum.op != "RFFT":
        return None
    length = scope.constant(spectrum.input[1])
    if length is None:
        return None
    length = int(np.ravel(length)[0])
    angles = 2 * np.pi * np.outer(np.arange(length), np.arange(length // 2 + 1)) / length
    cosines, sines = np.cos(angles), np.sin(angles)
    real_type = spectrum.attr["Treal"].type if "Treal" in spectrum.attr else 1  # float32

    def form(x):
        tf = tensorflow()
        x = x[..., :length]  # fft_length crops the signal, or pads it with zeros
        missing = tf.maximum(length - tf.shape(x)[-1], 0)
        x = tf.concat([x, tf.zeros(tf.concat([tf.shape(x)[:-1], tf.expand_dims(missing, 0)], 0), x.dtype)], -1)
        real = tf.matmul(x, tf.constant(cosines, x.dtype))
        imaginary = tf.matmul(x, tf.constant(sines, x.dtype))
        return tf.sqrt(tf.square(real) + tf.square(imaginary))

    return Form(form, [spectrum.input[0]], [real_type])

"""Load TensorFlow only when a command needs it, with its log spam sent to tfport's log file."""

from __future__ import annotations

import logging
import os
import warnings
from functools import cache
from types import ModuleType

from tfport.logfile import file_logger, native_stderr_to_log


def set_environment() -> None:
    """What TensorFlow reads once, when it is first imported — by tensorflow() below, or by a
    `from tensorflow.core… import` in a rewrite: C++ errors only (from 2.20 on, level 3 drops those
    too, among them grappler's reasons that tfport quotes), and no oneDNN. oneDNN keeps float32
    results from being reproducible, and runs a conv on an input shorter than its kernel where
    Eigen returns an empty tensor (a 16-sample waveform into a wav2vec2 encoder gives [1, 1, 32]
    of values). Called when tfport is imported; a value the user set stays."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


@cache
def tensorflow() -> ModuleType:
    """Import TensorFlow once, quietly, into the log file like Python's logs and warnings."""
    set_environment()
    warnings.filterwarnings("ignore", module="tensorflow")
    warnings.filterwarnings("ignore", module="keras")
    with native_stderr_to_log():  # the import's own C++ errors (CUDA factories, cuInit) are noise
        import tensorflow as tf

    for name in ("tensorflow", "absl", "h5py", "keras"):
        file_logger(name).setLevel(logging.INFO)
    from tfport.savedmodel import shared_load

    shared_load.install()
    return tf

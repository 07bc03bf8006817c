"""Load TensorFlow only when a command needs it, with its log spam sent to tfport's log file."""

from __future__ import annotations

import logging
import os
import warnings
from functools import cache
from types import ModuleType

from tfport.logfile import file_logger


@cache
def tensorflow() -> ModuleType:
    """Import TensorFlow once, quietly: C++ logs off, Python logs and warnings to the log file."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # keeps float32 results reproducible
    warnings.filterwarnings("ignore", module="tensorflow")
    warnings.filterwarnings("ignore", module="keras")
    import tensorflow as tf

    for name in ("tensorflow", "absl", "h5py", "keras"):
        file_logger(name).setLevel(logging.INFO)
    from tfport.savedmodel import shared_load

    shared_load.install()
    return tf

"""Load TensorFlow only when a command needs it, with its log spam sent to tfport's log file."""

from __future__ import annotations

import logging
import os
import warnings
from functools import cache
from types import ModuleType

from tfport.logfile import file_logger, native_stderr_to_log


@cache
def tensorflow() -> ModuleType:
    """Import TensorFlow once, quietly: C++ errors only (from 2.20 on, level 3 drops those too,
    among them grappler's reasons that tfport quotes), into the log file like Python's logs and
    warnings."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # keeps float32 results reproducible
    warnings.filterwarnings("ignore", module="tensorflow")
    warnings.filterwarnings("ignore", module="keras")
    with native_stderr_to_log():  # the import's own C++ errors (CUDA factories, cuInit) are noise
        import tensorflow as tf

    for name in ("tensorflow", "absl", "h5py", "keras"):
        file_logger(name).setLevel(logging.INFO)
    from tfport.savedmodel import shared_load

    shared_load.install()
    return tf

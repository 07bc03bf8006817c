"""A .tflite with Select TF ops, run by TensorFlow 2.19's interpreter in tfport's own environment.

Neither LiteRT's pip package nor TensorFlow ≥ 2.20 links the Flex delegate (LiteRT issue 6458);
TensorFlow 2.19's `tf.lite.Interpreter` does. tfport already keeps a TensorFlow 2.19 environment
for tensorflowjs (tfport.converters.tfjs_env), so a Flex artifact runs there, in one subprocess
per artifact (tflite_flex_worker.py), and gets a real verdict whatever TensorFlow the user has.

`FlexInterpreter` answers the part of `tf.lite.Interpreter` that the TFLite runner uses —
`get_signature_runner(key)`, whose runner has `get_input_details()`, `get_output_details()` and
is called with the inputs — so quantization, batch-1 files and Flex refusals are handled by the
runner's own code, as for an in-process interpreter.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from tfport.converters import tfjs_env
from tfport.errors import BadInputError, CannotCheckHere, RuntimeMissingError
from tfport.logfile import log_path
from tfport.processes import stop

WORKER = Path(__file__).with_name("tflite_flex_worker.py")
SETUP_COMMAND = "tfport setup tflite"


class FlexInterpreter:
    """The worker process for one artifact."""

    def __init__(self, artifact: Path, threads: int | None):
        try:
            tfjs_env.setup()
        except RuntimeMissingError as exc:
            raise CannotCheckHere(f"tfport's TensorFlow 2.19 environment, whose interpreter links the Flex delegate, "
                                  f"could not be made ({exc}) — `{SETUP_COMMAND}` makes it (once, ~2.9 GB from PyPI); "
                                  "then run tfport parity ARTIFACT --golden DIR") from None
        self._log = open(log_path(), "ab")
        self._process = subprocess.Popen([str(tfjs_env.environment_python()), str(WORKER), str(artifact),
                                          str(threads or 0)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self._log, env=tfjs_env.worker_environment())
        header, _ = self._receive()
        if "error" in header:
            self.close()
            raise BadInputError(f"TensorFlow 2.19's interpreter cannot load {artifact}: {header['error']}")
        self.version = header["tensorflow"]
        self._signatures: dict[str, dict] = header["signatures"]

    def get_signature_list(self) -> dict[str, Any]:
        return dict(self._signatures)

    def get_signature_runner(self, key: str) -> _SignatureRunner:
        if key not in self._signatures:
            raise ValueError(f"no signature {key!r} in the artifact (it has {', '.join(self._signatures)})")
        return _SignatureRunner(self, key)

    def call(self, request: dict, arrays: dict[str, np.ndarray]) -> tuple[dict, dict[str, np.ndarray]]:
        """One request and its reply; the interpreter's own failure raises RuntimeError, as in process."""
        buffer = io.BytesIO()
        np.savez(buffer, **{name: _storable(np.asarray(value)) for name, value in arrays.items()})
        payload = buffer.getvalue()
        try:
            self._process.stdin.write(json.dumps({**request, "bytes": len(payload)}).encode() + b"\n" + payload)
            self._process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the reply (none) says the process stopped
        header, values = self._receive()
        if "error" in header:
            raise RuntimeError(f"TensorFlow {self.version}'s interpreter (Flex delegate): {header['error']}")
        return header, values

    def _receive(self) -> tuple[dict, dict[str, np.ndarray]]:
        line = self._process.stdout.readline()
        if not line:
            code = self._process.wait()
            raise RuntimeError(f"TensorFlow 2.19's interpreter process stopped (exit code {code}; its messages are "
                               f"in {log_path()})")
        header = json.loads(line)
        payload = self._process.stdout.read(header["bytes"])
        if not payload:
            return header, {}
        with np.load(io.BytesIO(payload)) as stored:
            return header, {name: stored[name] for name in stored.files}

    def close(self) -> None:
        stop(self._process, timeout=30)
        self._log.close()


class _SignatureRunner:
    def __init__(self, interpreter: FlexInterpreter, key: str):
        self._interpreter, self._key = interpreter, key
        described = interpreter._signatures[key]
        self._details = {side: {name: {"dtype": np.dtype(d["dtype"]), "quantization": tuple(d["quantization"])}
                                for name, d in described[side].items()} for side in ("inputs", "outputs")}

    def get_input_details(self) -> dict[str, dict]:
        return self._details["inputs"]

    def get_output_details(self) -> dict[str, dict]:
        return self._details["outputs"]

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        return self._interpreter.call({"op": "run", "signature": self._key}, inputs)[1]

    def timed(self, inputs: dict[str, np.ndarray], warmup: int, runs: int) -> list[float]:
        """Seconds per run, timed inside the worker (bench should not count the trip)."""
        header, _ = self._interpreter.call({"op": "time", "signature": self._key, "warmup": warmup, "runs": runs},
                                           inputs)
        return header["seconds"]


def _storable(value: np.ndarray) -> np.ndarray:
    """String tensors as fixed-width bytes: .npz keeps object arrays only by pickling."""
    return value.astype(bytes) if value.dtype.kind == "O" else value


def environment_note(version: str) -> str:
    return (f"ran with the Flex delegate of TensorFlow {version}'s interpreter, in tfport's TensorFlow 2.19 "
            f"environment ({tfjs_env.environment_dir()}; LiteRT's pip package and TensorFlow ≥ 2.20 link none)")


"""Runs a .tflite with Select TF ops in tfport's TensorFlow 2.19 environment; not imported by tfport.

TensorFlow 2.19's `tf.lite.Interpreter` links the Flex delegate, which no pip package of
TensorFlow or LiteRT ≥ 2.20 has (tfport/targets/tflite_flex.py says why this process exists).
Usage: `python tflite_flex_worker.py ARTIFACT THREADS` (THREADS 0: the interpreter's default).

Messages both ways are a JSON line followed by `bytes` bytes of an .npz (arrays by tensor name).
The first reply gives the versions and each signature's tensors; then each request — `run`, or
`time` with warmup and runs — gets one reply, `error` set where the interpreter raised.
Imports only the standard library, numpy and TensorFlow.
"""

import io
import json
import sys
import time


def main() -> None:
    channel, sys.stdout = sys.stdout.buffer, sys.stderr  # nothing but replies on the channel
    import numpy as np
    import tensorflow as tf

    artifact, threads = sys.argv[1], int(sys.argv[2]) or None

    def send(header: dict, arrays: dict | None = None) -> None:
        payload = b""
        if arrays is not None:
            buffer = io.BytesIO()
            np.savez(buffer, **arrays)
            payload = buffer.getvalue()
        channel.write(json.dumps({**header, "bytes": len(payload)}).encode() + b"\n" + payload)
        channel.flush()

    try:
        interpreter = tf.lite.Interpreter(model_path=artifact, num_threads=threads)
        interpreter.allocate_tensors()
        signatures = {key: _tensors(interpreter.get_signature_runner(key))
                      for key in interpreter.get_signature_list()}
    except Exception as exc:  # the parent words it: a file it cannot load, or Flex not linked after all
        send({"error": f"{type(exc).__name__}: {exc}"})
        return
    send({"tensorflow": tf.__version__, "signatures": signatures})
    for line in sys.stdin.buffer:
        request = json.loads(line)
        with np.load(io.BytesIO(sys.stdin.buffer.read(request["bytes"]))) as stored:
            # Fixed-width bytes reach Flex string kernels padded with NULs ("dog\0\0…"): pass each string as is.
            feed = {name: stored[name].astype(object) if stored[name].dtype.kind == "S" else stored[name]
                    for name in stored.files}
        try:
            runner = interpreter.get_signature_runner(request["signature"])
            if request["op"] == "time":
                for _ in range(request["warmup"]):
                    runner(**feed)
                seconds = []
                for _ in range(request["runs"]):
                    started = time.perf_counter()
                    runner(**feed)
                    seconds.append(time.perf_counter() - started)
                send({"seconds": seconds})
            else:
                send({}, {name: _storable(np.asarray(value)) for name, value in runner(**feed).items()})
        except Exception as exc:  # one failing call fails that call only
            send({"error": str(exc) or type(exc).__name__})


def _storable(value):
    """String tensors come back as object arrays of bytes, which .npz keeps only by pickling."""
    return value.astype(bytes) if value.dtype.kind == "O" else value


def _tensors(runner) -> dict:
    """dtype and (scale, zero point) of every input and output, as the parent's runner reads them."""
    import numpy as np

    def described(details: dict) -> dict:
        return {name: {"dtype": np.dtype(d["dtype"]).str, "quantization": list(d["quantization"])}
                for name, d in details.items()}

    return {"inputs": described(runner.get_input_details()), "outputs": described(runner.get_output_details())}


if __name__ == "__main__":
    main()

"""Runs tensorflowjs inside its own environment (tfport/converters/tfjs_env.py); not imported by tfport.

Imports TensorFlow and tensorflowjs first (5 s), before it reads anything, so that tfport can
start it early and record the golden set meanwhile. Then, for each line on stdin — a JSON
request: the SavedModel, its tags and, per signature, the output directory and options — it
converts each signature in order and writes one JSON line to stdout: the versions used, and on
the first failure the signature, the error and the ops tensorflowjs knows (for the parent's
reason). It ends when stdin closes. Imports only the standard library and what the environment holds.
"""

import contextlib
import json
import os
import sys
import traceback


def main() -> None:
    replies = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):  # tensorflowjs prints banners and progress
        os.environ.setdefault("TFDF_DISABLE_WELCOME_MESSAGE", "1")  # TF-DF's banner imports IPython
        from importlib.metadata import version

        import tensorflow as tf
        from tensorflowjs.converters.tf_saved_model_conversion_v2 import convert_tf_saved_model

        versions = {"tensorflowjs": version("tensorflowjs"), "tensorflow": tf.__version__}
        for line in sys.stdin:
            reply = {"versions": versions}
            reply.update(_convert(json.loads(line), convert_tf_saved_model))
            print(json.dumps(reply), file=replies, flush=True)


def _convert(request: dict, convert_tf_saved_model) -> dict:
    """{} when every signature converted, else the failure."""
    for job in request["signatures"]:
        try:
            convert_tf_saved_model(
                request["saved_model"], job["out"], signature_def=job["key"],
                saved_model_tags=request["tags"],
                quantization_dtype_map={job["weight_dtype"]: True} if job["weight_dtype"] else None,
                weight_shard_size_bytes=job["shard"],
                control_flow_v2=True,  # see tfport/converters/tfjs.py: LSTM/GRU loops run only this way
                strip_debug_ops=True,  # as tensorflowjs_converter does by default; TF.js has no Assert kernel
            )
        except Exception as exc:  # tensorflowjs raises ValueError, but also others from TensorFlow
            traceback.print_exc()
            return {"failed": job["key"], "error": str(exc) or type(exc).__name__, "known_ops": _known_ops()}
    return {}


def _known_ops() -> list[str]:
    """Every op in tensorflowjs's op lists: what TF.js can run."""
    from importlib.resources import files

    op_lists = files("tensorflowjs") / "op_list"
    return sorted({op["tfOpName"] for entry in op_lists.iterdir() if entry.name.endswith(".json")
                   for op in json.loads(entry.read_text())})


if __name__ == "__main__":
    main()

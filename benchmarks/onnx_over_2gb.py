"""ONNX conversion of a SavedModel above protobuf's 2 GB limit: external data, end to end.

    python benchmarks/onnx_over_2gb.py [--out DIR]

Builds a model with ~2.4 GB of float32 weights (three 8192 x 24576 matrices: tf2onnx holds each
weight in one protobuf message, so no single tensor may reach 2 GB), converts it with
`tfport convert --to onnx` (weights go to `<signature>.onnx.data`), runs parity on onnxruntime,
and prints a table: sizes, times and the worst error. Needs ~10 GB of free disk; measured here,
tf2onnx's large-model path needed more than the 24 GiB of memory this machine has.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path


def build(path: Path) -> None:
    from tfport.savedmodel.tensorflow import tensorflow

    tf = tensorflow()

    class Wide(tf.Module):
        def __init__(self):
            self.kernels = [tf.Variable(tf.random.stateless_normal([8192, 24576], seed=[1, i], stddev=0.01))
                            for i in range(3)]

        @tf.function(input_signature=[tf.TensorSpec([None, 8192], tf.float32, name="x")])
        def serve(self, x):
            return {"y": tf.add_n([tf.reduce_sum(tf.matmul(x, k), axis=1, keepdims=True) for k in self.kernels])}

    module = Wide()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from tfport.golden.synthesis import SynthesisOptions
    from tfport.parity.tolerance import load_policy
    from tfport.pipeline.convert import ConvertJob, convert

    with tempfile.TemporaryDirectory(dir=args.out) as scratch:
        model = Path(scratch) / "wide"
        started = time.perf_counter()
        build(model)
        built = time.perf_counter() - started
        report, out = convert(ConvertJob(
            model_path=model, targets=[("onnx", "float32")], policy=load_policy(search_dir=Path(scratch)),
            out_dir=Path(scratch) / "dist", synthesis=SynthesisOptions(samples=4), force=True,
        ))
        result = report.results[0]
        files = sorted((out / result.artifact).iterdir()) if result.artifact else []
        rows = [
            ("SavedModel variables", f"{sum(f.stat().st_size for f in (model / 'variables').iterdir()) / 1e9:.2f} GB"),
            ("build time", f"{built:.0f} s"),
            ("verdict", result.verdict + (f" ({result.error})" if result.error else "")),
            ("convert time", f"{result.seconds.get('convert', 0):.0f} s"),
            ("parity time (4 samples)", f"{result.seconds.get('parity', 0):.0f} s"),
            *((f"  {f.name}", f"{f.stat().st_size / 1e9:.3f} GB") for f in files),
            ("worst max abs error", f"{max((o.metrics.get('max_abs_error', 0) for o in result.outputs), default=0):.3g}"),
            ("peak memory (RSS)", f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.1f} GB"),
        ]
        width = max(len(name) for name, _ in rows)
        for name, value in rows:
            print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()

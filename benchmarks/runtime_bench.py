"""`tfport bench` on a model built here: what each target costs at run time, beside the SavedModel.

    python benchmarks/runtime_bench.py [--model mobilenetv2] [--runs 50] [--warmup 5] [--batch 8] [--threads 1]

Converts the model (bench_models.py, random weights) to TFLite, ONNX and TF.js in float32 and
int8, proves each port, then measures load time, latency p50/p95, throughput and peak memory of
every artifact on its runtime, each in a fresh process, and prints tfport's table.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_models import MODELS, build_apart

BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mobilenetv2", choices=MODELS)
    for option, default in (("runs", 50), ("warmup", 5), ("batch", 8), ("threads", 1)):
        parser.add_argument(f"--{option}", type=int, default=default)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tfport-runtime-bench-") as scratch:
        model = build_apart(args.model, Path(scratch) / args.model)
        command = [str(BIN / "tfport"), "bench", str(model), "--to", "tflite,onnx,tfjs", "--quantize", "float32,int8",
                   "--out", str(Path(scratch) / "out"), "--runs", str(args.runs), "--warmup", str(args.warmup),
                   "--batch", str(args.batch), "--threads", str(args.threads)]
        raise SystemExit(subprocess.run(command).returncode)


if __name__ == "__main__":
    main()

"""`tfport convert --to all` (parity included) against the three official converters in a row.

    python benchmarks/convert_all.py [--models mlp,mobilenetv2,transformer] [--jobs 1,2]

For each model it times, as separate processes on the same SavedModel: `tflite_convert`,
`python -m tf2onnx.convert` and `tensorflowjs_converter` one after another (no parity), then
`tfport convert --to all` with an empty cache for each --jobs value, then tfport again with the
cache warm. It prints wall time, peak memory (largest RSS of one process) and artifact sizes,
and the ratios the project aims for: tfport ≤ 0.6x the official tools' time, the cached rerun
≤ 0.1x, tfport's peak memory ≤ 1.3x the largest official tool's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def build(name: str, path: Path) -> None:
    """Small models made here, with random weights: nothing is downloaded."""
    from tfport.heavy import tensorflow

    tensorflow()
    import keras

    keras.utils.set_random_seed(0)
    if name == "mlp":
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(256, activation="relu"),
                                  keras.layers.Dense(256, activation="relu"), keras.layers.Dense(10)])
    elif name == "mobilenetv2":
        # Logits, not softmax: with random weights a softmax is flat (0.001 everywhere) and any port "passes".
        model = keras.applications.MobileNetV2(input_shape=(224, 224, 3), weights=None, classifier_activation=None)
    elif name == "transformer":
        tokens = keras.Input((32, 64))
        attended = keras.layers.MultiHeadAttention(num_heads=4, key_dim=16)(tokens, tokens)
        hidden = keras.layers.LayerNormalization()(tokens + attended)
        feed = keras.layers.Dense(64)(keras.layers.Dense(256, activation="relu")(hidden))
        model = keras.Model(tokens, keras.layers.LayerNormalization()(hidden + feed))
    else:
        raise SystemExit(f"unknown model {name!r}")
    model.export(str(path), verbose=False)


def measure(command: list[str], env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one process; stops the benchmark if it fails."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in ok:
        raise SystemExit(f"{' '.join(command)} failed:\n{process.stderr.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size


def official(model: Path, out: Path) -> list[tuple[str, float, float, int]]:
    out.mkdir()
    tools = [
        ("tflite_convert", [str(BIN / "tflite_convert"), f"--saved_model_dir={model}",
                            f"--output_file={out / 'model.tflite'}"], out / "model.tflite"),
        ("tf2onnx", [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(model),
                     "--output", str(out / "model.onnx")], out / "model.onnx"),
        ("tensorflowjs_converter", [str(BIN / "tensorflowjs_converter"), "--input_format=tf_saved_model",
                                    str(model), str(out / "tfjs")], out / "tfjs"),
    ]
    return [(name, *measure(command), size(artifact)) for name, command, artifact in tools]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mlp,mobilenetv2,transformer")
    parser.add_argument("--jobs", default="1,2")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="tfport-bench-") as scratch:
        for name in args.models.split(","):
            model = Path(scratch) / name
            build(name, model)
            tools = official(model, Path(scratch) / f"{name}-official")
            tools_time = sum(t for _, t, _, _ in tools)
            tools_peak = max(m for _, _, m, _ in tools)
            rows += [(name, tool, t, m, s, "") for tool, t, m, s in tools]
            rows.append((name, "official, one after another", tools_time, tools_peak,
                         sum(s for *_, s in tools), ""))
            for jobs in map(int, args.jobs.split(",")):
                cache = Path(scratch) / f"cache-{name}-{jobs}"
                env = {**os.environ, "TFPORT_CACHE": str(cache)}
                out = Path(scratch) / f"{name}-tfport-{jobs}"
                command = [str(BIN / "tfport"), "convert", str(model), "--to", "all", "--out", str(out),
                           "--samples", "8", "--jobs", str(jobs)]
                wall, peak = measure(command, env, ok=(0, 1))  # 1: a parity failure still counts
                artifacts = sum(size(p) for p in out.iterdir() if p.is_dir() and p.name != "golden")
                rows.append((name, f"tfport --to all --jobs {jobs} (with parity)", wall, peak, artifacts,
                             f"time {wall / tools_time:.2f}x, memory {peak / tools_peak:.2f}x"))
                if jobs == int(args.jobs.split(",")[-1]):
                    cached, cached_peak = measure(command, env, ok=(0, 1))
                    rows.append((name, "tfport again, cache warm", cached, cached_peak, artifacts,
                                 f"time {cached / tools_time:.2f}x"))
                shutil.rmtree(cache, ignore_errors=True)
    header = ("model", "run", "wall s", "peak MB", "artifacts KB", "vs official")
    table = [header] + [(m, r, f"{t:.1f}", f"{p:.0f}", f"{s / 1024:.0f}", v) for m, r, t, p, s, v in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)))


if __name__ == "__main__":
    main()

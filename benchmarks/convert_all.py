"""`tfport convert --to all` (parity included) against the three official converters in a row.

    python benchmarks/convert_all.py [--models mlp,mobilenetv2,transformer] [--jobs 1,2] [--samples N] [--repeat 3]

For each model (built apart, see bench_models.py) it times, as separate processes on the same
SavedModel: `tflite_convert`, `python -m tf2onnx.convert` and `tensorflowjs_converter` (in tfport's
tensorflowjs environment, where it runs for tfport too) one after
another (no parity), then `tfport convert --to all` with an empty artifact cache for each --jobs
value (the TF.js npm runtime installed beforehand, as the official tools are), then tfport again
with the cache warm; each command --repeat times, in fresh directories. It prints the median
wall time, the largest peak memory and artifact sizes, and the ratios the
project aims for: tfport ≤ 0.6x the official tools' time, the cached rerun ≤ 0.1x, tfport's peak
memory ≤ 1.3x the largest peak of the three official tools.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_models import MODELS, build_apart

from tfport.bench.proc_memory import descendants, peak_mb
from tfport.converters import tfjs_env  # tensorflowjs lives in its own environment (tfport setup tfjs)

BIN = Path(sys.executable).parent


def measure(command: list[str], env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """(wall seconds, peak MB) of one command; stops the benchmark if it fails.

    Peak memory: every 50 ms, the peak resident memory (VmHWM) of each live process of the
    command (tfport starts Node.js for TF.js parity) is summed; the largest sum is reported — an
    upper bound of what was resident at once, where one process's peak alone would miss Node.js.
    """
    peak = 0.0
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, env=env)
        while True:
            peak = max(peak, sum(peak_mb(pid) for pid in [process.pid, *descendants(process.pid)]))
            try:
                process.wait(timeout=0.05)
                break
            except subprocess.TimeoutExpired:
                continue
        elapsed = time.perf_counter() - started
        if process.returncode not in ok:
            errors.seek(0)
            raise SystemExit(f"{' '.join(command)} failed:\n{errors.read().decode()[-2000:]}")
    return elapsed, peak


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size


def median_of(repeat: int, run: Callable[[int], tuple[float, float]]) -> tuple[float, float]:
    """Median wall time and largest peak memory of `repeat` runs (run(i) for each i): timings on a
    shared 2-core machine vary by 10-20 % from run to run."""
    results = [run(i) for i in range(repeat)]
    return statistics.median(t for t, _ in results), max(m for _, m in results)


def official(model: Path, out: Path, repeat: int) -> list[tuple[str, float, float, int]]:
    out.mkdir()
    tools = [
        ("tflite_convert", [str(BIN / "tflite_convert"), f"--saved_model_dir={model}",
                            f"--output_file={out / 'model.tflite'}"], out / "model.tflite"),
        ("tf2onnx", [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(model),
                     "--output", str(out / "model.onnx")], out / "model.onnx"),
        ("tensorflowjs_converter", [str(tfjs_env.environment_dir() / "bin" / "python"), "-m",
                                    "tensorflowjs.converters.converter", "--input_format=tf_saved_model",
                                    str(model), str(out / "tfjs")], out / "tfjs"),
    ]
    return [(name, *median_of(repeat, lambda _: measure(command)), size(artifact)) for name, command, artifact in tools]


def tfport(model: Path, out: Path, jobs: int, samples: int | None) -> list[str]:
    return [str(BIN / "tfport"), "convert", str(model), "--to", "all", "--out", str(out), "--jobs", str(jobs),
            *(["--samples", str(samples)] if samples else [])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--jobs", default="1,2")
    parser.add_argument("--samples", type=int, help="golden samples per signature (default: tfport's, 32)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command; the median time is shown")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="tfport-bench-") as scratch:
        for name in args.models.split(","):
            model = build_apart(name, Path(scratch) / name)
            tools = official(model, Path(scratch) / f"{name}-official", args.repeat)
            tools_time = sum(t for _, t, _, _ in tools)
            tools_peak = max(m for _, _, m, _ in tools)
            rows += [(name, tool, t, m, s, "") for tool, t, m, s in tools]
            rows.append((name, "official, one after another", tools_time, tools_peak,
                         sum(s for *_, s in tools), ""))
            for jobs in map(int, args.jobs.split(",")):
                def first_run(i: int) -> tuple[float, float]:
                    env = {**os.environ, "TFPORT_CACHE": str(Path(scratch) / f"cache-{name}-{jobs}-{i}")}
                    # The npm runtime is installed once per machine, like the official tools: not timed.
                    subprocess.run([str(BIN / "tfport"), "setup", "tfjs"], env=env, check=True,
                                   stdout=subprocess.DEVNULL)
                    return measure(tfport(model, Path(scratch) / f"{name}-tfport-{jobs}-{i}", jobs, args.samples),
                                   env, ok=(0, 1))  # 1: a parity failure still counts
                wall, peak = median_of(args.repeat, first_run)
                out = Path(scratch) / f"{name}-tfport-{jobs}-0"
                artifacts = sum(size(p) for p in out.iterdir() if p.is_dir() and p.name != "golden")
                rows.append((name, f"tfport --to all --jobs {jobs} (with parity)", wall, peak, artifacts,
                             f"time {wall / tools_time:.2f}x, memory {peak / tools_peak:.2f}x"))
                if jobs == int(args.jobs.split(",")[-1]):
                    env = {**os.environ, "TFPORT_CACHE": str(Path(scratch) / f"cache-{name}-{jobs}-0")}
                    cached, cached_peak = median_of(
                        args.repeat, lambda _: measure(tfport(model, out, jobs, args.samples), env, ok=(0, 1)))
                    rows.append((name, "tfport again, cache warm", cached, cached_peak, artifacts,
                                 f"time {cached / tools_time:.2f}x"))
                for cache in Path(scratch).glob("cache-*"):
                    shutil.rmtree(cache, ignore_errors=True)
    header = ("model", "run", "wall s", "peak MB", "artifacts KB", "vs official")
    table = [header] + [(m, r, f"{t:.1f}", f"{p:.0f}", f"{s / 1024:.0f}", v) for m, r, t, p, s, v in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)))


if __name__ == "__main__":
    main()

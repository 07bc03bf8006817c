"""`tfport convert --to all` (parity included) against the four official converters in a row.

    python benchmarks/convert_all.py [--models mobilenetv2,transformer] [--jobs 1] [--samples N] [--pairs 3]

For each model (built apart, see bench_models.py) it runs, pair by pair, the official tools one
after another on the same SavedModel — `tflite_convert`, `python -m tf2onnx.convert`,
`tensorflowjs_converter` (in tfport's TensorFlow 2.19 environment, where it runs for tfport too)
and OpenVINO's `ovc`, no parity — then `tfport convert --to all` (the same four targets, parity
included) with an empty artifact cache, each in fresh directories; and once more tfport with the
cache warm. Alternating the two sides pair by pair keeps a noisy machine's drift out of the ratio.

It prints, per model: each tool's median wall and CPU time (user + system, of the process and every
process it started), the largest peak memory; tfport's the same with the ratios per pair (median,
min–max); and where tfport's time goes, from its report.json (golden recording, and each
target's conversion and parity). The aims: ≤ 0.5x the official tools' wall time, ≤ 1x their CPU
time, the cached rerun ≤ 0.1x, peak memory ≤ 1.3x the largest official tool's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_models import MODELS, build_apart

from tfport.bench.proc_memory import descendants, peak_mb
from tfport.converters import tfjs_env  # tensorflowjs lives in its own environment (tfport setup tfjs)

BIN = Path(sys.executable).parent


class Run:
    """One command's wall seconds, CPU seconds and peak MB."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)):
        """Peak memory: every 50 ms, the peak resident memory (VmHWM) of each live process of the
        command (tfport starts Node.js and a converter process) is summed; the largest sum is kept —
        an upper bound of what was resident at once, where one process's peak alone would miss the
        others. CPU: os.wait4's usage, which counts every descendant the command waited for."""
        self.peak = 0.0
        with tempfile.TemporaryFile() as errors:
            started = time.perf_counter()
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, env=env)
            while True:
                self.peak = max(self.peak, sum(peak_mb(pid) for pid in [process.pid, *descendants(process.pid)]))
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    break
                time.sleep(0.05)
            self.wall = time.perf_counter() - started
            self.cpu = usage.ru_utime + usage.ru_stime
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode not in ok:
                errors.seek(0)
                raise SystemExit(f"{' '.join(command)} failed:\n{errors.read().decode()[-2000:]}")


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size


def official_tools(model: Path, out: Path) -> list[tuple[str, list[str], Path]]:
    return [
        ("tflite_convert", [str(BIN / "tflite_convert"), f"--saved_model_dir={model}",
                            f"--output_file={out / 'model.tflite'}"], out / "model.tflite"),
        ("tf2onnx", [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(model),
                     "--output", str(out / "model.onnx")], out / "model.onnx"),
        ("tensorflowjs_converter", [str(tfjs_env.environment_dir() / "bin" / "python"), "-m",
                                    "tensorflowjs.converters.converter", "--input_format=tf_saved_model",
                                    str(model), str(out / "tfjs")], out / "tfjs"),
        ("ovc", [str(BIN / "ovc"), str(model), "--output_model", str(out / "openvino" / "model.xml")],
         out / "openvino"),
    ]


def tfport(model: Path, out: Path, jobs: int, samples: int | None) -> list[str]:
    return [str(BIN / "tfport"), "convert", str(model), "--to", "all", "--out", str(out), "--jobs", str(jobs),
            *(["--samples", str(samples)] if samples else [])]


def stages(report: Path) -> dict[str, float]:
    """Seconds per stage, from tfport's report.json: golden recording, then convert and parity per target."""
    data = json.loads(report.read_text())
    found = {"golden (with TensorFlow's import)": data["golden"].get("seconds", 0.0)}
    for result in data["results"]:
        for stage, seconds in result.get("seconds", {}).items():
            found[f"{result['target']} {stage}"] = found.get(f"{result['target']} {stage}", 0.0) + seconds
    return found


def spread(values: list[float], unit: str = "x") -> str:
    return f"{statistics.median(values):.2f}{unit} ({min(values):.2f}-{max(values):.2f})"


def bench_model(name: str, scratch: Path, jobs: int, samples: int | None, pairs: int) -> list[tuple]:
    model = build_apart(name, scratch / name)
    env = {**os.environ, "TFPORT_CACHE": str(scratch / f"cache-{name}"),  # the converter environment is shared:
           "TFPORT_TFJS_ENV": str(tfjs_env.environment_dir().parent)}
    # Installed once per machine, like the official tools: not timed.
    subprocess.run([str(BIN / "tfport"), "setup", "tfjs"], env=env, check=True, stdout=subprocess.DEVNULL)
    tools: dict[str, list[Run]] = {}
    sizes: dict[str, int] = {}
    ours: list[Run] = []
    per_stage: list[dict[str, float]] = []
    for pair in range(pairs):
        out = scratch / f"{name}-official-{pair}"
        out.mkdir()
        for tool, command, artifact in official_tools(model, out):
            tools.setdefault(tool, []).append(Run(command))
            sizes[tool] = size(artifact)
        shutil.rmtree(scratch / f"cache-{name}" / "artifacts", ignore_errors=True)
        shutil.rmtree(scratch / f"cache-{name}" / "parity", ignore_errors=True)
        out = scratch / f"{name}-tfport-{pair}"
        ours.append(Run(tfport(model, out, jobs, samples), env, ok=(0, 1)))  # 1: a parity failure still counts
        per_stage.append(stages(out / "report.json"))
    warm = Run(tfport(model, scratch / f"{name}-tfport-0", jobs, samples), env, ok=(0, 1))
    official_wall = [sum(runs[i].wall for runs in tools.values()) for i in range(pairs)]
    official_cpu = [sum(runs[i].cpu for runs in tools.values()) for i in range(pairs)]
    official_peak = max(run.peak for runs in tools.values() for run in runs)
    rows = [(name, tool, statistics.median(r.wall for r in runs), statistics.median(r.cpu for r in runs),
             max(r.peak for r in runs), sizes[tool], "") for tool, runs in tools.items()]
    rows.append((name, "official, one after another", statistics.median(official_wall),
                 statistics.median(official_cpu), official_peak, sum(sizes.values()), ""))
    artifacts = sum(size(p) for p in (scratch / f"{name}-tfport-0").iterdir() if p.is_dir() and p.name != "golden")
    rows.append((name, f"tfport --to all --jobs {jobs} (with parity)", statistics.median(r.wall for r in ours),
                 statistics.median(r.cpu for r in ours), max(r.peak for r in ours), artifacts,
                 f"wall {spread([r.wall / o for r, o in zip(ours, official_wall)])}, "
                 f"CPU {spread([r.cpu / o for r, o in zip(ours, official_cpu)])}, "
                 f"memory {max(r.peak for r in ours) / official_peak:.2f}x"))
    rows.append((name, "tfport again, cache warm", warm.wall, warm.cpu, warm.peak, artifacts,
                 f"wall {warm.wall / statistics.median(official_wall):.2f}x"))
    rows += [(name, f"  tfport stage: {stage}", statistics.median(s.get(stage, 0.0) for s in per_stage), None, None,
              None, "") for stage in per_stage[0]]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="mobilenetv2,transformer", help=f"from {', '.join(MODELS)}")
    parser.add_argument("--jobs", type=int, default=1, help="tfport's --jobs")
    parser.add_argument("--samples", type=int, help="golden samples per signature (default: tfport's)")
    parser.add_argument("--pairs", type=int, default=3, help="official-then-tfport pairs; medians are shown")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="tfport-bench-") as scratch:
        for name in args.models.split(","):
            rows += bench_model(name, Path(scratch), args.jobs, args.samples, args.pairs)
    header = ("model", "run", "wall s", "CPU s", "peak MB", "artifacts KB", "tfport / official (median, min-max)")
    table = [header] + [(m, r, f"{t:.1f}", "" if c is None else f"{c:.1f}", "" if p is None else f"{p:.0f}",
                         "" if s is None else f"{s / 1024:.0f}", v) for m, r, t, c, p, s, v in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


if __name__ == "__main__":
    main()

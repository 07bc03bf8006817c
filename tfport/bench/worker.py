"""One runtime measured in a process of its own (`python -m tfport.bench.worker`, spec on stdin,
JSON on stdout), so its peak memory is its own and no other runtime warmed its caches."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from tfport.bench.machine import pin
from tfport.bench.proc_memory import descendants, peak_mb, rss_mb
from tfport.golden.golden_set import read_golden, sample_count


def _open_runner(spec: dict[str, Any]):
    if spec["target"] is None:  # the SavedModel itself
        from tfport.savedmodel.tensorflow import tensorflow

        tf = tensorflow()
        tf.config.threading.set_intra_op_parallelism_threads(spec["threads"])
        tf.config.threading.set_inter_op_parallelism_threads(1)
        from tfport.golden.reference import SavedModelRunner
        from tfport.savedmodel.reader import inspect_saved_model

        return SavedModelRunner(inspect_saved_model(Path(spec["artifact"])))
    from tfport.plugin import RUNTIME_THREADS, ArtifactMetadata
    from tfport.registry import get_target

    target = get_target(spec["target"])
    options = {**spec["options"], RUNTIME_THREADS: spec["threads"]}
    metadata = ArtifactMetadata.from_json(spec["metadata"]) if spec["metadata"] else None
    return target.open_runner(Path(spec["artifact"]), metadata, options)


def _batch(samples: dict[str, np.ndarray], size: int, batchable: bool) -> dict[str, np.ndarray] | str:
    """The first `size` samples (cycled) stacked on the batch axis, or why that is not possible."""
    if not batchable:
        return "the signature has a fixed batch dimension"
    count = sample_count(samples)
    picked = [i % count for i in range(size)]
    if any(array.ndim < 2 or array.shape[1] != 1 for array in samples.values()):
        return "golden samples do not carry a batch axis of 1"
    return {name: np.concatenate(array[picked], axis=0) for name, array in samples.items()}


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    golden = read_golden(spec["golden"])
    baseline = rss_mb()
    started = time.perf_counter()
    runner = _open_runner(spec)
    rows = []
    try:
        for signature in spec["signatures"]:
            samples = golden.inputs[signature]
            first = next(golden.feeds(signature))
            runner.run(signature, first)  # lazy runtimes load here: part of the cold start
            load = time.perf_counter() - started
            latencies = runner.timed_runs(signature, first, spec["warmup"], spec["runs"])
            row = {"signature": signature, "load_s": load, "latencies_s": latencies, "throughput_per_s": None}
            batch = _batch(samples, spec["batch"], spec["batchable"][signature])
            if isinstance(batch, str):
                row["throughput_note"] = batch
            else:
                try:
                    batch_runs = max(3, spec["runs"] // 5)
                    per_batch = runner.timed_runs(signature, batch, min(spec["warmup"], 2), batch_runs)
                    row["throughput_per_s"] = spec["batch"] / float(np.median(per_batch))
                except Exception as exc:  # a runtime that cannot resize says so in its own words
                    row["throughput_note"] = f"batch {spec['batch']} failed: {str(exc).splitlines()[0][:160]}"
            rows.append(row)
            started = time.perf_counter()  # the next signature's first run is its own cold start
        children = sum(peak_mb(child) for child in descendants())  # e.g. Node.js for TF.js, read while it lives
    finally:
        runner.close()
    return {"rows": rows, "baseline_rss_mb": baseline, "peak_rss_mb": peak_mb(), "child_peak_rss_mb": children,
            "notes": list(runner.notes)}


def main() -> None:
    from tfport.logfile import native_stderr_to_log

    spec = json.loads(sys.stdin.read())
    pin(spec.get("cores", []))
    try:
        with native_stderr_to_log():
            answer = measure(spec)
    except Exception as exc:  # reported as this runtime's row, not as a crash of the whole bench
        answer = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
    print(json.dumps(answer))


if __name__ == "__main__":
    main()

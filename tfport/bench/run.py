"""`tfport bench`: how fast and how heavy each artifact is on its runtime, beside the SavedModel.

It exists to choose a target, so the numbers must be comparable:
- every runtime (the SavedModel, each artifact) runs in a fresh process of its own
  (tfport.bench.worker): its peak memory is its own, and no runtime warms another's caches;
- all get the same inputs (the golden set's first sample; a batch is its first B samples) and the
  same intra-op thread count (TensorFlow, LiteRT, onnxruntime; TF.js runs on one thread in Node.js);
- "load" is the cold start in a fresh process: importing the runtime, opening the artifact and
  its first run (lazy runtimes load there);
- latency is measured over `runs` runs after `warmup` untimed ones, each run timed alone, inside
  the runtime's own process when it has one (TF.js on Node.js), so pipes are not counted; shown
  as min / median / max, because one slow run says nothing and a spread says a lot;
- every worker is pinned to the same `threads` cores (tfport.bench.machine), and the CPU time
  other processes took meanwhile is measured: above 10 % the result says the machine was noisy;
- throughput is batch size / median batch time; an artifact that cannot take the batch says why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tfport.bench.machine import OtherLoad, cores_for
from tfport.errors import BadInputError
from tfport.golden.golden_set import read_golden
from tfport.pipeline.progress import Stage, no_stage
from tfport.pipeline.record import RECORD, ArtifactRecord, artifact_dirs, resolve_artifact
from tfport.registry import get_target, require_runtime, target_options_for
from tfport.reports.report import Report

SAVED_MODEL = "savedmodel"


@dataclass
class BenchOptions:
    runs: int = 50
    warmup: int = 5
    batch: int = 8
    threads: int = 1
    target_options: dict[str, Any] | None = None  # runtime options, e.g. tfjs_backend


def artifacts_in(directory: Path) -> list[dict[str, Any]]:
    """The artifacts `tfport convert` or `tfport release` wrote into `directory`, from their records."""
    return [_item(ArtifactRecord.read(artifact_dir)) for artifact_dir in artifact_dirs(directory)]


def _item(record: ArtifactRecord) -> dict[str, Any]:
    """What the bench worker needs to know of one artifact."""
    return {"label": record.directory.name, "target": record.target, "quantization": record.quantization,
            "artifact": str(record.directory / record.artifact), "metadata": record.metadata.to_json(),
            "runtime": record.metadata.runtime.name}


def read_report(directory: Path) -> Report | None:
    """The report of the run that made the artifacts, or None (a directory assembled by hand)."""
    try:
        return Report.from_json((Path(directory) / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def model_of(report: Report | None, given: Path | None) -> Path | None:
    """The SavedModel to bench beside the artifacts: --model, else the one the report names, if it is still there."""
    from tfport.savedmodel.reader import inspect_saved_model

    if given is not None:
        return Path(given)
    try:
        model = report.model
        if inspect_saved_model(Path(model["path"])).fingerprint == model["fingerprint"]:
            return Path(model["path"])
    except (AttributeError, KeyError, TypeError, BadInputError):
        pass
    return None


def _proofs(report: Report | None) -> dict[str, dict[str, Any]]:
    """Per artifact label, its parity verdict and size from the report, shown beside its speed."""
    results = report.results if report else []
    return {result.name: {"parity": result.verdict, "size_bytes": result.size_bytes} for result in results}


def _per_run(items: list[dict[str, Any]], options: BenchOptions) -> list[dict[str, Any]]:
    """One item per artifact and parity run (Target.parity_runs: `--tfjs-backend wasm,cpu` benches
    both), each with its runner options."""
    expanded = []
    for item in items:
        target = get_target(item["target"])
        runs = target.parity_runs(target_options_for(target, options.target_options or {}))
        expanded += [{**item, "label": f"{item['label']} ({name})" if name else item["label"], "options": run}
                     for name, run in runs]
    return expanded


def bench_directory(path: Path, model: Path | None, options: BenchOptions, stage: Stage = no_stage) -> dict:
    """`path`: an out directory `convert` or `release` wrote (every artifact in it), or one artifact
    of it — its directory, the artifact, or a file inside it."""
    directory = Path(path)
    if not directory.exists():
        raise BadInputError(f"no such directory: {directory}")
    items = artifacts_in(directory) if directory.is_dir() else []
    if not items:
        _, record = resolve_artifact(directory)
        if record is None:
            raise BadInputError(f"{directory} holds no artifacts (no */{RECORD}) — pass a SavedModel, a directory "
                                "`tfport convert` or `tfport release` wrote, or one artifact in it")
        directory, items = record.directory.parent, [_item(record)]
    items = _per_run(items, options)
    golden = read_golden(directory / "golden")
    report = read_report(directory)
    model = model_of(report, model)
    proofs = _proofs(report)
    for item in items:
        item.update(proofs.get(item["label"], {"parity": None, "size_bytes": None}))
    if model is not None:
        items.insert(0, {"label": SAVED_MODEL, "target": None, "quantization": "float32", "artifact": str(model),
                         "metadata": None, "runtime": "TensorFlow (SavedModel)", "parity": "reference",
                         "size_bytes": None})
    signatures = [key for key in golden.inputs if key not in golden.aliases]
    batchable = {key: bool(spec.inputs) and all(s.shape and s.shape[0] is None for s in spec.inputs.values())
                 for key, spec in golden.signatures.items()}
    results = []
    cores = cores_for(options.threads)
    others = OtherLoad()
    for item in items:
        stage(item["label"], f"{options.warmup} warm-up + {options.runs} timed runs")
        results.append(_measure(item, directory / "golden", signatures, batchable, options, cores))
    machine = others.summary()
    return {"schema": "tfport-bench", "schema_version": 1, "directory": str(directory),
            "model": str(model) if model else None, "settings": {**_settings(options), "pinned_cores": cores},
            "machine": machine,
            "rows": _rows(results)}


def _measure(item, golden_dir: Path, signatures, batchable, options: BenchOptions, cores: list[int]
             ) -> dict[str, Any]:
    if item["target"] is not None:
        require_runtime(get_target(item["target"]))
    spec = {**item, "options": item.get("options", {}), "golden": str(golden_dir), "signatures": signatures,
            "batchable": batchable, "runs": options.runs, "warmup": options.warmup, "batch": options.batch,
            "threads": options.threads, "cores": cores}
    worker = subprocess.run([sys.executable, "-m", "tfport.bench.worker"], input=json.dumps(spec, default=str),
                            capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    try:
        answer = json.loads(worker.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        answer = {"error": f"the bench worker stopped (exit code {worker.returncode}): {worker.stderr[-300:]}"}
    return {**item, **answer}


def _settings(options: BenchOptions) -> dict[str, Any]:
    return {"runs": options.runs, "warmup": options.warmup, "batch": options.batch, "threads": options.threads,
            "target_options": options.target_options or {}}


def _rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for result in results:
        base = {"artifact": result["label"], "target": result["target"] or SAVED_MODEL,
                "quantization": result["quantization"], "runtime": result["runtime"],
                "parity": result["parity"], "size_bytes": result["size_bytes"], "runtime_notes": result.get("notes", [])}
        if "error" in result:
            rows.append({**base, "error": result["error"]})
            continue
        for row in result["rows"]:
            latencies = np.array(row["latencies_s"]) * 1000
            rows.append({
                **base, "signature": row["signature"], "load_s": round(row["load_s"], 4),
                "runs": len(latencies), "latency_ms": {
                    "min": float(latencies.min()), "p50": float(np.percentile(latencies, 50)),
                    "p95": float(np.percentile(latencies, 95)), "max": float(latencies.max()),
                    "mean": float(latencies.mean())},
                "throughput_per_s": row["throughput_per_s"], "throughput_note": row.get("throughput_note", ""),
                "baseline_rss_mb": round(result["baseline_rss_mb"], 1),
                "peak_rss_mb": round(result["peak_rss_mb"] + result["child_peak_rss_mb"], 1),
            })
    return rows


def bench_table(bench: dict):
    from rich.table import Table

    settings = bench["settings"]
    notes = sorted({f"{row['artifact']}: {note}" for row in bench["rows"] for note in row.get("runtime_notes", [])})
    notes.insert(0, machine_note(bench))
    cores = ",".join(map(str, settings.get("pinned_cores", []))) or "not pinned"
    table = Table(title=f"tfport bench — {settings['runs']} runs after {settings['warmup']} warm-up, "
                        f"{settings['threads']} thread(s) on core(s) {cores}, batch {settings['batch']}",
                  title_justify="left", caption="\n".join(notes), caption_justify="left")
    for column in ("artifact", "signature", "parity", "size MB", "load + 1st run s", "ms min", "median", "max",
                   f"samples/s @{settings['batch']}", "peak MB"):
        table.add_column(column, justify="left" if column in ("artifact", "signature", "parity") else "right")
    for row in bench["rows"]:
        proof = [row["parity"] or "", f"{row['size_bytes'] / 1e6:.1f}" if row["size_bytes"] else ""]
        if "error" in row:
            table.add_row(row["artifact"], "", *proof, f"[red]{row['error']}[/]", "", "", "", "", "")
            continue
        throughput = (f"{row['throughput_per_s']:.1f}" if row["throughput_per_s"] is not None
                      else f"n/a: {row['throughput_note']}")
        latency = row["latency_ms"]
        table.add_row(row["artifact"], row["signature"], *proof, f"{row['load_s']:.3f}", f"{latency['min']:.2f}",
                      f"{latency['p50']:.2f}", f"{latency['max']:.2f}", throughput, f"{row['peak_rss_mb']:.0f}")
    return table


def machine_note(bench: dict) -> str:
    """Whether other processes took CPU time while the bench ran, in a line under the table."""
    share = bench.get("machine", {}).get("other_processes_cpu_share")
    if share is None:
        return "other processes' CPU use during the bench: unknown here (no /proc/stat)"
    if bench["machine"]["noisy"]:
        return (f"[bold yellow]noisy machine[/]: other processes took {share:.0%} of the CPU time while this ran — "
                "latencies are not comparable with a quiet run; run again when the machine is idle")
    return f"quiet machine: other processes took {share:.0%} of the CPU time while this ran"


"""Which test models get a TFLite file with Select TF ops (Flex), and whether each file passes parity.

    python benchmarks/tflite_flex_survey.py [--models lstm,gru] [--mode float32]

Builds every model of tests/models.py (or the ones named), converts each to TFLite with tfport's
defaults and prints one row per model — verdict, Flex or builtin-only, the Flex ops, the inputs
given a batch of 1 — then the counts. A file with Flex is one most devices cannot run.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "examples")]

import models  # noqa: E402  (tests/models.py)

from tfport.golden.synthesis import SynthesisOptions  # noqa: E402
from tfport.parity.tolerance import load_policy  # noqa: E402
from tfport.pipeline.convert import ConvertJob, convert  # noqa: E402


def builders() -> dict:
    return {name: f for name, f in vars(models).items()
            if inspect.isfunction(f) and not name.startswith("_") and f.__module__ == "models"
            and list(inspect.signature(f).parameters) == ["path"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="")
    parser.add_argument("--mode", default="float32")
    args = parser.parse_args()
    chosen = builders()
    if args.models:
        chosen = {name: chosen[name] for name in args.models.split(",")}
    counts = {"builtin-only": 0, "Flex": 0, "no artifact": 0}
    print(f"{'model':24} {'verdict':10} {'ops':13} detail")
    with tempfile.TemporaryDirectory() as scratch:
        for name, build in chosen.items():
            try:
                path = build(Path(scratch) / name)
                report, _ = convert(ConvertJob(model_path=path, targets=[("tflite", args.mode)],
                                               policy=load_policy(search_dir=Path(scratch)),
                                               out_dir=Path(scratch) / "out" / name,
                                               synthesis=SynthesisOptions(samples=4)))
                result = report.results[0]
            except Exception as exc:  # refused before conversion (no signature, file-touching ops)
                print(f"{name:24} {'refused':10} {'-':13} {str(exc).splitlines()[0][:90]}")
                counts["no artifact"] += 1
                continue
            data = result.metadata.target_data if result.metadata else None
            if data is None:
                kind, detail = "no artifact", result.error.splitlines()[0][:90]
            elif data["select_tf_ops"]:
                kind, detail = "Flex", ", ".join(data["flex_ops"])
            else:
                kind = "builtin-only"
                detail = "batch 1: " + ", ".join(sum(data.get("fixed_batch", {}).values(), [])) \
                    if data.get("fixed_batch") else ""
            counts[kind] += 1
            print(f"{name:24} {result.verdict:10} {kind:13} {detail}")
    print(", ".join(f"{kind}: {count}" for kind, count in counts.items()), f"(of {len(chosen)} models)")


if __name__ == "__main__":
    main()

"""Every test model through `tfport convert`: the verdict on each target, and which TFLite files need Flex.

    python benchmarks/survey.py [--to tflite|all|tflite,onnx] [--mode float32] [--models lstm,gru]

Builds the models of tests/models.py (or the ones named) and converts each with tfport's defaults
(4 golden samples). It prints one row per model — the verdict on each target; for TFLite whether
the file is builtin-only or needs Select TF ops (Flex, which most devices cannot run), with the
Flex ops or the inputs given a batch of 1 — and then the counts per target.
"""

from __future__ import annotations

import argparse
import collections
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
from tfport.registry import targets  # noqa: E402


def builders() -> dict:
    return {name: f for name, f in vars(models).items()
            if inspect.isfunction(f) and not name.startswith("_") and f.__module__ == "models"
            and list(inspect.signature(f).parameters) == ["path"]}


def tflite_ops(result) -> str:
    data = result.metadata.target_data if result.metadata else None
    if data is None:
        return "no artifact"
    if data["select_tf_ops"]:
        return "Flex: " + ", ".join(data["flex_ops"])
    fixed = sum(data.get("fixed_batch", {}).values(), [])
    return "builtin-only" + (f" (batch 1: {', '.join(fixed)})" if fixed else "")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--to", default="tflite")
    parser.add_argument("--mode", default="float32")
    parser.add_argument("--models", default="")
    args = parser.parse_args()
    names = list(targets()) if args.to == "all" else args.to.split(",")
    chosen = builders()
    if args.models:
        chosen = {name: chosen[name] for name in args.models.split(",")}
    verdicts: dict[str, collections.Counter] = {name: collections.Counter() for name in names}
    flex = collections.Counter()
    print(f"{'model':26} " + " ".join(f"{n:10}" for n in names) + (" tflite ops" if "tflite" in names else ""))
    with tempfile.TemporaryDirectory() as scratch:
        for model, build in chosen.items():
            try:
                report, _ = convert(ConvertJob(
                    model_path=build(Path(scratch) / model), targets=[(n, args.mode) for n in names],
                    policy=load_policy(search_dir=Path(scratch)), out_dir=Path(scratch) / "out" / model,
                    synthesis=SynthesisOptions(samples=4)))
            except Exception as exc:  # refused before conversion (no signature, ops reaching outside it)
                print(f"{model:26} refused: {str(exc).splitlines()[0][:100]}")
                for name in names:
                    verdicts[name]["refused"] += 1
                continue
            results = {r.target: r for r in report.results}
            for name in names:
                verdicts[name][results[name].verdict] += 1
            ops = tflite_ops(results["tflite"]) if "tflite" in names else ""
            if ops:
                flex[ops.split(":")[0].split(" (")[0]] += 1
            print(f"{model:26} " + " ".join(f"{results[n].verdict:10}" for n in names) + f" {ops}")
            for name in names:
                if results[name].error:
                    print(f"{'':26} {name}: {results[name].error.splitlines()[0][:110]}")
    print(f"\n{len(chosen)} models")
    for name in names:
        print(f"{name:10} " + ", ".join(f"{verdict}: {count}" for verdict, count in sorted(verdicts[name].items())))
    if "tflite" in names:
        print("tflite ops: " + ", ".join(f"{kind}: {count}" for kind, count in sorted(flex.items())))


if __name__ == "__main__":
    main()

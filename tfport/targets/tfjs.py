"""The TF.js target: tensorflowjs graph models run on @tensorflow/tfjs in Node.js or Chromium.

Default tolerances, per weight quantization (measurements in README, "### tfjs"):
- float32: |Δ| ≤ 1e-4 + 1e-3·|ref| per element — TF.js's float32 kernels sum in another order
  (max abs error 1.1e-5 on the example CNN on cpu, 3.4e-5 on wasm).
- fp16: float16 weights; cosine ≥ 0.9999, SNR ≥ 40 dB (measured 79.5 dB).
- uint8 / int8 (the same 1-byte affine weights): cosine ≥ 0.995, SNR ≥ 20 dB, top-1 ≥ 0.95 (58.3 dB).
- uint16: 2-byte affine weights; cosine ≥ 0.9999, SNR ≥ 40 dB (102.2 dB).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from tfport.converters import tfjs_env
from tfport.converters.tfjs_format import GRAPH_DTYPES, tensor_spec
from tfport.errors import BadInputError, RuntimeFailure
from tfport.parity.io_names import inputs_matched
from tfport.parity.tolerance import Tolerance
from tfport.plugin import (
    ArtifactMetadata,
    ConversionRequest,
    ConversionResult,
    Feed,
    Runner,
    Target,
    TargetOption,
    listed_option,
)
from tfport.targets import tfjs_node
from tfport.targets.tfjs_node import NodeProcess, pinned_version, runtime_problem

TOLERANCES = {
    "float32": Tolerance(atol=1e-4, rtol=1e-3),
    "fp16": Tolerance(min_cosine=0.9999, min_snr_db=40.0),
    "uint8": Tolerance(min_cosine=0.995, min_snr_db=20.0, min_top1=0.95),
    "int8": Tolerance(min_cosine=0.995, min_snr_db=20.0, min_top1=0.95),
    "uint16": Tolerance(min_cosine=0.9999, min_snr_db=40.0),
}
BACKENDS = ("cpu", "wasm", "webgl")
BROWSER_BACKENDS = {"webgl"}  # need a browser's GPU context (Debian's Chromium: SwiftShader, float32 textures)
# Without --tfjs-backend, parity proves wasm: the backend web apps ship for the CPU (cpu is a
# reference in JavaScript, 8x slower on MobileNetV2). A model wasm cannot run gets an error
# verdict that says so; it is never proven on another backend in its place.
DEFAULT_BACKEND = "wasm"
RUNTIMES = ("node", "chromium")
NOT_COMPUTED = {"Const", "Placeholder", "NoOp"}  # model.json nodes with no value of their own to compare
HANDLES = {"DT_RESOURCE", "DT_VARIANT"}  # signature inputs TF.js fills itself (a table's handle), never fed


MODEL_FORMATS = ("graph-model", "layers-model")  # model.json's "format" field


def model_json_format(path: Path) -> str | None:
    """The format of a model.json by its content ("graph-model", "layers-model"), whatever the
    file is named; None for anything else."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("modelTopology"), dict):
        return None
    found = data.get("format") or ("graph-model" if "node" in data["modelTopology"] else "layers-model")
    return found if found in MODEL_FORMATS else None


def read_model_json(path: Path) -> dict[str, Any]:
    """model.json, refused when it is malformed or its weight files lie outside its directory."""
    if model_json_format(path) == "layers-model":
        raise BadInputError(f"{path} is a TF.js layers model; tfport checks graph models — convert the SavedModel "
                            "with tensorflowjs_converter --input_format=tf_saved_model")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        manifest = data.get("weightsManifest", [])
        paths = [p for group in manifest for p in group["paths"]]
        inputs, outputs = data["signature"]["inputs"], data["signature"]["outputs"]
        if not all(isinstance(p, str) for p in paths) or not isinstance(inputs, dict) or not isinstance(outputs, dict):
            raise TypeError("unexpected types")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise BadInputError(f"{path} is not a TF.js graph model ({exc!r}) — convert the model again") from None
    root = path.parent.resolve()
    for weight in paths:
        resolved = (root / weight).resolve()
        if root not in resolved.parents:
            raise BadInputError(f"{path} names weight file {weight!r} outside its directory — refusing to read it; "
                                "put the weight files beside model.json and name them relative to it")
    return data


def parity_runs(options: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """One parity run per backend (`--tfjs-backend wasm,cpu`) and runtime (`--runtime node,chromium`),
    each a verdict of its own; webgl runs in Chromium only. Refuses unknown names and a webgl with no
    browser to run in."""
    backends = listed_option(options.get("tfjs_backend") or DEFAULT_BACKEND, BACKENDS, "--tfjs-backend")
    runtimes = listed_option(options.get("runtime") or "node", RUNTIMES, "--runtime")
    if BROWSER_BACKENDS & set(backends) and "chromium" not in runtimes:
        raise BadInputError(f"--tfjs-backend {'/'.join(sorted(BROWSER_BACKENDS & set(backends)))} runs in a browser "
                            "— add --runtime chromium")
    pairs = [(backend, runtime) for runtime in runtimes for backend in backends
             if backend not in BROWSER_BACKENDS or runtime == "chromium"]
    if len(pairs) == 1:
        names = [""]
    else:
        names = [backend if len(runtimes) == 1 else f"{backend} in {runtime}" for backend, runtime in pairs]
    return [(name, {**options, "tfjs_backend": backend, "runtime": runtime})
            for name, (backend, runtime) in zip(names, pairs)]


def check_runtime_options(options: Mapping[str, Any]) -> None:
    parity_runs(options)


def _one_run(options: Mapping[str, Any]) -> tuple[str, str]:
    """(backend, runtime) of one parity run's options."""
    (_, run), *others = parity_runs(options)
    if others:
        raise BadInputError("one TF.js runner runs on one backend and runtime — give one --tfjs-backend and "
                            "one --runtime")
    return run["tfjs_backend"], run["runtime"]


class TfjsRunner(Runner):
    """Feeds golden samples to the graph models by signature key, on Node.js (or Chromium).

    `artifact` is what `convert` writes (one directory per signature), or the directory of one
    graph model that another tool made (tensorflowjs_converter's `web_model/`)."""

    def __init__(self, artifact: Path, metadata: ArtifactMetadata | None, options: Mapping[str, Any]):
        self._artifact = Path(artifact)
        self._single: Path | None = self._artifact / "model.json"  # one graph model, another tool's
        if not self._single.is_file():
            self._single = None
        facts = metadata.target_data if metadata else {}
        self._aliases: Mapping[str, str] = metadata.signature_aliases if metadata else {}
        self._directories: Mapping[str, str] = facts.get("model_dirs", {})
        self._output_dtypes: Mapping[str, Mapping[str, str]] = facts.get("output_dtypes", {})
        backend, self._runtime = _one_run(options)
        self._engine = self._open_engine(backend)
        self._models: dict[str, dict[str, Any]] = {}

    def _open_engine(self, backend: str):
        if self._runtime == "node":
            return NodeProcess(backend)
        from tfport.targets.tfjs_browser import bundle_session

        return bundle_session(self._bundle_dir(), backend)

    @property
    def unnamed(self) -> bool:
        return self._single is not None

    @property
    def notes(self) -> list[str]:
        """Where the model ran, for reports."""
        return [f"ran on {self._engine.where}, {self._engine.backend} backend"]

    def _bundle_dir(self) -> Path:
        if not (self._artifact / "parity.html").is_file():
            raise BadInputError(f"{self._artifact} has no browser bundle — convert with --bundle first")
        return self._artifact

    def run(self, signature: str, feed: Feed) -> dict[str, np.ndarray]:
        key = self._aliases.get(signature, signature)
        names = list(self._graph(key)["outputs"])
        try:
            values = self._engine.run(key, self._feed(key, feed), names)
        except RuntimeFailure as exc:
            if self._engine.backend != "wasm":
                raise
            raise RuntimeFailure(f"{exc} — a web app on TF.js's wasm backend fails the same way; --tfjs-backend cpu "
                                 "proves the (slower) cpu backend instead") from None
        outputs = self._graph(key)["outputs"]
        dtypes = self._output_dtypes.get(signature) or {  # no tfport.json beside the artifact: model.json's
            name: GRAPH_DTYPES.get(spec.get("dtype")) for name, spec in outputs.items()}
        return {name: _as_saved_model_dtype(value, dtypes.get(name)) for name, value in zip(names, values)}

    def intermediates(self, signature: str, feed: Feed) -> list[tuple[list[str], np.ndarray]]:
        """The output of every computing node of model.json (named after the TF op it came from;
        a fused node after the last op fused into it), in the file's order."""
        key = self._aliases.get(signature, signature)
        self._graph(key)
        nodes = [node["name"] for node in read_model_json(self._model_json(key)).get("modelTopology", {}).get("node", [])
                 if node.get("op") not in NOT_COMPUTED]
        values = self._engine.run(key, self._feed(key, feed), nodes, nodes=True)
        return [([name], value) for name, value in zip(nodes, values) if value.dtype.kind == "f"]

    def timed_runs(self, signature: str, feed: Feed, warmup: int, runs: int) -> list[float]:
        key = self._aliases.get(signature, signature)
        names = list(self._graph(key)["outputs"])
        return self._engine.time(key, self._feed(key, feed), names, warmup, runs)

    def _feed(self, key: str, feed: Feed) -> list[tuple[str, np.ndarray]]:
        """The feed under model.json's input keys: the SavedModel's own in what `convert` writes,
        tensor names (`left:0`) in some of tensorflowjs_converter's (tfport.parity.io_names)."""
        offered = {name: tensor_spec(entry) for name, entry in self._graph(key)["inputs"].items()
                   if entry.get("dtype") not in HANDLES}
        keys = inputs_matched(feed, offered, f"the TF.js model's inputs for signature {key!r}")
        return [(name, np.asarray(feed[keys[name]])) for name in offered]

    def _model_json(self, key: str) -> Path:
        if self._single is not None:
            return self._single
        directory = self._directories.get(key, key)
        model_json = self._artifact / directory / "model.json"
        if "/" in directory or directory in (".", "..") or not model_json.is_file():
            raise BadInputError(f"{self._artifact} has no model for signature {key!r} ({directory}/model.json)")
        return model_json

    def _graph(self, key: str) -> dict[str, Any]:
        if key not in self._models:
            model_json = self._model_json(key)
            self._models[key] = read_model_json(model_json)["signature"]
            self._engine.load(key, model_json)
        return self._models[key]

    def close(self) -> None:
        self._engine.close()


def _as_saved_model_dtype(value: np.ndarray, dtype: str | None) -> np.ndarray:
    """tfjs computes int64 as int32 and has no float64; give back the SavedModel's dtypes."""
    if dtype is None or dtype == "string" or value.dtype.kind == "S":
        return value
    try:
        return value.astype(np.dtype(dtype), copy=False)
    except TypeError:  # a dtype numpy lacks (bfloat16): compare what TF.js computed
        return value


def convert(request: ConversionRequest) -> ConversionResult:
    """The converter, with what only the runtime side knows: that parity in Chromium needs the
    browser bundle, and which TF.js release the artifact was proven on."""
    from tfport.converters.tfjs import convert as convert_graph_models

    in_browser = any(run["runtime"] == "chromium" for _, run in parity_runs(request.options))
    needs_bundle = in_browser and not request.options.get("bundle")
    if needs_bundle:
        request = replace(request, options={**request.options, "bundle": True})
    result = convert_graph_models(request)
    if needs_bundle:
        result.notes.append("the browser bundle was written because --runtime chromium needs it")
    result.metadata.runtime.min_version = pinned_version()
    return result


def setup() -> str:
    """Both sides: the converter's Python environment and the npm runtime."""
    return "\n".join((tfjs_env.setup(), tfjs_node.setup()))


def _recognizes(path: Path) -> bool:
    """A TF.js model directory by content: holding a model.json (tensorflowjs_converter's output,
    whatever the directory is named), or one model directory per signature (what `convert` writes)."""
    return path.is_dir() and (model_json_format(path / "model.json") is not None or (path / "parity.html").is_file()
                              or any(model_json_format(file) for file in path.glob("*/model.json")))


TARGET = Target(
    name="tfjs",
    description="TF.js graph models for browsers and Node.js, run on @tensorflow/tfjs (cpu or wasm backend)",
    quantization_modes=tuple(TOLERANCES),
    tolerances=TOLERANCES,
    convert=convert,
    open_runner=TfjsRunner,
    recognizes=_recognizes,
    runtime_problem=runtime_problem,
    check_options=check_runtime_options,
    parity_runs=parity_runs,
    setup=setup,
    warm_up=tfjs_env.warm_up,
    packages=("tensorflow",),  # tensorflowjs's own environment is pinned by a file inside tfport (in every key)
    options={
        "shard_size": TargetOption("weight shard size in bytes (default 4 MiB)", int),
        "bundle": TargetOption("also write a browser bundle: ES module, typings, self-test page", bool, False),
        "tfjs_backend": TargetOption("tfjs backends to prove, comma-separated, a verdict each: wasm, cpu, and webgl "
                                     "with --runtime chromium (default: wasm)", str),
        "runtime": TargetOption("where parity runs, comma-separated: node, chromium (TF.js: the bundle's page; "
                                "TFLite: LiteRT.js)", str, "node"),
    },
)

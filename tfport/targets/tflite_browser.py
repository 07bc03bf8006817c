"""TFLite parity in the browser: the .tflite on LiteRT.js (@litertjs/core) in headless Chromium.

The page is the LiteRT.js bundle's parity.html (tfport.converters.tflite_bundle): the bundle beside
the file when `convert --bundle` wrote one, so the module a web app ships is the one proven; for a
bare .tflite, a bundle tfport writes into a temporary directory for the run. LiteRT.js comes from
a pinned npm lockfile (litert_web_runtime/), served under /litert/, never from a CDN.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tfport.converters.tflite_bundle import FILES, write_bundle
from tfport.converters.tflite_io import signature_io
from tfport.errors import BadInputError, RuntimeFailure
from tfport.plugin import ArtifactMetadata, Feed, Runner
from tfport.savedmodel.fixed_batch import run_by_rows
from tfport.targets.browser import NO_GPU, SOFTWARE_WEBGPU, BrowserSession
from tfport.targets.npm_runtime import NpmRuntime
from tfport.targets.tflite import dequantize, quantize

RUNTIME = NpmRuntime("the LiteRT.js runtime", Path(__file__).with_name("litert_web_runtime"), "@litertjs/core")
WIRE_DTYPES = {"float32": "<f4", "int32": "<i4", "uint8": "u1"}  # the tensors LiteRT.js 2.x takes and returns


def litert_files() -> dict[str, Path]:
    """URL path -> file of the pinned LiteRT.js: its ES module, its one dependency and the wasm builds."""
    packages = RUNTIME.node_modules / "@litertjs"
    files = {"/litert/core/index.js": packages / "core" / "dist" / "index.js",
             "/litert/wasm-utils/bundle.js": packages / "wasm-utils" / "dist" / "bundle.js"}
    files.update({f"/litert/wasm/{file.name}": file for file in (packages / "core" / "wasm").iterdir()})
    return files


def has_bundle(artifact: Path) -> bool:
    """Whether `convert --bundle` wrote a LiteRT.js bundle for this very file beside it."""
    index = artifact.parent / "index.js"
    try:
        return (all((artifact.parent / name).is_file() for name in FILES)
                and f"export const modelFile = {json.dumps(artifact.name)};" in index.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return False


class LiteRtWebRunner(Runner):
    """Runs a .tflite by signature on LiteRT.js in Chromium, (de)quantizing I/O as the LiteRT runner does."""

    def __init__(self, artifact: Path, metadata: ArtifactMetadata | None, options: Mapping[str, Any]):
        self._artifact = Path(artifact)
        facts = metadata.target_data if metadata else {}
        if facts.get("select_tf_ops"):
            raise RuntimeFailure(f"LiteRT.js has no Select TF ops (Flex), and this file needs them "
                                 f"({', '.join(facts.get('flex_ops', []))}): it cannot run in a web page")
        self._aliases: Mapping[str, str] = metadata.signature_aliases if metadata else {}
        self._fixed_batch: Mapping[str, list[str]] = facts.get("fixed_batch", {})
        self._io = signature_io(self._artifact.read_bytes())
        RUNTIME.setup()
        self._accelerator = options.get("litert_accelerator") or "wasm"
        self._temporary = None
        files = litert_files()
        if has_bundle(self._artifact):
            root, self._how = self._artifact.parent, "the LiteRT.js bundle beside it (index.js, parity.html)"
        else:
            self._temporary = tempfile.TemporaryDirectory(prefix="tfport-litert-")
            root = Path(self._temporary.name)
            write_bundle(root, self._artifact.name, self._artifact.stem, self._io, self._aliases)
            files[f"/{self._artifact.name}"] = self._artifact
            self._how = "a LiteRT.js bundle tfport wrote for the run (convert --bundle writes one beside the file)"
        self._engine = BrowserSession(root, "parity.html", {"accelerator": self._accelerator}, files,
                                      "LiteRT.js in Chromium", self._accelerator,
                                      SOFTWARE_WEBGPU if self._accelerator == "webgpu" else NO_GPU)
        self._loaded = False

    @property
    def notes(self) -> list[str]:
        return [f"ran on LiteRT.js {RUNTIME.pinned_version()} in Chromium ({self._accelerator} accelerator), "
                f"through {self._how}"]

    def run(self, signature: str, feed: Feed) -> dict[str, np.ndarray]:
        key = self._aliases.get(signature, signature)
        io = self._signature(key)
        names = list(io["outputs"])

        def run_once(one: Feed) -> dict[str, np.ndarray]:
            header, body = self._call({"op": "run", "model": key, "outputs": names}, one, io)
            values, offset = {}, 0
            for spec in header["outputs"]:
                if spec.get("accelerator") != self._accelerator:
                    raise RuntimeFailure(f"LiteRT.js computed output {spec['name']!r} on {spec.get('accelerator')}, "
                                         f"not {self._accelerator}: it could not run the model there")
                data = np.frombuffer(body[offset:offset + spec["bytes"]], dtype=WIRE_DTYPES[spec["dtype"]])
                offset += spec["bytes"]
                values[spec["name"]] = dequantize(data.reshape(spec["shape"]), _detail(io["outputs"][spec["name"]]))
            return values

        return run_by_rows(run_once, feed, self._fixed_batch.get(key, []))

    def timed_runs(self, signature: str, feed: Feed, warmup: int, runs: int) -> list[float]:
        """Timed inside the page (performance.now()), so the trip to Chromium is not counted."""
        key = self._aliases.get(signature, signature)
        header, _ = self._call({"op": "time", "model": key, "warmup": warmup, "runs": runs}, feed,
                               self._signature(key))
        return [ms / 1000 for ms in header["milliseconds"]]

    def _signature(self, key: str) -> dict:
        if key not in self._io:
            raise BadInputError(f"{self._artifact} has no signature {key!r} (it has {', '.join(self._io) or 'none'})")
        io = self._io[key]
        foreign = {f"{side[:-1]} {name} is {spec['dtype']}" for side in ("inputs", "outputs")
                   for name, spec in io[side].items() if spec["dtype"] not in WIRE_DTYPES}
        if foreign:
            raise RuntimeFailure(f"LiteRT.js {RUNTIME.pinned_version()} has float32, int32 and uint8 tensors only, and in "
                                 f"signature {key!r} {', '.join(sorted(foreign))}: a web page cannot run it"
                                 + (" — convert without --int8-io" if any(" int8" in f for f in foreign) else ""))
        open_dims = {name: spec["shape"] for name, spec in io["inputs"].items() if None in spec["shape"]}
        if open_dims:
            listed = ", ".join(f"{name} {[-1 if d is None else d for d in shape]}" for name, shape in open_dims.items())
            raise RuntimeFailure(f"LiteRT.js {RUNTIME.pinned_version()} runs static shapes only (it has no input resize), "
                                 f"and signature {key!r} of this file has open dims ({listed}) — convert with "
                                 "--runtime chromium or --bundle, which give the file a batch of 1; other open dims "
                                 "need fixing in the SavedModel's signature")
        if not self._loaded:
            self._engine.load(key, self._artifact)
            self._loaded = True
        return io

    def _call(self, header: dict, feed: Feed, io: dict) -> tuple[dict, bytes]:
        specs, chunks = [], []
        for name, spec in io["inputs"].items():
            if name not in feed:
                raise BadInputError(f"the golden set has no input {name!r} for the .tflite's signature "
                                    f"{header['model']!r} (it has {', '.join(feed)})")
            value = quantize(np.asarray(feed[name]), _detail(spec))  # dtypes LiteRT.js has: checked
            data = value.astype(value.dtype.newbyteorder("<"), copy=False).tobytes()
            specs.append({"name": name, "dtype": value.dtype.name, "shape": list(value.shape), "bytes": len(data)})
            chunks.append(data)
        return self._engine._call({**header, "inputs": specs}, b"".join(chunks))

    def close(self) -> None:
        self._engine.close()
        if self._temporary is not None:
            self._temporary.cleanup()


def _detail(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A tensor of tfport.converters.tflite_io as LiteRT's Python API details it, for quantize/dequantize."""
    quantization = spec.get("quantization") or {"scale": 0.0, "zero_point": 0}
    return {"dtype": np.dtype(spec["dtype"]), "quantization": (quantization["scale"], quantization["zero_point"])}



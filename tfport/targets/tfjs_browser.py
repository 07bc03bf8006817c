"""TF.js parity in Chromium: the bundle's own parity.html, with the TF.js builds of the pinned runtime."""

from __future__ import annotations

from pathlib import Path

from tfport.targets.browser import BrowserSession
from tfport.targets.tfjs_node import RUNTIME

TFJS_FILES = {  # served under /tfjs/: UMD builds and wasm binaries from the pinned npm runtime
    "tf-core.min.js": "tfjs-core/dist/tf-core.min.js",
    "tf-converter.min.js": "tfjs-converter/dist/tf-converter.min.js",
    "tf-backend-cpu.min.js": "tfjs-backend-cpu/dist/tf-backend-cpu.min.js",
    "tf-backend-wasm.min.js": "tfjs-backend-wasm/dist/tf-backend-wasm.min.js",
    "tf-backend-webgl.min.js": "tfjs-backend-webgl/dist/tf-backend-webgl.min.js",
    **{name: f"tfjs-backend-wasm/dist/{name}" for name in (
        "tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm-threaded-simd.wasm")},
}


def bundle_session(bundle: Path, backend: str) -> BrowserSession:
    """A Chromium page running the bundle's parity.html on `backend`."""
    RUNTIME.setup()
    files = {f"/tfjs/{name}": RUNTIME.node_modules / "@tensorflow" / path for name, path in TFJS_FILES.items()}
    return BrowserSession(bundle, "parity.html", {"backend": backend}, files, "TF.js in Chromium", backend)

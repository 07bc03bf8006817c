"""TF.js parity in a real browser: headless Chromium drives the bundle's own parity.html.

A loopback-only HTTP server (127.0.0.1, an ephemeral port) serves the bundle and the TF.js builds
from the npm runtime's node_modules; the page fetches work from /tfport/<token>/next and posts
answers to /tfport/<token>/result, in the same binary frames as the Node runner. Chromium comes
from the system (Debian's `chromium`), never a download, and is started with a fresh profile and
host resolution limited to 127.0.0.1.
"""

from __future__ import annotations

import queue
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tfport.errors import RuntimeFailure, RuntimeMissingError
from tfport.logfile import file_logger, log_path
from tfport.targets.tfjs_node import node_modules, setup
from tfport.targets.tfjs_wire import FramedEngine, split_frame

CHROMIUM_NAMES = ("chromium", "chromium-browser")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-extensions",
    "--disable-default-apps", "--no-default-browser-check", "--disable-dev-shm-usage", "--mute-audio",
    "--no-proxy-server", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)
TFJS_FILES = {  # served under /tfjs/: UMD builds and wasm binaries from the pinned npm runtime
    "tf-core.min.js": "tfjs-core/dist/tf-core.min.js",
    "tf-converter.min.js": "tfjs-converter/dist/tf-converter.min.js",
    "tf-backend-cpu.min.js": "tfjs-backend-cpu/dist/tf-backend-cpu.min.js",
    "tf-backend-wasm.min.js": "tfjs-backend-wasm/dist/tf-backend-wasm.min.js",
    "tf-backend-webgl.min.js": "tfjs-backend-webgl/dist/tf-backend-webgl.min.js",
    **{name: f"tfjs-backend-wasm/dist/{name}" for name in (
        "tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm-threaded-simd.wasm")},
}
ANSWER_TIMEOUT = 180  # seconds for the page to start, load a model or answer one sample


def chromium_path() -> str | None:
    return next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)


class _Handler(SimpleHTTPRequestHandler):
    """Static files of the bundle, /tfjs/ from node_modules, and the page's work queue."""

    def __init__(self, *args, session: BrowserSession, **kwargs):
        self.session = session
        super().__init__(*args, directory=str(session.bundle), **kwargs)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == f"{self.session.prefix}/next":
            work = self.session.work.get()
            self._reply(200 if work is not None else 204, work or b"", "application/octet-stream")
        elif self.path.startswith("/tfjs/") and self.path[6:] in TFJS_FILES:
            file = node_modules() / "@tensorflow" / TFJS_FILES[self.path[6:]]
            kind = "application/wasm" if file.suffix == ".wasm" else "text/javascript"
            self._reply(200, file.read_bytes(), kind)
        elif self.path.startswith("/tfport/"):
            self._reply(404, b"", "text/plain")
        else:
            super().do_GET()

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == f"{self.session.prefix}/result":
            self.session.answers.put(body)
        elif self.path == f"{self.session.prefix}/log":
            message = body.decode("utf-8", "replace")
            file_logger().warning("chromium page: %s", message)
            self.session.page_errors.append(message)
        else:
            self._reply(404, b"", "text/plain")
            return
        self._reply(204, b"", "text/plain")

    def _reply(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 — keep the terminal quiet
        file_logger().info("bundle server: " + format, *args)


class BrowserSession(FramedEngine):
    """Serves one bundle and keeps one headless Chromium page answering load/run requests."""

    where = "TF.js in Chromium"

    def __init__(self, bundle: Path, backend: str):
        browser = chromium_path()
        if browser is None:
            raise RuntimeMissingError("Chromium is not installed — apt-get install chromium (Debian's package; "
                                      "tfport never downloads a browser)")
        setup()
        self.bundle = bundle
        self.backend = backend
        self.prefix = f"/tfport/{secrets.token_hex(16)}"  # only the page tfport opened talks to it
        self.work: queue.Queue[bytes | None] = queue.Queue()
        self.answers: queue.Queue[bytes] = queue.Queue()
        self.page_errors: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, session=self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self._profile = tempfile.mkdtemp(prefix="tfport-chromium-")
        url = (f"http://127.0.0.1:{self._server.server_port}/parity.html"
               f"?driver={self.prefix}&backend={backend}")
        self._log = open(log_path(), "ab")
        self._browser = subprocess.Popen([browser, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile}", url],
                                         stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)

    def _exchange(self, request: bytes) -> tuple[dict, bytes]:
        self.work.put(request)
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while True:
            try:
                return split_frame(self.answers.get(timeout=0.5))
            except queue.Empty:
                pass
            if self.page_errors or self._browser.poll() is not None or time.monotonic() > deadline:
                break
        if self.page_errors:
            problem = "; ".join(self.page_errors[-3:])
        elif self._browser.poll() is not None:
            problem = f"Chromium exited (code {self._browser.returncode}; its messages are in {log_path()})"
        else:
            problem = f"no answer in {ANSWER_TIMEOUT} s (Chromium's messages are in {log_path()})"
        raise RuntimeFailure(f"the bundle's parity page in Chromium failed: {problem}")

    def close(self) -> None:
        self.work.put(None)  # lets the page leave its loop
        self._browser.terminate()
        try:
            self._browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._browser.kill()
            self._browser.wait()
        self._server.shutdown()
        self._server.server_close()
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)

"""Parity in a real browser: headless Chromium opens a page that answers tfport's requests.

A loopback-only HTTP server (127.0.0.1, an ephemeral port) serves a directory (a TF.js bundle, or
the directory of a .tflite file) and named files from a pinned npm runtime's node_modules; the
page fetches work from /tfport/<token>/next and posts answers to /tfport/<token>/result, in the
binary frames of tfport.targets.tfjs_wire. Chromium comes from the system (Debian's `chromium`),
never a download, and is started with a fresh profile and host resolution limited to 127.0.0.1.
TF.js (its bundle's parity.html) and LiteRT.js (tfport's litert_web/driver.html) both run here.
"""

from __future__ import annotations

import queue
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

from tfport.errors import RuntimeFailure, RuntimeMissingError
from tfport.logfile import file_logger, log_path
from tfport.processes import stop
from tfport.targets.tfjs_wire import FramedEngine, split_frame

CHROMIUM_NAMES = ("chromium", "chromium-browser")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-extensions",
    "--disable-default-apps", "--no-default-browser-check", "--disable-dev-shm-usage", "--mute-audio",
    "--no-proxy-server", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)
NO_GPU = ("--disable-gpu",)  # WebGL still runs, on SwiftShader; WebGPU finds no adapter
SOFTWARE_WEBGPU = ("--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader")  # a fallback adapter headless
FILE_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
              ".json": "application/json", ".html": "text/html"}
ANSWER_TIMEOUT = 180  # seconds for the page to start, load a model or answer one sample


def chromium_path() -> str | None:
    return next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)


class _Handler(SimpleHTTPRequestHandler):
    """Static files of the served directory, the session's named files, and the page's work queue."""

    def __init__(self, *args, session: BrowserSession, **kwargs):
        self.session = session
        super().__init__(*args, directory=str(session.root), **kwargs)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path == f"{self.session.prefix}/next":
            work = self.session.work.get()
            self._reply(200 if work is not None else 204, work or b"", "application/octet-stream")
        elif self.path.partition("?")[0] in self.session.files:
            file = self.session.files[self.path.partition("?")[0]]
            self._reply(200, file.read_bytes(), FILE_TYPES.get(file.suffix, "application/octet-stream"))
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
    """Serves one directory and keeps one headless Chromium page answering load/run requests.

    `page`: the page's path under `root`, opened with `?driver=<prefix>&<query>`; `files`: URL
    path -> file served besides (a runtime's builds); `flags`: Chromium flags the runtime needs."""

    def __init__(self, root: Path, page: str, query: Mapping[str, str], files: Mapping[str, Path], where: str,
                 backend: str = "", flags: tuple[str, ...] = NO_GPU):
        browser = chromium_path()
        if browser is None:
            raise RuntimeMissingError("Chromium is not installed — apt-get install chromium (Debian's package; "
                                      "tfport never downloads a browser)")
        self.root, self.files, self.where, self.backend = root, dict(files), where, backend
        self.prefix = f"/tfport/{secrets.token_hex(16)}"  # only the page tfport opened talks to it
        self.work: queue.Queue[bytes | None] = queue.Queue()
        self.answers: queue.Queue[bytes] = queue.Queue()
        self.page_errors: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, session=self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self._profile = tempfile.mkdtemp(prefix="tfport-chromium-")
        url = f"http://127.0.0.1:{self._server.server_port}/{page}?{urlencode({'driver': self.prefix, **query})}"
        self._log = open(log_path(), "ab")
        self._browser = subprocess.Popen([browser, *CHROMIUM_FLAGS, *flags, f"--user-data-dir={self._profile}", url],
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
        raise RuntimeFailure(f"the parity page of {self.where} failed: {problem}")

    def close(self) -> None:
        self.work.put(None)  # lets the page leave its loop
        stop(self._browser, timeout=10, terminate=True)
        self._server.shutdown()
        self._server.server_close()
        self._log.close()
        shutil.rmtree(self._profile, ignore_errors=True)

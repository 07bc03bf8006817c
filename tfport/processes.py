"""Ending the helper processes tfport starts (converter workers, interpreters, browsers)."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen, timeout: float, terminate: bool = False) -> int:
    """End `process` and reap it: close its stdin (a worker's signal to finish) or, with
    `terminate`, send SIGTERM; kill it if it is still running after `timeout` seconds."""
    if process.poll() is None:
        if terminate:
            process.terminate()
        elif process.stdin is not None:
            try:
                process.stdin.close()
            except OSError:  # it stopped meanwhile: its pipe is broken
                pass
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()

"""Ctrl-C, kill and a full disk: what is in the out directory is always whole."""

import errno
import os
import signal
import subprocess
import sys
import time

import pytest

from tfport.atomic import staged_directory
from tfport.errors import BadInputError


def partial_files(out):
    try:
        return [p for p in out.rglob("*") if ".partial-" in p.name or ".old-" in p.name]
    except FileNotFoundError:  # a staging directory was moved into place while it was listed: writing
        return [out]


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_convert_leaves_no_half_written_artifact(saved_model, tmp_path, signal_number):
    env = {**os.environ, "TFPORT_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "out"
    command = [sys.executable, "-m", "tfport", "convert", str(saved_model("lstm")), "--to", "tflite,onnx",
               "--quantize", "float32", "--out", str(out), "--samples", "4"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not partial_files(out):  # wait until it is writing
        time.sleep(0.05)
    process.send_signal(signal_number)
    process.wait(timeout=60)
    assert process.returncode != 0
    for artifact in (out / "tflite-float32", out / "onnx-float32"):
        assert not artifact.exists() or (artifact / "tfport.json").is_file(), "an artifact is whole or absent"
    rerun = subprocess.run(command, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stdout
    assert not partial_files(out), "a later run removes what a killed one left"


def test_full_disk_is_one_clear_message(tmp_path):
    with pytest.raises(BadInputError, match="no space left on the disk while writing"):
        with staged_directory(tmp_path / "artifact"):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert not list(tmp_path.iterdir()), "nothing is left behind"

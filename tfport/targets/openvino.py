"""The OpenVINO target: openvino.convert_model paired with the OpenVINO Runtime (CPU by default).

Default tolerances, per quantization mode (measurements in docs/targets.md, "openvino"):
- float32: |Δ| ≤ 1e-4 + 1e-3·|ref| per element — same math, other kernels; inference precision
  is pinned to f32 (the CPU plugin computes in bf16 by default on CPUs that have it).
- fp16: float16 weights, float32 compute; cosine ≥ 0.9999, SNR ≥ 40 dB.
- int8: NNCF post-training quantization; cosine ≥ 0.99, SNR ≥ 15 dB, top-1 agreement ≥ 0.95.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tfport.errors import BadInputError, RuntimeFailure, RuntimeMissingError
from tfport.parity.tolerance import Tolerance
from tfport.plugin import RUNTIME_THREADS, ArtifactMetadata, Feed, Runner, Target, TargetOption, lazy

TOLERANCES = {
    "float32": Tolerance(atol=1e-4, rtol=1e-3),
    "fp16": Tolerance(min_cosine=0.9999, min_snr_db=40.0),
    "int8": Tolerance(min_cosine=0.99, min_snr_db=15.0, min_top1=0.95),
}
DEFAULT_DEVICE = "CPU"


class OpenVinoRunner(Runner):
    """One compiled model per signature file; feeds and outputs keyed by the SavedModel's keys.

    `artifact` is the directory of `<signature>.xml` files, or one such file."""

    def __init__(self, artifact: Path, metadata: ArtifactMetadata | None, options: Mapping[str, Any]):
        problem = runtime_problem()
        if problem:
            raise RuntimeMissingError(problem)
        from tfport.converters.openvino import import_openvino

        self._core = import_openvino().Core()
        self._device = check_options(options, self._core)
        self._config = {"INFERENCE_PRECISION_HINT": "f32"}
        if options.get(RUNTIME_THREADS):
            self._config["INFERENCE_NUM_THREADS"] = int(options[RUNTIME_THREADS])
        self._artifact = Path(artifact)
        files = [self._artifact] if self._artifact.is_file() else sorted(self._artifact.glob("*.xml"))
        if not files:
            raise BadInputError(f"{artifact} holds no OpenVINO .xml model")
        self._files = {path.stem: path for path in files}
        self._aliases = dict(metadata.signature_aliases) if metadata else {}
        self._compiled: dict[str, Any] = {}

    def run(self, signature: str, feed: Feed) -> dict[str, np.ndarray]:
        compiled = self._compile(self._aliases.get(signature, signature), signature)
        expected = {port.get_any_name() for port in compiled.inputs}
        if set(feed) != expected:  # OpenVINO would reuse the previous call's value for a missing input
            raise BadInputError(f"signature {signature!r} takes input(s) {', '.join(sorted(expected))}; the feed has "
                                f"{', '.join(sorted(feed)) or 'none'} — pass a golden set recorded for this model")
        try:
            answer = compiled({name: np.asarray(value) for name, value in feed.items()})
        except Exception as exc:  # OpenVINO's own exception types
            raise RuntimeFailure(f"OpenVINO failed on signature {signature!r}: {_last_line(exc)}") from None
        return {_key(port): np.asarray(value) for port, value in answer.items()}

    def _compile(self, key: str, asked: str):
        if key not in self._compiled:
            if key not in self._files:
                held = ", ".join(sorted(self._files))
                raise BadInputError(f"the OpenVINO artifact {self._artifact} has no model for signature {asked!r} "
                                    f"(it has: {held})")
            try:
                self._compiled[key] = self._core.compile_model(str(self._files[key]), self._device, self._config)
            except Exception as exc:  # OpenVINO's own exception types: a broken or foreign file
                raise BadInputError(f"{self._files[key]} cannot be loaded by OpenVINO ({_last_line(exc)}) — convert "
                                    "the model again, or copy the .xml with its .bin") from None
        return self._compiled[key]

    @property
    def notes(self) -> list[str]:
        return [f"ran on OpenVINO {self._device}, f32 inference precision"]

    def close(self) -> None:
        self._compiled.clear()


def _last_line(exc: Exception) -> str:
    """OpenVINO's reason: the last line of its message (the rest is C++ source locations)."""
    lines = str(exc).strip().splitlines()
    return lines[-1] if lines else type(exc).__name__


def _key(port) -> str:
    """The signature key: the converter names each port by its key alone."""
    return port.get_any_name()


def check_options(options: Mapping[str, Any], core=None) -> str:
    """The device for --device, refused unless OpenVINO has it here."""
    device = str(options.get("device") or DEFAULT_DEVICE).upper()
    if runtime_problem():
        return device
    if core is None:
        from tfport.converters.openvino import import_openvino

        core = import_openvino().Core()
    available = core.available_devices
    if device not in available:
        raise RuntimeMissingError(f"--device {device}: OpenVINO here has {', '.join(available)}")
    return device


def runtime_problem() -> str | None:
    if importlib.util.find_spec("openvino") is None:
        return "OpenVINO is not installed — pip install 'tfport[openvino]'"
    return None


IR_ROOT = re.compile(rb"^\s*(<\?xml[^>]*\?>\s*)?(<!--.*?-->\s*)*<net[\s>]", re.S)


def is_ir_file(path: Path) -> bool:
    """Whether the file is an OpenVINO IR model by its content (an XML document whose root is
    <net>), with the .bin of its weights beside it, as OpenVINO reads them."""
    try:
        with path.open("rb") as file:
            head = file.read(4096)
    except OSError:
        return False
    return bool(IR_ROOT.match(head)) and path.with_suffix(".bin").is_file()


def recognizes(path: Path) -> bool:
    """An OpenVINO IR model (by content, beside its `.bin`), or a directory of them (what `convert` writes)."""
    if path.is_file():
        return is_ir_file(path)
    return path.is_dir() and any(is_ir_file(xml) for xml in path.glob("*.xml"))


TARGET = Target(
    name="openvino",
    description="OpenVINO IR per signature for Intel CPUs, GPUs and NPUs, run on the OpenVINO Runtime",
    quantization_modes=tuple(TOLERANCES),
    tolerances=TOLERANCES,
    convert=lazy("tfport.converters.openvino:convert"),
    calibrated_modes=("int8",),
    open_runner=OpenVinoRunner,
    recognizes=recognizes,
    suffixes=(".xml",),
    runtime_problem=runtime_problem,
    check_options=check_options,
    packages=("tensorflow", "openvino", "nncf"),
    options={"device": TargetOption("OpenVINO device for parity and bench, e.g. CPU or GPU", str, DEFAULT_DEVICE)},
)

"""The result of a run, as data: what each report format renders and what the exit code says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tfport import __version__
from tfport.errors import EXIT_CONVERSION_FAILED, EXIT_OK, EXIT_PARITY_FAILED, EXIT_UNCHECKED
from tfport.parity.metrics import FAIL, PASS, OutputResult
from tfport.parity.noise_limit import describe as describe_limits
from tfport.plugin import ArtifactMetadata

SCHEMA_VERSION = 1
ERROR = "error"  # the artifact could not be made or run: no parity verdict
UNCHECKED = "unchecked"  # the artifact was made, but no runtime here can run it: no parity verdict
# A run's verdict and exit code are its worst artifact's, in this order (worst last).
SEVERITY = (PASS, UNCHECKED, FAIL, ERROR)


@dataclass
class ArtifactResult:
    target: str
    quantization: str
    runtime: str = ""  # which of the target's parity runs this verdict is of (Target.parity_runs); "" if its only one
    artifact: str | None = None  # path relative to the report's directory
    size_bytes: int | None = None
    sha256: str | None = None
    notes: list[str] = field(default_factory=list)
    error: str = ""
    error_exit_code: int = EXIT_CONVERSION_FAILED  # 2 when the error is the user's input or setup
    unchecked: str = ""  # why no runtime here can run the artifact (tfport.errors.CannotCheckHere)
    seconds: dict[str, float] = field(default_factory=dict)
    outputs: list[OutputResult] = field(default_factory=list)
    metadata: ArtifactMetadata | None = None  # from the artifact's record; None for a bare file
    explanations: list[dict[str, Any]] = field(default_factory=list)  # convert --explain, per signature

    @property
    def label(self) -> str:
        """The artifact's name, and its directory in an out directory."""
        return f"{self.target}-{self.quantization}"

    @property
    def name(self) -> str:
        """The verdict's name in reports: the artifact, and the runtime it ran on when it runs on several."""
        return f"{self.label} ({self.runtime})" if self.runtime else self.label

    @property
    def target_text(self) -> str:
        """The target column of report tables."""
        return f"{self.target} ({self.runtime})" if self.runtime else self.target

    @property
    def verdict(self) -> str:
        if self.error:
            return ERROR
        if self.unchecked:
            return UNCHECKED
        if not self.outputs:
            return ERROR
        return PASS if all(o.verdict == PASS for o in self.outputs) else FAIL

    @property
    def exit_code(self) -> int:
        codes = {PASS: EXIT_OK, FAIL: EXIT_PARITY_FAILED, UNCHECKED: EXIT_UNCHECKED}
        return codes.get(self.verdict, self.error_exit_code)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target, "quantization": self.quantization, "runtime": self.runtime, "verdict": self.verdict,
            "artifact": self.artifact, "size_bytes": self.size_bytes, "sha256": self.sha256,
            "notes": self.notes, "error": self.error, "error_exit_code": self.error_exit_code,
            "unchecked": self.unchecked, "seconds": self.seconds,
            "metadata": self.metadata.to_json() if self.metadata else None,
            "outputs": [o.to_json() for o in self.outputs], "explanations": self.explanations,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArtifactResult:
        return cls(
            target=data["target"], quantization=data["quantization"], runtime=data.get("runtime", ""),
            artifact=data.get("artifact"),
            size_bytes=data.get("size_bytes"), sha256=data.get("sha256"), notes=list(data.get("notes", [])),
            error=data.get("error", ""), error_exit_code=int(data.get("error_exit_code", EXIT_CONVERSION_FAILED)),
            unchecked=data.get("unchecked", ""),
            seconds=dict(data.get("seconds", {})), outputs=[OutputResult.from_json(o) for o in data.get("outputs", [])],
            metadata=ArtifactMetadata.from_json(data["metadata"]) if data.get("metadata") else None,
            explanations=list(data.get("explanations", [])),
        )


@dataclass
class Report:
    model: dict[str, Any]
    golden: dict[str, Any]
    results: list[ArtifactResult] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        worst = self._worst()
        return max((r.exit_code for r in self.results if r.verdict == worst), default=EXIT_OK)

    @property
    def verdict(self) -> str:
        return self._worst()

    def _worst(self) -> str:
        return max((r.verdict for r in self.results), key=SEVERITY.index, default=PASS)

    def to_json(self) -> str:
        data = {
            "schema": "tfport-report", "schema_version": SCHEMA_VERSION, "verdict": self.verdict,
            "exit_code": self.exit_code, "model": self.model, "golden": self.golden,
            "versions": {"tfport": __version__, **self.versions},
            "results": [r.to_json() for r in self.results],
        }
        return json.dumps(data, indent=2, default=_plain) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Report:
        """The Report a report.json holds (what `to_json` wrote), refused with ValueError when it is
        not one."""
        try:
            data = json.loads(text)
            if data.get("schema") != "tfport-report":
                raise ValueError(f"schema is {data.get('schema')!r}, not 'tfport-report'")
            versions = {k: v for k, v in data.get("versions", {}).items() if k != "tfport"}
            return cls(model=dict(data["model"]), golden=dict(data["golden"]), versions=versions,
                       results=[ArtifactResult.from_json(r) for r in data["results"]])
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"not a tfport report: {exc!r}") from None


def _plain(value: Any) -> Any:
    """numpy scalars and paths in metadata become JSON values."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def rows(report: Report) -> Iterator[tuple[ArtifactResult, OutputResult | None]]:
    """One row per target x signature x output; an artifact without outputs is one row."""
    for result in report.results:
        if not result.outputs:
            yield result, None
        for output in result.outputs:
            yield result, output


def size_text(size: int | None) -> str:
    if size is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


def row_verdict(result: ArtifactResult, output: OutputResult | None) -> str:
    return output.verdict if output else result.verdict


def detail(result: ArtifactResult, output: OutputResult | None, separator: str = "\n") -> str:
    """The worst check, then the limits behind it (fixed and noise floor) when the golden set knows both."""
    if output is None:
        return result.error or (f"cannot be checked here: {result.unchecked}" if result.unchecked else "")
    return separator.join(part for part in (output.summary(), describe_limits(output.limits)) if part)


def signature_verdicts(result: ArtifactResult, signatures: list[str]) -> list[str]:
    """The verdict of each signature's outputs (the artifact's own verdict when it has none)."""
    cells = []
    for signature in signatures:
        verdicts = {o.verdict for o in result.outputs if o.signature == signature}
        cells.append(result.verdict if not verdicts else "fail" if "fail" in verdicts else "pass")
    return cells


def weak_evidence(report: Report) -> dict[str, str]:
    """"signature/output" -> why its golden samples prove little (the same for every artifact: it is
    a property of the reference outputs)."""
    return {f"{o.signature}/{o.output}": o.weak_evidence for r in report.results for o in r.outputs if o.weak_evidence}


def explanation_summary(explanation: dict) -> str:
    """One line: the first op whose value leaves the scaled tolerance, with its type, inputs and neighbours."""
    first = explanation["first_divergent"]
    if not explanation["ops"]:
        return (f"{explanation['signature']}: no TensorFlow op could be matched to the artifact's "
                f"{explanation['artifact_values']} values (the converter kept no op names)")
    if first is None:
        return (f"{explanation['signature']}: every matched op stays within the scaled tolerance — the difference "
                "arises after the last matched op, or in ops the artifact does not expose")
    return (f"{explanation['signature']}: first divergent op {first['op']} ({first['type']}; inputs "
            f"{', '.join(first['inputs']) or 'none'}; around it {', '.join(first['around'])}) — "
            f"tolerance used {first['tolerance_used']:.3g}, SNR {first['snr_db']:.1f} dB; in the artifact: "
            f"{first['artifact_name']}")

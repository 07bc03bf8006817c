"""Tolerances: what a converted output may differ by, and where each limit comes from.

Precedence, weakest first: the target's default for the quantization mode, then the user's
config (`[tool.tfport.tolerance]` in pyproject.toml, or `[tolerance]` in tfport.toml): its
global table, a `"<target>"` or `"<target>.<mode>"` table, an `outputs."<output>"` or
`outputs."<signature>.<output>"` table; then the CLI flags.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from tfport.errors import BadInputError


@dataclass(frozen=True)
class Tolerance:
    """Limits a float output must meet. None leaves a check off.

    atol/rtol: every element within atol + rtol * |reference| (numpy.isclose);
    min_cosine, min_snr_db: whole-output similarity, for quantized modes where single elements
    may move by a quantization step; min_top1: argmax agreement for class-score outputs.
    """

    atol: float | None = None
    rtol: float | None = None
    min_cosine: float | None = None
    min_snr_db: float | None = None
    min_top1: float | None = None

    def updated(self, values: dict[str, Any], origin: str = "") -> Tolerance:
        known = {f.name for f in fields(self)}
        unknown = set(values) - known
        if unknown:
            raise BadInputError(
                f"unknown tolerance key {', '.join(sorted(unknown))}{origin} — "
                f"use {', '.join(sorted(known))}"
            )
        checked = {}
        for key, value in values.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise BadInputError(f"tolerance {key}{origin} must be a number, not {value!r}")
            checked[key] = None if value is None else float(value)
        return replace(self, **checked)

    def to_json(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class TolerancePolicy:
    """Answers "which tolerance applies to this output" for a whole run."""

    config: dict[str, Any]
    config_origin: str = ""
    cli: dict[str, float | None] | None = None

    def for_output(self, default: Tolerance, target: str, mode: str, signature: str, output: str) -> Tolerance:
        tolerance = default
        outputs = self.config.get("outputs", {})
        layers = [
            ({k: v for k, v in self.config.items() if not isinstance(v, dict)}, ""),
            (_table(self.config, target), f"{target}"),
            (_table(self.config, f"{target}.{mode}"), f"{target}.{mode}"),
            (_table(outputs, output), f"outputs.{output}"),
            (_table(outputs, f"{signature}.{output}"), f"outputs.{signature}.{output}"),
        ]
        for values, where in layers:
            origin = f" in {self.config_origin} [{where or 'tolerance'}]" if self.config_origin else ""
            tolerance = tolerance.updated(values, origin)
        cli = {k: v for k, v in (self.cli or {}).items() if v is not None}
        return tolerance.updated(cli, " (command line)")


def _table(tables: dict[str, Any], key: str) -> dict[str, Any]:
    """A config table by key, accepting both `["tflite.int8"]` and nested `[tflite.int8]`."""
    node: Any = tables.get(key)
    if node is None:
        node = tables
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        return {}
    return {k: v for k, v in node.items() if not isinstance(v, dict)}


def load_policy(
    config_file: Path | None = None, cli: dict[str, float | None] | None = None, search_dir: Path | None = None
) -> TolerancePolicy:
    """Read tolerances from `config_file`, else from tfport.toml or pyproject.toml in `search_dir`."""
    from tfport.config import read_section

    tolerance, origin = read_section("tolerance", config_file, search_dir)
    return TolerancePolicy(config=tolerance, config_origin=origin, cli=cli)


@dataclass(frozen=True)
class RecordedTolerances:
    """The tolerances a release applied, per (signature, output): `tfport verify` applies them again."""

    tolerances: dict[tuple[str, str], Tolerance]

    def for_output(self, default: Tolerance, target: str, mode: str, signature: str, output: str) -> Tolerance:
        return self.tolerances.get((signature, output), default)

"""Targets come from the `tfport.targets` entry-point group, tfport's own included."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from tfport.errors import BadInputError
from tfport.plugin import Target

ENTRY_POINT_GROUP = "tfport.targets"


@cache
def _load() -> tuple[dict[str, Target], dict[str, str]]:
    """Installed targets, and the reason for each entry point that failed to load."""
    found: dict[str, Target] = {}
    sources: dict[str, list[str]] = {}
    broken: dict[str, str] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            target = entry.load()
        except Exception as exc:  # a broken plugin must not take the others down
            broken[entry.name] = f"{type(exc).__name__}: {exc}"
            continue
        if not isinstance(target, Target):
            broken[entry.name] = f"{entry.value} is a {type(target).__name__}, not a tfport.plugin.Target"
            continue
        found[target.name] = target
        sources.setdefault(target.name, []).append(entry.value)
    for name, where in sources.items():
        if len(set(where)) > 1:  # neither wins: which one ran would depend on install order
            del found[name]
            broken[name] = f"{len(set(where))} installed targets are named {name!r} ({', '.join(sorted(set(where)))})" \
                           " — uninstall all but one"
    return dict(sorted(found.items())), broken


def targets() -> dict[str, Target]:
    return _load()[0]


def broken_targets() -> dict[str, str]:
    return _load()[1]


def get_target(name: str) -> Target:
    available = targets()
    if name in broken_targets():
        raise BadInputError(f"target {name!r} is installed but failed to load ({broken_targets()[name]}) — reinstall it")
    if name not in available:
        raise BadInputError(
            f"unknown target {name!r} — choose one of: {', '.join(available) or '(none installed)'}"
            " (`tfport targets` lists them)"
        )
    return available[name]


def check_mode(target: Target, mode: str) -> None:
    if mode not in target.quantization_modes:
        raise BadInputError(
            f"target {target.name} has no quantization mode {mode!r} — "
            f"choose one of: {', '.join(target.quantization_modes)}"
        )


def require_runtime(target: Target) -> None:
    problem = target.runtime_problem()
    if problem:
        raise BadInputError(f"{target.name} runtime is not usable here: {problem}")


def target_for_artifact(path: Path) -> tuple[Path, Target]:
    """(the artifact, its target) for what a user names: an artifact its target recognizes by
    content, whatever made or named it, or a file inside a directory artifact (the model.json of
    tensorflowjs_converter's web_model/ stands for the directory)."""
    for candidate in (path, path.parent) if path.is_file() else (path,):
        for target in targets().values():
            if target.recognizes(candidate):
                return candidate, target
    for target in targets().values():  # a damaged file: its name says which runner explains the damage
        if path.is_file() and target.suffixes and path.name.endswith(target.suffixes):
            return path, target
    raise BadInputError(
        f"{path} is not an artifact of any installed target ({', '.join(targets())}) — pass a model file "
        "(.tflite, .onnx, OpenVINO .xml beside its .bin) or a TF.js model directory, as `tfport convert` or the "
        "official converters write them"
    )


def parse_option_args(args: list[str]) -> dict[str, str | bool]:
    """`--opset 17 --bundle --provider=CUDA` -> {"opset": "17", "bundle": True, "provider": "CUDA"}."""
    options: dict[str, str | bool] = {}
    tokens = list(args)
    while tokens:
        token = tokens.pop(0)
        if not token.startswith("--"):
            raise BadInputError(f"unexpected argument {token!r} — target options look like --name value")
        name, has_value, value = token[2:].partition("=")
        if not has_value:
            value = tokens.pop(0) if tokens and not tokens[0].startswith("--") else True
        options[name.replace("-", "_")] = value
    return options


def check_options_known(chosen: Iterable[Target], options: Mapping[str, Any]) -> None:
    chosen = list(chosen)
    known = {name for target in chosen for name in target.options}
    unknown = sorted(set(options) - known)
    if unknown:
        listed = ", ".join(f"--{n.replace('_', '-')}" for n in sorted(known)) or "none"
        raise BadInputError(
            f"unknown option {', '.join('--' + n.replace('_', '-') for n in unknown)} for target "
            f"{', '.join(t.name for t in chosen)} — its options: {listed}"
        )


def target_options_for(target: Target, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options this target declares, converted to their types, defaults filled in."""
    values = {}
    for name, option in target.options.items():
        raw = options.get(name, option.default)
        values[name] = raw if raw is None or isinstance(raw, option.type) else _convert(name, raw, option.type)
    return values


def run_options(target: Target, options: Mapping[str, Any], runtime: str) -> dict[str, Any]:
    """The runner options of the parity run named `runtime` (Target.parity_runs); the first run's
    when none is so named (a report written before the runs had names)."""
    runs = target.parity_runs(options)
    return dict(runs).get(runtime, runs[0][1])


def _convert(name: str, raw: Any, kind: type) -> Any:
    if kind is bool:
        if str(raw).lower() in {"1", "true", "yes", "on"}:
            return True
        if str(raw).lower() in {"0", "false", "no", "off"}:
            return False
    else:
        try:
            return kind(raw)
        except ValueError:
            pass
    raise BadInputError(f"--{name.replace('_', '-')} {raw!r}: expected a {kind.__name__}")


def plan(to: str, quantize: str | None) -> list[tuple[str, str]]:
    """(target, mode) pairs for `--to tflite,onnx|all` and `--quantize fp16,int8`.

    With `all`, a target simply skips the modes it does not have; a named target must have them.
    """
    every = to.strip() == "all"
    chosen = list(targets().values()) if every else [get_target(n.strip()) for n in to.split(",") if n.strip()]
    if not chosen:
        raise BadInputError("--to names no target — `tfport targets` lists them")
    modes = [m.strip() for m in quantize.split(",") if m.strip()] if quantize else None
    pairs = []
    for target in chosen:
        for mode in modes or [target.default_mode]:
            if every and mode not in target.quantization_modes:
                continue
            check_mode(target, mode)
            pairs.append((target.name, mode))
    if not pairs:
        raise BadInputError(f"no installed target has quantization mode(s) {quantize}")
    return pairs

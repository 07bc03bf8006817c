"""tfport's settings file: `[tool.tfport]` in pyproject.toml, or tfport.toml (which wins).

Sections: `tolerance` (tfport.parity.tolerance) and `golden` (input synthesis, read by the CLI).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfport.errors import BadInputError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


def read_section(name: str, config_file: Path | None = None, search_dir: Path | None = None) -> tuple[dict, str]:
    """(section `name` of the settings, the file it came from; "" when there is none)."""
    if config_file is None:
        base = search_dir or Path.cwd()
        config_file = next((c for c in (base / "tfport.toml", base / "pyproject.toml") if c.is_file()), None)
        if config_file is None:
            return {}, ""
    elif not config_file.is_file():
        raise BadInputError(f"config file not found: {config_file}")
    try:
        data: dict[str, Any] = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{config_file} is not valid TOML: {exc}") from None
    if config_file.name == "pyproject.toml":
        data = data.get("tool", {}).get("tfport", {})
    section = data.get(name, {})
    if not isinstance(section, dict):
        raise BadInputError(f"{config_file}: `{name}` must be a table")
    return section, str(config_file)

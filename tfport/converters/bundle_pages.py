"""What the TF.js and the LiteRT.js browser bundles share: TypeScript names for signature keys, and
tfport-driver.js, the part of each bundle's parity.html that answers `tfport parity --runtime
chromium` (binary frames over HTTP, tfport.targets.browser), with tfport-page-errors.js."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

DRIVER = Path(__file__).with_name("tfport-driver.js")
PAGE_ERRORS = Path(__file__).with_name("tfport-page-errors.js")  # a classic script: runs when modules fail


def type_names(keys: Iterable[str]) -> dict[str, str]:
    """A distinct TypeScript identifier per signature key: `serving_default` -> `ServingDefault`."""
    names: dict[str, str] = {}
    for key in keys:
        name = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", key) if part)
        name = name if name[:1].isalpha() else f"Signature{name}"
        names[key] = next(f"{name}{i or ''}" for i in range(len(names) + 1) if f"{name}{i or ''}" not in names.values())
    return names


def predict_overload(type_name: str, key: str, default: bool) -> str:
    """index.d.ts's `predict` for one signature; the default signature's key may be left out."""
    return (f"export declare function predict(inputs: {type_name}Inputs, signature{'?' if default else ''}: "
            f"{json.dumps(key)}): Promise<{type_name}Outputs>;")


def copy_driver(directory: Path) -> None:
    """The scripts every bundle page loads beside its own: the driver, and the load-error reporter."""
    for script in (DRIVER, PAGE_ERRORS):
        shutil.copy2(script, directory / script.name)

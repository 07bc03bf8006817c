"""What `tfport inspect` and `tfport release` show in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tfport.savedmodel.reader import SavedModelInfo, TensorSpec


def _shape(spec: TensorSpec) -> str:
    if spec.shape is None:
        return "unknown rank"
    return "[" + ", ".join("?" if d is None else str(d) for d in spec.shape) + "]"


def print_model(info: SavedModelInfo, console: Console) -> None:
    version = f" (version {info.version})" if info.version is not None else ""
    console.print(f"[bold]{info.name}[/]{version}  {info.path}")
    console.print(f"tags: {', '.join(info.tags)}")
    console.print(f"fingerprint: {info.fingerprint} (from {info.fingerprint_source})")
    console.print(f"variables: {len(info.variables)}, {info.variable_bytes:,} bytes")
    if info.assets:
        console.print("assets: " + ", ".join(f"{a.path} ({a.bytes:,} B)" for a in info.assets))
    table = Table(title="signatures", title_justify="left")
    for column in ("signature", "direction", "name", "dtype", "shape"):
        table.add_column(column)
    for key, signature in info.signatures.items():
        for direction, tensors in (("input", signature.inputs), ("output", signature.outputs)):
            for name, spec in tensors.items():
                table.add_row(Text(key), direction, Text(name), spec.dtype, _shape(spec))
    console.print(table)


def print_release(manifest: dict[str, Any], directory: Path, console: Console) -> None:
    table = Table(title=f"release — {directory}", title_justify="left")
    for column in ("artifact", "verdict", "size", "sha256", "runtime needs"):
        table.add_column(column, overflow="fold")
    for entry in manifest["artifacts"]:
        runtime = entry["runtime"]
        needs = [f"{runtime.get('name', '?')} ≥ {runtime.get('min_version') or '?'}", *runtime.get("needs", [])]
        verdict = "[green]pass[/]" if entry["verdict"] == "pass" else "[red]FAILED — released on request[/]"
        table.add_row(Text(entry["path"]), verdict, f"{entry['size_bytes']:,} B", entry["sha256"][:16],
                      Text("\n".join(needs)))
    console.print(table)
    for entry in manifest["excluded"]:
        console.print(f"[yellow]left out[/] {entry['target']}-{entry['quantization']}: {escape(entry['reason'])}",
                      highlight=False, soft_wrap=True)
    console.print(f"manifest: [bold]{directory / 'manifest.json'}[/] — check it later with `tfport verify {directory}`")

"""The package's layout is its architecture: floors whose imports go down, never up; the core
knows no target; the golden set and parity depend one way; no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "tfport"

# Each subpackage's floor, bottom up; modules directly in tfport/ (errors, logfile, plugin, atomic,
# digests, ...) are the ground floor. A module imports its own floor and the ones below.
FLOORS = {"savedmodel": 1, "golden": 2, "parity": 3, "reports": 4, "explain": 5, "pipeline": 6,
          "converters": 7, "targets": 7, "release": 8, "bench": 8, "cli": 9}
ENTRANCE = {"tfport", "tfport.__main__"}  # the package's own __init__ and `python -m tfport`


def _imports(path: Path, top_level_only: bool = False) -> set[str]:
    """Every tfport module `path` imports (function-level imports included unless top_level_only);
    imports under `if TYPE_CHECKING:` name types for annotations and load nothing: left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        if not top_level_only or isinstance(node, ast.If):
            pending.extend(ast.iter_child_nodes(node))
    return {name for name in found if name.startswith("tfport")}


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(under: Path = PACKAGE) -> dict[str, Path]:
    return {_module(path): path for path in sorted(under.rglob("*.py"))}


def _floor(module: str) -> int:
    parts = module.split(".")
    return FLOORS.get(parts[1], 0) if len(parts) > 1 else 0


def _climbs(modules: dict[str, Path]) -> dict[str, list[str]]:
    known = set(_modules())
    climbs = {}
    for name, path in modules.items():
        up = sorted(i for i in _imports(path) if i in known and _floor(i) > _floor(name))
        if up:
            climbs[name] = up
    return climbs


def test_imports_go_down_never_up():
    modules = {name: path for name, path in _modules().items() if name not in ENTRANCE}
    assert len(modules) > 100, "the walk found the package's modules"
    assert not _climbs(modules)


def test_the_floors_below_the_pipeline_never_import_it():
    """A fleet or a diff reuses these from outside the pipeline: they must not need it."""
    below = {name: path for floor in ("savedmodel", "golden", "parity", "reports", "explain")
             for name, path in _modules(PACKAGE / floor).items()}
    offending = {name: sorted(i for i in _imports(path) if i.startswith("tfport.pipeline"))
                 for name, path in below.items()}
    assert not {name: found for name, found in offending.items() if found}


def test_the_golden_set_and_parity_depend_one_way():
    """Parity reads the golden set; the golden set (its noise floor included) knows no parity."""
    golden = _modules(PACKAGE / "golden")
    assert not {name: sorted(i for i in _imports(path) if i.startswith("tfport.parity"))
                for name, path in golden.items() if any(i.startswith("tfport.parity") for i in _imports(path))}
    parity = _modules(PACKAGE / "parity")
    assert any(i.startswith("tfport.golden") for path in parity.values() for i in _imports(path))


def test_the_core_never_imports_a_target_or_converter():
    core = {name: path for name, path in _modules().items()
            if not name.startswith(("tfport.converters", "tfport.targets"))}
    offending = {name: sorted(i for i in _imports(path) if i.startswith(("tfport.converters", "tfport.targets")))
                 for name, path in core.items()}
    assert not {name: found for name, found in offending.items() if found}
    assert len(core) > 40, "the walk found the core's modules"


def test_converters_do_not_import_runtimes():
    converters = _modules(PACKAGE / "converters")
    offending = {name: sorted(i for i in _imports(path) if i.startswith("tfport.targets"))
                 for name, path in converters.items()}
    assert not {name: found for name, found in offending.items() if found}


def test_no_import_cycles_at_module_level():
    modules = _modules()
    graph = {name: {i for i in _imports(path, top_level_only=True) if i in modules and i != name}
             for name, path in modules.items()}

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        seen = set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return trail + [start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, trail + [nxt]))
        return None

    cycles = [c for c in (cycle_from(name) for name in graph) if c]
    assert not cycles, cycles[0]


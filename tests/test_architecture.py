"""Pins the architecture of design.md: the public API, the import rules, and the module size cap."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import steadyhand

SRC = Path(steadyhand.__file__).parent
MAX_LINES = 600  # soft cap ~500; a module past this must be split by concern

# (import prefix, the top-level packages allowed to import it)
FORBIDDEN = [
    ("fastapi", {"server"}),
    ("starlette", {"server"}),
    ("sqlalchemy", {"store"}),
    ("alembic", {"store"}),
    ("steadyhand.server", {"server", "cli"}),
    ("steadyhand.cli", {"cli", "__main__"}),  # `python -m steadyhand` is the CLI
]
# (import prefix, the top-level packages that must never import it): package cycles kept broken
NEVER = [
    ("steadyhand.tracing", {"store"}),  # both share the leaf module steadyhand.records instead
]
LEAF_MODULES = {"records.py": {"steadyhand.types"}, "_sched.py": set()}
"""Modules shared across packages, with the only steadyhand modules they may import (type hints)."""


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def _package_of(path: Path) -> str:
    parts = ("steadyhand", *path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1])


def _imports(source: str, package: str) -> set[str]:
    """Absolute names of everything imported, relative imports resolved against ``package``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                if node.module:
                    names.add(f"{base}.{node.module}")
                else:  # `from . import x` imports the submodule x
                    names.update(f"{base}.{a.name}" for a in node.names)
            elif node.module:
                names.add(node.module)
    return names


def _violations(path: Path) -> list[str]:
    top = path.relative_to(SRC).parts[0].removesuffix(".py")
    found = []
    for name in _imports(path.read_text(), _package_of(path)):
        for forbidden, allowed_in in FORBIDDEN:
            if (name == forbidden or name.startswith(forbidden + ".")) and top not in allowed_in:
                found.append(f"{path.relative_to(SRC)} imports {name}; only {sorted(allowed_in)} may")
        for forbidden, never_in in NEVER:
            if (name == forbidden or name.startswith(forbidden + ".")) and top in never_in:
                found.append(f"{path.relative_to(SRC)} imports {name}; {sorted(never_in)} must not")
    return found


def test_all_is_sorted_and_complete() -> None:
    assert steadyhand.__all__ == sorted(steadyhand.__all__)
    assert len(set(steadyhand.__all__)) == len(steadyhand.__all__)
    for name in steadyhand.__all__:
        assert getattr(steadyhand, name) is not None, name


def test_public_names_resolve_from_their_modules() -> None:
    """Each public class or function is the object its ``__module__`` defines under that name (no stale
    re-export, no alias that pickling or ``repr`` would get wrong)."""
    checked = 0
    for name in steadyhand.__all__:
        obj = getattr(steadyhand, name)
        if not isinstance(obj, type) and not callable(obj):
            continue  # constants carry no __module__
        module = importlib.import_module(obj.__module__)
        assert obj.__name__ == name, f"steadyhand.{name} is {obj.__module__}.{obj.__name__}"
        assert getattr(module, name, None) is obj, f"{obj.__module__}.{name} is not steadyhand.{name}"
        checked += 1
    assert checked >= len(steadyhand.__all__) // 2


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_import_rules(path: Path) -> None:
    assert _violations(path) == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_module_size_cap(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(SRC)} has {lines} lines; split it by concern"


@pytest.mark.parametrize("name", sorted(LEAF_MODULES))
def test_leaf_modules_import_no_steadyhand_package(name: str) -> None:
    path = SRC / name
    own = {n for n in _imports(path.read_text(), "steadyhand") if n.startswith("steadyhand")}
    assert own <= LEAF_MODULES[name], f"{name} is a leaf module: it imports {sorted(own)}"


def test_span_record_keeps_its_public_paths() -> None:
    from steadyhand import records, tracing
    from steadyhand.tracing import records as tracing_records

    assert tracing.SpanRecord is tracing_records.SpanRecord is records.SpanRecord
    assert tracing.CostUpdate is records.CostUpdate


def test_import_rules_catch_a_violation() -> None:
    imports = _imports("from ..store import models\nimport fastapi\n", "steadyhand.tracing")
    assert imports == {"steadyhand.store", "fastapi"}
    assert _imports("from . import sim\n", "steadyhand.cli") == {"steadyhand.cli.sim"}
    store_module = SRC / "store" / "_write.py"
    assert _violations(store_module) == []
    bad = store_module.with_name("_bad.py")
    try:
        bad.write_text("from ..tracing.records import SpanRecord\n")
        assert _violations(bad) == ["store/_bad.py imports steadyhand.tracing.records; ['store'] must not"]
    finally:
        bad.unlink()

"""The public API: one export list, names users see as ``steadyhand.X``, no package cycles."""

from __future__ import annotations

import ast
import pickle
import types
from pathlib import Path

import steadyhand
import steadyhand.providers

SRC = Path(steadyhand.__file__).parent


def test_the_export_list_is_exactly_what_the_package_defines() -> None:
    public = {
        name
        for name, value in vars(steadyhand).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }
    assert public == set(steadyhand.__all__)


def test_classes_are_shown_under_the_package_and_still_pickle() -> None:
    for name in steadyhand.__all__:
        obj = getattr(steadyhand, name)
        if isinstance(obj, type):
            assert obj.__module__ == "steadyhand", name
    assert repr(steadyhand.Config).endswith("'steadyhand.Config'>")
    config = steadyhand.Config(project="p")
    assert pickle.loads(pickle.dumps(config)) == config


def test_the_providers_facade_exports_what_it_lists() -> None:
    assert steadyhand.providers.__all__ == sorted(
        steadyhand.providers.__all__, key=lambda n: (n != n.upper(), n)
    )
    for name in steadyhand.providers.__all__:
        assert getattr(steadyhand.providers, name) is not None, name


def _internal_imports(package: str) -> set[str]:
    """Top-level steadyhand packages imported (at module level or lazily) by ``package``'s modules."""
    found: set[str] = set()
    for path in (SRC / package).rglob("*.py"):
        depth = len(path.relative_to(SRC).parts) - 1
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module is not None and node.level > depth:
                found.add(node.module.split(".")[0])
    return found


def test_no_package_cycle_between_providers_and_configuration() -> None:
    """``Timeouts`` lives in a leaf module, so the config no longer imports the providers package."""
    config_imports = {
        node.module
        for node in ast.walk(ast.parse((SRC / "_config.py").read_text()))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not any(m.startswith("providers") for m in config_imports)
    assert "sim" not in _internal_imports("providers")  # cassettes are a transport wrapper, not the simulator


def test_the_providers_facade_types_match_its_lazy_table() -> None:
    """The facade's TYPE_CHECKING imports (for type checkers) and its lazy table name the same things."""
    tree = ast.parse((SRC / "providers" / "__init__.py").read_text())
    typed = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.If)
        for inner in node.body
        if isinstance(inner, ast.ImportFrom)
        for alias in inner.names
    }
    assert typed == set(steadyhand.providers.__all__)

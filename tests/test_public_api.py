"""The public API: one export list, names users see as ``steadyhand.X``, no package cycles."""

from __future__ import annotations

import ast
import pickle
import types
from pathlib import Path

import pytest

import steadyhand
import steadyhand.policies
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


FACADES = [steadyhand.providers, steadyhand.policies]


@pytest.mark.parametrize("facade", FACADES, ids=lambda m: m.__name__)
def test_a_lazy_facade_exports_what_it_lists(facade: types.ModuleType) -> None:
    assert facade.__all__ == sorted(facade.__all__, key=lambda n: (n != n.upper(), n))
    for name in facade.__all__:
        assert getattr(facade, name) is not None, name
    assert set(facade.__all__) <= set(dir(facade))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = facade.nope
    # importing a submodule binds its name on the package, so a name shared with one would be shadowed
    submodules = {path.stem for path in (SRC / facade.__name__.split(".")[1]).glob("*.py")}
    assert not submodules & set(facade.__all__)


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


@pytest.mark.parametrize("facade", FACADES, ids=lambda m: m.__name__)
def test_a_lazy_facades_types_match_its_lazy_table(facade: types.ModuleType) -> None:
    """The facade's TYPE_CHECKING imports (for type checkers) and its lazy table name the same things."""
    tree = ast.parse((SRC / facade.__name__.split(".")[1] / "__init__.py").read_text())
    typed = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.If)
        for inner in node.body
        if isinstance(inner, ast.ImportFrom)
        for alias in inner.names
    }
    assert typed == set(facade.__all__)

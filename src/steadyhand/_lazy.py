"""Package facades that load a name's module when it is first asked for.

A facade lists each public name once, under the submodule that defines it; type checkers read the same
names from the package's ``TYPE_CHECKING`` imports, and a test keeps the two in step. This is how
``steadyhand.providers`` keeps httpx and the wire formats, and ``steadyhand.policies`` keeps the policy
modules, out of ``import steadyhand``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_facade"]


def lazy_facade(
    package: str, namespace: dict[str, Any], home: Mapping[str, tuple[str, ...]]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for ``package``, whose names live in ``home``'s modules.

    Constants (upper-case names) sort first in ``__all__``, then the rest alphabetically.
    """
    module_of = {name: module for module, names in home.items() for name in names}
    exported = sorted(module_of, key=lambda name: (name != name.upper(), name))

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted([*namespace, *exported])

    return exported, __getattr__, __dir__

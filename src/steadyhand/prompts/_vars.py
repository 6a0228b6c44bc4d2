"""Declared variables: a small type language and the checks rendering runs before any template.

Types are ``str``, ``int``, ``float``, ``bool``, ``list``, ``dict``, ``any`` and ``list[T]`` of any of
them. Checks are strict, because a prompt's input is usually a value the app computed and a wrong type
is a bug to surface, not to paper over: ``"3"`` is not an ``int``, ``True`` is not an ``int`` either,
an ``int`` is a ``float``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import PromptError, PromptRenderError

__all__ = ["RESERVED", "SCALARS", "Variable", "bind", "check_type"]

SCALARS = ("str", "int", "float", "bool", "list", "dict", "any")
RESERVED = frozenset({"examples", "variables", "timeout", "tags", "traffic"})
"""Names a variable cannot take: ``examples`` is every template's few-shot data, the others are the
keyword options of ``client.run``."""
_LIST = re.compile(r"^list\[(\w+)\]$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MISSING: Any = object()


class Variable:
    """One declared input of a prompt: its type, its default (if any) and what it is for."""

    __slots__ = ("default", "description", "name", "type")

    def __init__(self, name: str, type: str = "str", default: Any = _MISSING, description: str = "") -> None:
        self.name = name
        self.type = type
        self.default = default
        self.description = description

    def __repr__(self) -> str:
        default = "" if self.required else f", default={self.default!r}"
        return f"Variable({self.name!r}, {self.type!r}{default})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Variable) and (self.name, self.type, self.default, self.description) == (
            other.name, other.type, other.default, other.description,
        )  # fmt: skip

    def __hash__(self) -> int:
        return hash((self.name, self.type, self.description))

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    def behaviour(self) -> dict[str, Any]:
        """What the version hashes: the type and the default (a description changes nothing)."""
        out: dict[str, Any] = {"type": self.type}
        if not self.required:
            out["default"] = self.default
        return out

    def to_data(self) -> dict[str, Any]:
        out = self.behaviour()
        if self.description:
            out["description"] = self.description
        return out


def parse_variable(name: str, spec: Any, *, prompt: str) -> Variable:
    """``"str"`` or ``{type = "str", default = "...", optional = true, description = "..."}``."""
    if not _NAME.match(name):
        raise PromptError(
            f"prompt {prompt!r}: variable name {name!r} is not an identifier; use letters, digits and _",
            prompt=prompt,
        )
    if name in RESERVED:
        raise PromptError(
            f"prompt {prompt!r}: {name!r} is a reserved name ({', '.join(sorted(RESERVED))}); rename the "
            "variable",
            prompt=prompt,
        )
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, Mapping):
        raise PromptError(
            f'prompt {prompt!r}: variables.{name} must be a type ("str") or a table '
            '({ type = "str", default = "..." })',
            prompt=prompt,
        )
    unknown = sorted(set(spec) - {"type", "default", "optional", "description"})
    if unknown:
        raise PromptError(
            f"prompt {prompt!r}: variables.{name} has unknown key(s) {unknown}; use type, default, "
            "optional, description",
            prompt=prompt,
        )
    kind = str(spec.get("type", "str"))
    _check_type_name(kind, name, prompt)
    default = spec.get("default", _MISSING)
    if spec.get("optional") is True and default is _MISSING:
        default = None
    if default is not _MISSING and default is not None and not check_type(default, kind):
        raise PromptError(
            f"prompt {prompt!r}: the default of {name!r} is {_describe(default)}, not {kind}; fix the "
            "default or the type",
            prompt=prompt,
        )
    return Variable(name, kind, default, str(spec.get("description", "")))


def _check_type_name(kind: str, name: str, prompt: str) -> None:
    match = _LIST.match(kind)
    inner = match.group(1) if match else kind
    if inner not in SCALARS:
        raise PromptError(
            f"prompt {prompt!r}: variable {name!r} has unknown type {kind!r}; use one of "
            f"{', '.join(SCALARS)} or list[T]",
            prompt=prompt,
        )


def check_type(value: Any, kind: str) -> bool:
    """Whether ``value`` is a ``kind`` (strictly: no coercion)."""
    match = _LIST.match(kind)
    if match:
        return isinstance(value, list | tuple) and all(check_type(v, match.group(1)) for v in value)
    if kind == "any":
        return True
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    if kind == "list":
        return isinstance(value, list | tuple)
    return isinstance(value, Mapping)  # dict


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:39] + '…'}"


def bind(prompt: str, declared: Mapping[str, Variable], given: Mapping[str, Any]) -> dict[str, Any]:
    """The values to render with: every given one checked, defaults filled; raises naming the fix."""
    for name in given:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise PromptRenderError(
                f"prompt {prompt!r} does not declare a variable {name!r} (declared: {known}); remove it or "
                f'declare it under [variables], e.g. {name} = "str"',
                prompt=prompt,
                variable=name,
            )
    values: dict[str, Any] = {}
    for name, var in declared.items():
        if name in given:
            value = given[name]
            if not (value is None and var.default is None and not var.required) and not check_type(
                value, var.type
            ):
                raise PromptRenderError(
                    f"prompt {prompt!r}: variable {name!r} must be {var.type}, got {_describe(value)}; "
                    "pass the right type (steadyhand does not convert)",
                    prompt=prompt,
                    variable=name,
                )
            values[name] = value
        elif var.required:
            raise PromptRenderError(
                f"prompt {prompt!r} needs the variable {name!r} ({var.type}); pass {name}=... "
                "(or give it a default in the prompt file)",
                prompt=prompt,
                variable=name,
            )
        else:
            values[name] = var.default
    return values

"""What a structured answer must be: a pydantic model (or any type pydantic validates), a JSON Schema
dict, or ``None`` for any JSON value. One :class:`Shape` gives the JSON Schema and the check for all.

Pydantic validates in strict JSON mode, so nothing is coerced behind the log's back: a number in a
string is turned into a number by the coercion step (and logged), not silently by pydantic's lax mode.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from ._validator import resolve, validate

__all__ = ["Shape", "shape_of"]

_UNSET: Any = object()


class Shape:
    """A compiled schema: ``json_schema`` (None: any JSON), ``name``, and :meth:`check`."""

    __slots__ = ("adapter", "json_schema", "name", "strict", "top_type")

    def __init__(self, json_schema: Mapping[str, Any] | None, adapter: Any, name: str) -> None:
        self.json_schema = json_schema
        self.adapter = adapter
        self.name = name
        self.top_type: str | None = None
        self.strict: Any = _UNSET
        """The schema under OpenAI's strict-mode rules (computed once: see modes.strict_schema)."""
        if json_schema is not None:
            top = resolve(json_schema, json_schema)
            kind = top.get("type") if isinstance(top, Mapping) else None
            self.top_type = kind if isinstance(kind, str) else None

    def check(self, value: Any) -> tuple[Any, list[str]]:
        """(the validated value, errors): a model instance for pydantic targets, else ``value``."""
        if self.adapter is not None:
            from pydantic import ValidationError

            try:
                return self.adapter.validate_json(json.dumps(value), strict=True), []
            except ValidationError as exc:
                return None, _pydantic_errors(exc)
            except (TypeError, ValueError) as exc:  # NaN and the like
                return None, [f"(root): {exc}"]
        if self.json_schema is None:
            return value, []
        return value, validate(value, self.json_schema)

    def check_text(self, text: str) -> tuple[bool, Any]:
        """The fast path for a pydantic target: validate the raw text in one go (``(False, None)``
        when it is not valid JSON or not valid, so the pipeline takes over)."""
        from pydantic import ValidationError

        try:
            return True, self.adapter.validate_json(text, strict=True)
        except ValidationError:
            return False, None


_ANY = Shape(None, None, "response")


def _pydantic_errors(exc: Any) -> list[str]:
    out = []
    for err in exc.errors(include_url=False)[:20]:
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        given = err.get("input")
        shown = json.dumps(given, default=str, ensure_ascii=False)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        out.append(f"{where}: {err['msg']}" + ("" if err["type"] == "missing" else f" (got {shown})"))
    return out


def shape_of(schema: Any) -> Shape:
    """Compile ``schema``: ``None``, a JSON Schema dict, or a type (pydantic model, ``list[X]``...)."""
    if schema is None:
        return _ANY
    if isinstance(schema, Shape):
        return schema
    if isinstance(schema, Mapping):
        name = str(schema.get("title") or "response")
        return Shape(schema, None, _safe_name(name))
    try:
        return _typed(schema)
    except TypeError:  # unhashable annotation: compile it afresh
        return _typed.__wrapped__(schema)


@functools.lru_cache(maxsize=256)
def _typed(schema: Any) -> Shape:
    from pydantic import TypeAdapter

    from ..errors import ConfigurationError

    try:
        adapter: Any = TypeAdapter(schema)
        json_schema = adapter.json_schema()
    except Exception as exc:
        raise ConfigurationError(
            f"schema {schema!r} is not a type pydantic can validate and describe as JSON Schema ({exc}); "
            "pass a pydantic model, a type such as list[int], or a JSON Schema dict"
        ) from exc
    name = getattr(schema, "__name__", None) or str(json_schema.get("title") or "response")
    return Shape(json_schema, adapter, _safe_name(name))


def _safe_name(name: str) -> str:
    """OpenAI and Anthropic want ``^[a-zA-Z0-9_-]{1,64}$`` for schema and tool names."""
    cleaned = "".join(c if c.isalnum() or c in "_-" else "_" for c in name)[:64]
    return cleaned or "response"

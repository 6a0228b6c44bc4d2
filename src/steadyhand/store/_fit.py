"""Make any span storable: the database must never refuse a record for what it contains.

PostgreSQL refuses NUL characters (in text and in JSON) and strings longer than a ``varchar`` column,
and neither engine's driver can encode a lone surrogate: one such value used to fail its whole batch
on every retry. Here NUL becomes ``NUL_MARK``, a lone surrogate U+FFFD, and a value longer than its
column is cut with ``TRUNCATED`` plus a digest of the whole value (so two long ids stay distinct and a
replayed span still finds its first copy). Free text (names, error types, finish reasons) lives in
``text`` columns and is never cut; a tag keeps its whole value in ``spans.tags`` and is cut only in
the ``span_tags`` index, where filters cut their value the same way.

The common case costs a length and a NUL check per string column (``fit_level``); ``fit`` copies.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from ..records import SpanRecord
from .models import span_tags, spans

__all__ = [
    "NUL_MARK",
    "TAG_KEY_MAX",
    "TAG_VALUE_MAX",
    "TRUNCATED",
    "WRAPPED",
    "clean",
    "clean_text",
    "cut",
    "fit",
    "fit_level",
    "tag_key",
    "tag_value",
    "text_ok",
]

NUL_MARK = "\u2400"
"""What a NUL character is stored as (SYMBOL FOR NULL: visible, and never a NUL)."""
TRUNCATED = "…[cut]"
"""Ends a value cut to fit its column (before it: 8 hex digits of the whole value's SHA-256)."""
_DIGEST = 8

_STR_COLUMNS: tuple[str, ...] = tuple(c.name for c in spans.columns if isinstance(c.type, sa.String))
_LIMIT: dict[str, int] = {
    c.name: c.type.length
    for c in spans.columns
    if isinstance(c.type, sa.String) and c.type.length is not None
}
"""Max length of every bounded string column of ``spans``."""


def _length(column: sa.ColumnElement[Any]) -> int:
    assert isinstance(column.type, sa.String) and column.type.length is not None
    return column.type.length


TAG_KEY_MAX = _length(span_tags.c.key)
TAG_VALUE_MAX = _length(span_tags.c.value)
_JSON_FIELDS = ("attributes", "tags", "request", "response", "usage_raw")
_OBJECTS = ("attributes", "request", "response", "usage_raw")
"""JSON fields that must hold an object: anything else is kept under ``WRAPPED`` (readers expect dicts)."""
WRAPPED = "$value"


def cut(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its head, a digest and ``TRUNCATED``."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST]
    return text[: limit - _DIGEST - len(TRUNCATED)] + digest + TRUNCATED


def _text_ok(text: str) -> bool:
    return "\x00" not in text and (text.isascii() or _encodes(text))


def clean_text(text: str) -> str:
    """NUL marked, lone surrogates replaced: text every driver can send and every engine can keep."""
    if _text_ok(text):
        return text
    if not text.isascii():
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text.replace("\x00", NUL_MARK)


def clean(value: Any) -> Any:
    """A JSON value with every string (keys too) passed through ``clean_text``."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean(k) if isinstance(k, str) else k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def _fast_level_source() -> str:
    """``fit_level``'s code: every column read and checked inline (see the docstring)."""
    lines = ["def fit_level(s):", "    level = 0", "    texts = []", "    add = texts.append"]
    for name in _STR_COLUMNS:
        lines += [
            f"    v = s.{name}",
            "    if v is not None:",
            "        if type(v) is not str:",
            "            return _fit_level(s)",
            "        add(v)",
        ]
        if name in _LIMIT:
            lines.append(f"        if len(v) > {_LIMIT[name]}:\n            level = 1")
    lines += [
        '    text = "".join(texts)',
        '    if "\\x00" in text or not (text.isascii() or _encodes(text)):',
        "        return 2",
    ]
    for name in _OBJECTS:
        lines.append(f"    if s.{name} is not None and type(s.{name}) is not dict:\n        level = 1")
    lines += [
        "    tags = s.tags",
        "    if type(tags) is not dict:",
        "        return 1",
        "    for k, v in tags.items():",
        "        if type(k) is not str or type(v) is not str:",
        "            return 1",
        "    return level",
    ]
    return "\n".join(lines) + "\n"


def _make_fit_level() -> Callable[[SpanRecord], int]:
    namespace: dict[str, Any] = {"_fit_level": _fit_level, "_encodes": _encodes}
    exec(_fast_level_source(), namespace)
    fast: Callable[[SpanRecord], int] = namespace["fit_level"]
    return fast


def _fit_level(s: SpanRecord) -> int:
    """``fit_level`` column by column: any value of any type."""
    level = 0
    for name in _STR_COLUMNS:
        value = getattr(s, name)
        if value is None:
            continue
        if value.__class__ is not str:
            level = 1
            continue
        if "\x00" in value or not (value.isascii() or _encodes(value)):
            return 2
        if len(value) > _LIMIT.get(name, len(value)):
            level = 1
    for name in _OBJECTS:
        value = getattr(s, name)
        if value is not None and value.__class__ is not dict:
            level = max(level, 1)
    tags = s.tags
    if tags.__class__ is not dict:
        return max(level, 1)
    for k, v in tags.items():
        if k.__class__ is not str or v.__class__ is not str:
            return max(level, 1)
    return level


def _encodes(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


fit_level = _make_fit_level()
"""0: store as is; 1: a value must be cut or made a string (``fit``); 2: text must be cleaned
too (``fit(deep=True)``). JSON fields are checked where they are encoded (see ``_write``).

It runs for every span the writer stores, so it is generated code (``_fast_level_source``): a
literal attribute read and ``type(v) is str`` cost a fraction of ``getattr`` and ``__class__``; the
texts are checked for NUL and encoding in one concatenation (a lone surrogate stays one when
joined). A value that is not a ``str`` sends the span through the column by column ``_fit_level``."""


def fit(s: SpanRecord, *, deep: bool) -> SpanRecord:
    """A copy of ``s`` that every engine stores; ``deep`` also cleans text and JSON (NUL, surrogates)."""
    changes: dict[str, Any] = {}
    for name in _STR_COLUMNS:
        value = getattr(s, name)
        if value is None:
            continue
        text = value if value.__class__ is str else str(value)
        if deep:
            text = clean_text(text)
        limit = _LIMIT.get(name)
        if limit is not None:
            text = cut(text, limit)
        if text is not value:
            changes[name] = text
    tags = s.tags if isinstance(s.tags, dict) else {}
    changes["tags"] = {str(k): str(v) for k, v in tags.items()}
    for name in _OBJECTS:
        value = getattr(s, name)
        if value is not None and not isinstance(value, dict):
            changes[name] = {WRAPPED: value}
    if deep:
        for name in _JSON_FIELDS:
            changes[name] = clean(changes.get(name, getattr(s, name)))
    return dataclasses.replace(s, **changes)


def text_ok(text: str) -> bool:
    """Whether ``clean_text`` would leave ``text`` as it is."""
    return _text_ok(text)


def tag_key(key: str) -> str:
    """A tag key as the ``span_tags`` index holds it (filters look it up the same way)."""
    return cut(clean_text(key), TAG_KEY_MAX)


def tag_value(value: str) -> str:
    """A tag value as the ``span_tags`` index holds it (the span keeps the whole value)."""
    return cut(clean_text(value), TAG_VALUE_MAX)

"""SpanRecord <-> one JSON line: the spool's format, and what the store and exporters get back on replay."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from .records import SpanRecord

__all__ = ["FIELDS", "span_from_json", "span_to_dict", "span_to_line"]

FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(SpanRecord))
_FIELD_SET = frozenset(FIELDS)
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


def span_to_dict(span: SpanRecord) -> dict[str, Any]:
    """Every field, ``None`` values left out (they are the defaults, and the spool stays small)."""
    return {name: value for name in FIELDS if (value := getattr(span, name)) is not None}


def span_to_line(span: SpanRecord) -> bytes:
    """One newline-terminated UTF-8 JSON line; JSON escapes newlines, so a line is a record."""
    return (_encode(span_to_dict(span)) + "\n").encode()


def span_from_json(line: bytes | str) -> SpanRecord:
    """Parse a spool line; unknown keys (written by a newer version) are ignored."""
    data = json.loads(line)
    if not isinstance(data, dict) or "name" not in data:
        raise ValueError("not a span record")
    return SpanRecord(**{k: v for k, v in data.items() if k in _FIELD_SET})

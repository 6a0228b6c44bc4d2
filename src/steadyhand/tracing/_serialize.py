"""SpanRecord <-> one JSON line: the spool's format, and what the store and exporters get back on replay."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from .records import SpanRecord

if TYPE_CHECKING:
    from .redaction import Redactor

__all__ = ["FIELDS", "redacted_line", "span_from_json", "span_to_dict", "span_to_line"]

FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(SpanRecord))
_FIELD_SET = frozenset(FIELDS)
_REDACTED = ("request", "response", "error_message", "attributes")
"""The fields a Redactor scans; serialized last and on their own, so the pre-check sees only them."""
_PLAIN = tuple(f for f in FIELDS if f not in _REDACTED)
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


def span_to_dict(span: SpanRecord) -> dict[str, Any]:
    """Every field, ``None`` values left out (they are the defaults, and the spool stays small)."""
    return {name: value for name in FIELDS if (value := getattr(span, name)) is not None}


def span_to_line(span: SpanRecord) -> bytes:
    """One newline-terminated UTF-8 JSON line; JSON escapes newlines, so a line is a record."""
    return (_encode(span_to_dict(span)) + "\n").encode()


def redacted_line(span: SpanRecord, redactor: Redactor | None) -> bytes:
    """``span_to_line`` after ``redactor.apply(span)``, without walking the span when nothing can match.

    The redactable fields are encoded on their own first; only when ``redactor.may_find`` says that
    text could hold a finding is the span redacted in place (exactly) and those fields encoded again.
    """
    head = _encode({name: value for name in _PLAIN if (value := getattr(span, name)) is not None})
    body = {name: value for name in _REDACTED if (value := getattr(span, name)) is not None}
    text = _encode(body) if body else ""
    if redactor is not None and text and redactor.may_find(text):
        redactor.apply(span)
        body = {name: value for name in _REDACTED if (value := getattr(span, name)) is not None}
        text = _encode(body) if body else ""
    if not text or text == "{}":
        return (head + "\n").encode()
    return (head[:-1] + "," + text[1:] + "\n").encode()


def span_from_json(line: bytes | str) -> SpanRecord:
    """Parse a spool line; unknown keys (written by a newer version) are ignored."""
    data = json.loads(line)
    if not isinstance(data, dict) or "name" not in data:
        raise ValueError("not a span record")
    return SpanRecord(**{k: v for k, v in data.items() if k in _FIELD_SET})

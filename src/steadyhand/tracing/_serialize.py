"""SpanRecord <-> one JSON line: the spool's format, and what the store and exporters get back on replay.

Lines are encoded with ``orjson`` (about 15x faster than ``json`` on a span: this runs inside
``record()``); what it refuses (integers past 64 bits, nesting past 254 levels) goes through ``json``.
Both write strict JSON except that ``orjson`` writes NaN and infinities as ``null``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

import orjson

from .records import SpanRecord

if TYPE_CHECKING:
    from .redaction import Redactor

__all__ = ["FIELDS", "encode", "redacted_line", "span_from_json", "span_to_dict", "span_to_line"]

FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(SpanRecord))
_FIELD_SET = frozenset(FIELDS)
_REDACTED = (
    "name", "project", "error_type", "error_message", "model_alias", "provider", "model", "response_model",
    "prompt_version", "finish_reason", "request", "response", "usage_raw", "attributes", "tags",
)  # fmt: skip
"""The fields a Redactor scans (every stored text; not ids, times or counts); serialized last and on
their own, so the pre-check sees only them."""
_PLAIN = tuple(f for f in FIELDS if f not in _REDACTED)
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
"""Keys and unknown types as ``json.dumps(default=str)`` writes them."""
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


def encode(value: Any) -> bytes:
    """Compact UTF-8 JSON; anything JSON cannot hold is written as ``str(value)``."""
    try:
        return orjson.dumps(value, default=str, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return _json(value).encode()


def span_to_dict(span: SpanRecord) -> dict[str, Any]:
    """Every field, ``None`` values left out (they are the defaults, and the spool stays small)."""
    return {name: value for name in FIELDS if (value := getattr(span, name)) is not None}


def span_to_line(span: SpanRecord) -> bytes:
    """One newline-terminated UTF-8 JSON line; JSON escapes newlines, so a line is a record."""
    return encode(span_to_dict(span)) + b"\n"


def redacted_line(span: SpanRecord, redactor: Redactor | None) -> bytes:
    """``span_to_line`` after ``redactor.apply(span)``, without walking the span when nothing can match.

    The redactable fields are encoded on their own first; only when ``redactor.may_find`` says that
    text could hold a finding is the span redacted in place (exactly) and those fields encoded again.
    """
    head = encode({name: value for name in _PLAIN if (value := getattr(span, name)) is not None})
    body = encode({name: value for name in _REDACTED if (value := getattr(span, name)) is not None})
    if redactor is not None and body != b"{}" and redactor.may_find(body):
        redactor.apply(span)
        body = encode({name: value for name in _REDACTED if (value := getattr(span, name)) is not None})
    if body == b"{}":
        return head + b"\n"
    return b"".join((head[:-1], b",", body[1:], b"\n"))


def span_from_json(line: bytes | str) -> SpanRecord:
    """Parse a spool line; unknown keys (written by a newer version) are ignored."""
    data = json.loads(line)  # not orjson: it rejects the NaN that lines written by json may hold
    if not isinstance(data, dict) or "name" not in data:
        raise ValueError("not a span record")
    return SpanRecord(**{k: v for k, v in data.items() if k in _FIELD_SET})

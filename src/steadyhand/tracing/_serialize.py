"""SpanRecord <-> one JSON line: the spool's format, and what the store and exporters get back on replay.

Lines are encoded with ``orjson`` (about 15x faster than ``json`` on a span: this runs inside
``record()``); what it refuses (integers past 64 bits, nesting past 254 levels) goes through ``json``.
Both write strict JSON except that ``orjson`` writes NaN and infinities as ``null``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
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
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
"""Unknown types as ``json.dumps(default=str)`` writes them."""
_NON_STR_KEYS = _OPTIONS | orjson.OPT_NON_STR_KEYS
"""Keys that are not strings too: orjson's slower path for every dict (a third more time on a span),
so it is tried only for a value the first attempt refused."""
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode
_json_ascii = json.JSONEncoder(separators=(",", ":"), default=str).encode
"""For text UTF-8 cannot hold (a lone surrogate): escaped, so the span is kept as it was."""


def encode(value: Any) -> bytes:
    """Compact UTF-8 JSON; anything JSON cannot hold is written as ``str(value)``."""
    try:
        return orjson.dumps(value, default=str, option=_OPTIONS)
    except orjson.JSONEncodeError:
        pass
    try:
        return orjson.dumps(value, default=str, option=_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        try:
            return _json(value).encode()
        except UnicodeEncodeError:
            return _json_ascii(value).encode()


def _dict_builder(names: tuple[str, ...]) -> Callable[[SpanRecord], dict[str, Any]]:
    """``{name: getattr(span, name) for name in names}`` leaving ``None`` values out, as generated
    code: a literal ``span.name`` costs this interpreter a tenth of ``getattr`` (``record()`` reads
    every field of three spans per gateway request)."""
    assert all(name.isidentifier() for name in names)
    lines = ["def build(span):", "    d = {}"]
    for name in names:
        lines += [f"    v = span.{name}", "    if v is not None:", f"        d[{name!r}] = v"]
    namespace: dict[str, Any] = {}
    exec("\n".join([*lines, "    return d\n"]), namespace)
    build: Callable[[SpanRecord], dict[str, Any]] = namespace["build"]
    return build


_all_fields = _dict_builder(FIELDS)
_plain_fields = _dict_builder(_PLAIN)
_redacted_fields = _dict_builder(_REDACTED)


def span_to_dict(span: SpanRecord) -> dict[str, Any]:
    """Every field, ``None`` values left out (they are the defaults, and the spool stays small)."""
    return _all_fields(span)


def span_to_line(span: SpanRecord) -> bytes:
    """One newline-terminated UTF-8 JSON line; JSON escapes newlines, so a line is a record."""
    return encode(span_to_dict(span)) + b"\n"


def redacted_line(span: SpanRecord, redactor: Redactor | None) -> bytes:
    """``span_to_line`` after ``redactor.apply(span)``, without walking the span when nothing can match.

    The redactable fields are encoded on their own first; only when ``redactor.may_find`` says that
    text could hold a finding is the span redacted in place (exactly) and those fields encoded again.
    """
    head = encode(_plain_fields(span))
    body = encode(_redacted_fields(span))
    if redactor is not None and body != b"{}" and redactor.may_find(body):
        redactor.apply(span)
        body = encode(_redacted_fields(span))
    if body == b"{}":
        return head + b"\n"
    return b"".join((head[:-1], b",", body[1:], b"\n"))


_NONE: type = type(None)
_STR: frozenset[type] = frozenset({str})
_OPT_STR: frozenset[type] = frozenset({str, _NONE})
_NUM: frozenset[type] = frozenset({int, float})
_OPT_NUM: frozenset[type] = frozenset({int, float, _NONE})
_OPT_DICT: frozenset[type] = frozenset({dict, _NONE})
_SHAPES: dict[str, frozenset[type]] = {
    "name": _STR,
    "kind": _STR,
    "trace_id": _STR,
    "span_id": _STR,
    "parent_id": _OPT_STR,
    "project": _STR,
    "start_time": _NUM,
    "end_time": _OPT_NUM,
    "first_token_time": _OPT_NUM,
    "status": _STR,
    "error_type": _OPT_STR,
    "error_message": _OPT_STR,
    "attributes": frozenset[type]({dict}),
    "tags": frozenset[type]({dict}),
    "model_alias": _OPT_STR,
    "provider": _OPT_STR,
    "model": _OPT_STR,
    "response_model": _OPT_STR,
    "prompt_version": _OPT_STR,
    "request": _OPT_DICT,
    "response": _OPT_DICT,
    "finish_reason": _OPT_STR,
    "input_tokens": _OPT_NUM,
    "output_tokens": _OPT_NUM,
    "cached_input_tokens": _OPT_NUM,
    "cache_write_tokens": _OPT_NUM,
    "reasoning_tokens": _OPT_NUM,
    "usage_estimated": frozenset[type]({bool}),
    "usage_raw": _OPT_DICT,
    "cost_usd": _OPT_NUM,
    "price_version": _OPT_STR,
}
"""The exact JSON types each field's value may have (a parsed line holds only builtin types)."""
assert set(_SHAPES) == _FIELD_SET, "every SpanRecord field needs a shape"


def span_from_json(line: bytes | str) -> SpanRecord:
    """Parse a spool line, checking every field's type; unknown keys (a newer version's) are ignored.

    Raises ``ValueError`` naming the field, so a line of the wrong shape is put aside on replay
    instead of failing every batch it is read into. ``orjson`` parses (about 3x faster: the writer
    process parses every span); a line it refuses (NaN written by ``json``) goes through ``json``.
    """
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        data = json.loads(line)
    if type(data) is not dict or "name" not in data:
        raise ValueError("not a span record")
    fields: dict[str, Any] = (
        data if data.keys() <= _FIELD_SET else {k: v for k, v in data.items() if k in _FIELD_SET}
    )
    shapes = _SHAPES
    for key, value in fields.items():
        if type(value) not in shapes[key]:
            raise ValueError(f"span field {key!r} is a {type(value).__name__}, not {_names(shapes[key])}")
    tags = fields.get("tags")
    if tags:
        for v in tags.values():
            if type(v) is not str:
                raise ValueError("span field 'tags' must map strings to strings")
    return SpanRecord(**fields)


def _names(shape: frozenset[type]) -> str:
    return " or ".join(sorted("null" if t is _NONE else t.__name__ for t in shape))

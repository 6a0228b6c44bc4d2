"""One cache entry: the answer, who produced it, when it goes stale, and its chunks when it was streamed.

Stored as compact JSON bytes (``orjson``), so any byte store can hold it and another process can
read it. ``answered_by`` tags the ``provider:model`` that produced the answer: a fallback's answer
is stored under the request, and replayed saying that the fallback produced it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from ..types import Chunk, ModelResponse, ToolCallDelta
from .cache_keys import fields_of

__all__ = ["Entry", "decode", "encode", "encode_answer", "response_chunks"]

_NOT_STORED = frozenset(name for name, field in ModelResponse.model_fields.items() if field.exclude)
"""``route`` and ``degraded``: what the policies decided for one call, not part of the answer."""


@dataclass(frozen=True, slots=True)
class Entry:
    """A stored answer; ``fresh_until`` is unix time (entries outlive it only to serve degraded mode)."""

    response: ModelResponse
    answered_by: str
    stored_at: float
    fresh_until: float
    chunks: tuple[Chunk, ...] | None = None
    """The chunks as they were streamed (replayed as they came); ``None`` for a complete answer."""

    def fresh(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) < self.fresh_until


def encode(entry: Entry) -> bytes:
    """The entry as JSON (see :func:`encode_answer`)."""
    return encode_answer(entry.response, entry.answered_by, entry.stored_at, entry.fresh_until, entry.chunks)


def encode_answer(
    response: ModelResponse,
    answered_by: str,
    stored_at: float,
    fresh_until: float,
    chunks: Sequence[Chunk] | None = None,
) -> bytes:
    """An entry's JSON from its parts, without building the :class:`Entry` (every cache miss stores
    one). orjson writes the response's fields as they are (nested models through
    :func:`~steadyhand.policies.cache_keys.fields_of`; the fields a dump leaves out, its route and
    degraded flag, dropped): ``model_dump`` costs several times more."""
    fields = response.__dict__.copy()
    for name in _NOT_STORED:
        fields.pop(name, None)
    body = {
        "answered_by": answered_by,
        "stored_at": stored_at,
        "fresh_until": fresh_until,
        "response": fields,
        "chunks": None
        if chunks is None
        else [c.model_dump(mode="json", exclude_none=True, exclude_defaults=True) for c in chunks],
    }
    return orjson.dumps(body, default=fields_of)


def decode(data: bytes | None) -> Entry | None:
    """The entry in ``data``; ``None`` for nothing or for bytes that are not an entry (a miss)."""
    if data is None:
        return None
    try:
        body = orjson.loads(data)
        chunks = body.get("chunks")
        return Entry(
            response=ModelResponse.model_validate(body["response"]),
            answered_by=str(body["answered_by"]),
            stored_at=float(body["stored_at"]),
            fresh_until=float(body["fresh_until"]),
            chunks=None if chunks is None else tuple(Chunk.model_validate(c) for c in chunks),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def response_chunks(response: ModelResponse) -> Sequence[Chunk]:
    """A complete answer as a stream: per choice its text, its tool calls, its finish; then usage."""
    out: list[Chunk] = []
    rid, model = response.id or None, response.model
    for choice in response.choices:
        text = choice.message.text
        if text:
            out.append(Chunk(index=choice.index, text=text, id=rid, model=model))
        if choice.message.tool_calls:
            deltas = [
                ToolCallDelta(index=i, id=c.id, name=c.name, arguments=c.arguments)
                for i, c in enumerate(choice.message.tool_calls)
            ]
            out.append(Chunk(index=choice.index, tool_calls=deltas, id=rid, model=model))
        out.append(
            Chunk(
                index=choice.index,
                finish_reason=choice.finish_reason,
                raw_finish_reason=choice.raw_finish_reason,
                id=rid,
                model=model,
            )
        )
    out.append(Chunk(usage=response.usage, id=rid, model=model))
    return out

"""Inbound Anthropic codec, response side: ``ModelResponse``/``Chunk`` to a Messages body and its events.

The stream is Anthropic's full sequence: ``message_start`` (and a ``ping``), then per content block
``content_block_start``, its deltas and ``content_block_stop``, then ``message_delta`` with the stop
reason and cumulative output tokens, then ``message_stop``. Usage is converted to Anthropic's
convention, where ``input_tokens`` excludes cache reads and writes.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigurationError, InvalidRequest, UnexpectedProviderResponse
from ..types import Chunk, FinishReason, ModelResponse, ToolCall, Usage
from ._common import json_bytes, loads

__all__ = [
    "MessageStreamEncoder",
    "error_body",
    "invalid_request_body",
    "message",
    "message_usage",
    "sse_event",
    "stop_reason",
]

Event = tuple[str, dict[str, Any]]
_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "refusal": "refusal",
    "content_filter": "refusal",
    "pause": "pause_turn",
}
_WORDS = frozenset({"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"})


def stop_reason(reason: FinishReason | None, raw: str | None = None) -> str | None:
    """Anthropic's word: its own (``stop_sequence`` included) kept, the rest mapped; else ``end_turn``."""
    if reason is None:
        return None
    if raw in _WORDS:
        return raw
    return _STOP.get(reason, "end_turn")


def message_usage(usage: Usage, *, output_tokens: int | None = None) -> dict[str, int]:
    """Anthropic's usage: ``input_tokens`` without the cached and cache-write tokens."""
    read, write = usage.cached_input_tokens or 0, usage.cache_write_tokens or 0
    return {
        "input_tokens": max((usage.input_tokens or 0) - read - write, 0),
        "output_tokens": output_tokens if output_tokens is not None else usage.output_tokens or 0,
        "cache_creation_input_tokens": write,
        "cache_read_input_tokens": read,
    }


def _tool_input(call: ToolCall) -> dict[str, Any]:
    try:
        value = loads(call.arguments or "{}")
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise UnexpectedProviderResponse(
            f"tool call {call.name!r} has arguments that are not a JSON object ({call.arguments[:80]!r}); "
            "an Anthropic tool_use block needs an object"
        )
    return value


def message(response: ModelResponse) -> dict[str, Any]:
    """A ``message`` body: a text block (when there is text or nothing else), then tool_use blocks."""
    choice = response.choices[0]
    m = choice.message
    content: list[dict[str, Any]] = []
    if m.text or not m.tool_calls:
        content.append({"type": "text", "text": m.text})
    content += [
        {"type": "tool_use", "id": c.id, "name": c.name, "input": _tool_input(c)} for c in m.tool_calls or ()
    ]
    return {
        "id": response.id,
        "type": "message",
        "role": "assistant",
        "model": response.model,
        "content": content,
        "stop_reason": stop_reason(choice.finish_reason, choice.raw_finish_reason) or "end_turn",
        "stop_sequence": None,
        "usage": message_usage(response.usage),
    }


class MessageStreamEncoder:
    """Chunk-by-chunk Messages events: ``start()``, ``feed(chunk)`` as chunks come, ``close()``."""

    def __init__(self, *, id: str, model: str, usage: Usage | None = None, ping: bool = True) -> None:
        self.id, self.model, self.ping = id, model, ping
        self.usage = usage or Usage()
        self.stop: str | None = None
        self._blocks = 0
        self._open: str | int | None = None  # "text", or the tool index the open block belongs to

    def start(self) -> list[Event]:
        """``message_start`` (output_tokens 1, as the real API) and a ``ping``."""
        body: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": message_usage(self.usage, output_tokens=1),
        }
        events: list[Event] = [("message_start", {"type": "message_start", "message": body})]
        if self.ping:
            events.append(("ping", {"type": "ping"}))
        return events

    def _begin(self, key: str | int, block: dict[str, Any]) -> list[Event]:
        events = self._end()
        self._open = key
        start = {"type": "content_block_start", "index": self._blocks, "content_block": block}
        return [*events, ("content_block_start", start)]

    def _end(self) -> list[Event]:
        if self._open is None:
            return []
        self._open = None
        self._blocks += 1
        return [("content_block_stop", {"type": "content_block_stop", "index": self._blocks - 1})]

    def _delta(self, delta: dict[str, Any]) -> Event:
        return ("content_block_delta", {"type": "content_block_delta", "index": self._blocks, "delta": delta})

    def feed(self, chunk: Chunk) -> list[Event]:
        if chunk.index != 0:
            raise ConfigurationError("an Anthropic message has one choice; request n=1 for this format")
        events: list[Event] = []
        if chunk.text:
            if self._open != "text":
                events += self._begin("text", {"type": "text", "text": ""})
            events.append(self._delta({"type": "text_delta", "text": chunk.text}))
        for d in chunk.tool_calls or ():
            if self._open != d.index:
                block = {"type": "tool_use", "id": d.id or "", "name": d.name or "", "input": {}}
                events += self._begin(d.index, block)
            if d.arguments:
                events.append(self._delta({"type": "input_json_delta", "partial_json": d.arguments}))
        if chunk.finish_reason is not None:
            self.stop = stop_reason(chunk.finish_reason, chunk.raw_finish_reason)
        if chunk.usage is not None:
            self.usage = chunk.usage
        return events

    def close(self) -> list[Event]:
        """Close the open block (an empty text block if none came), ``message_delta``, ``message_stop``."""
        events = (
            self._begin("text", {"type": "text", "text": ""})
            if self._blocks == 0 and self._open is None
            else []
        )
        events += self._end()
        delta = {"stop_reason": self.stop or "end_turn", "stop_sequence": None}
        usage = {"output_tokens": self.usage.output_tokens or 0}
        events.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
        events.append(("message_stop", {"type": "message_stop"}))
        return events


def sse_event(name: str, doc: Any) -> bytes:
    """One named ``event: <name>`` / ``data: <json>`` event."""
    return b"event: " + name.encode() + b"\ndata: " + json_bytes(doc) + b"\n\n"


def error_body(
    message: str, *, type: str, request_id: str | None = None, error_code: str | None = None
) -> dict[str, Any]:
    """The Anthropic error envelope; ``error_code`` goes to ``error.details.error_code``."""
    error: dict[str, Any] = {"type": type, "message": message}
    if error_code is not None:
        error["details"] = {"error_code": error_code}
    doc: dict[str, Any] = {"type": "error", "error": error}
    if request_id is not None:
        doc["request_id"] = request_id
    return doc


def invalid_request_body(error: InvalidRequest, *, request_id: str | None = None) -> dict[str, Any]:
    """The 400 (``invalid_request_error``) or 413 (``request_too_large``) body for a refused request."""
    kind = "request_too_large" if error.status_code == 413 else "invalid_request_error"
    return error_body(error.message, type=kind, request_id=request_id)

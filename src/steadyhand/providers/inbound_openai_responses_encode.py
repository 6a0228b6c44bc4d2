"""Inbound Responses API codec, response side: ``ModelResponse``/``Chunk`` to Response objects and events.

What a server speaking ``POST /v1/responses`` sends back: the ``response`` object (the request's
parameters echoed, ``output`` items, usage with its detail objects), and the typed event stream in
the documented order::

    response.created, response.in_progress,
    per output item: response.output_item.added, (message) response.content_part.added,
        response.output_text.delta..., response.output_text.done, response.content_part.done /
        (function call) response.function_call_arguments.delta..., ...arguments.done,
    response.output_item.done, then response.completed (or response.incomplete)

every event with a ``sequence_number`` from 0, ``item_id``/``output_index``/``content_index`` where
the schema has them. A stream that breaks after its first byte ends with :meth:`failed`'s
``response.failed`` (``status: failed`` and the error), never with ``response.completed``. Item ids
derive from the response id (``msg_<id>``, ``fc_<id>_<n>``), so a body and a stream agree. Errors
use OpenAI's one error envelope (``inbound_openai_encode.error_body``). Everything validates
against OpenAI's OpenAPI schemas (``Response``, ``ResponseStreamEvent``).
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigurationError, ContentFiltered, QuotaExhausted, RateLimited
from ..types import Chunk, FinishReason, Message, ModelRequest, ModelResponse, Usage
from ._common import json_bytes
from .inbound_openai_encode import error_body, invalid_request_body

__all__ = [
    "ERROR_CODES",
    "ResponseStreamEncoder",
    "error_body",
    "error_code_for",
    "invalid_request_body",
    "response_object",
    "responses_usage",
    "sse_event",
]

ERROR_CODES = frozenset({"server_error", "rate_limit_exceeded", "invalid_prompt"})
"""The ``ResponseErrorCode`` values a failed response can carry here (others answer ``server_error``)."""
Event = dict[str, Any]


def error_code_for(error: BaseException) -> str:
    """The ``ResponseErrorCode`` for why a stream broke, for :meth:`ResponseStreamEncoder.failed`:
    ``rate_limit_exceeded`` for a rate limit or quota, ``invalid_prompt`` for a content filter, else
    ``server_error``."""
    if isinstance(error, RateLimited | QuotaExhausted):
        return "rate_limit_exceeded"
    if isinstance(error, ContentFiltered):
        return "invalid_prompt"
    return "server_error"


def responses_usage(usage: Usage) -> dict[str, Any]:
    """``ResponseUsage``: the counts with both detail objects (unknown counts as 0)."""
    prompt, output = usage.input_tokens or 0, usage.output_tokens or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": usage.cached_input_tokens or 0,
            "cache_write_tokens": usage.cache_write_tokens or 0,
        },
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens or 0},
        "total_tokens": prompt + output,
    }


def _status(finish: FinishReason | None) -> tuple[str, dict[str, str] | None]:
    if finish == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def _suffix(rid: str) -> str:
    return rid.removeprefix("resp_") or "0"


def _text_format(request: ModelRequest | None) -> dict[str, Any]:
    fmt = request.response_format if request is not None else None
    if fmt is None or fmt.type == "text":
        return {"type": "text"}
    if fmt.type == "json_object":
        return {"type": "json_object"}
    return {
        "type": "json_schema",
        "name": fmt.name,
        "schema": fmt.json_schema if fmt.json_schema is not None else {},
        "strict": fmt.strict,
    }


def _echo(request: ModelRequest | None) -> dict[str, Any]:
    """The request's parameters, as the real API repeats them in every response object."""
    if request is None:
        return {"instructions": None, "max_output_tokens": None, "temperature": 1.0, "top_p": 1.0,
                "tool_choice": "auto", "tools": [], "text": {"format": {"type": "text"}}}  # fmt: skip
    first = request.messages[0] if request.messages else None
    instructions = first.content if first is not None and first.role == "system" else None
    choice = request.tool_choice or "auto"
    return {
        "instructions": instructions if isinstance(instructions, str) else None,
        "max_output_tokens": request.max_tokens,
        "temperature": 1.0 if request.temperature is None else request.temperature,
        "top_p": 1.0 if request.top_p is None else request.top_p,
        "tool_choice": choice
        if choice in ("auto", "none", "required")
        else {"type": "function", "name": choice},
        "tools": [
            {
                "type": "function",
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters,
                "strict": False,
            }
            for t in request.tools or ()
        ],
        "text": {"format": _text_format(request)},
    }


def _envelope(rid: str, model: str, created: int, request: ModelRequest | None) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": "in_progress",
        "background": False,
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "model": model,
        "output": [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": False,
        "truncation": "disabled",
        "metadata": {},
        **_echo(request),
    }


def _message_item(item_id: str, text: str, *, refused: bool, status: str) -> dict[str, Any]:
    part = (
        {"type": "refusal", "refusal": text}
        if refused
        else {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    )
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": [part]}


def _call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def _output(message: Message, rid: str, *, refused: bool) -> list[dict[str, Any]]:
    base = _suffix(rid)
    items: list[dict[str, Any]] = []
    if message.reasoning:
        summary = [{"type": "summary_text", "text": message.reasoning}]
        items.append({"id": f"rs_{base}", "type": "reasoning", "summary": summary})
    if message.text or not message.tool_calls:
        items.append(_message_item(f"msg_{base}", message.text, refused=refused, status="completed"))
    for i, call in enumerate(message.tool_calls or ()):
        items.append(_call_item(f"fc_{base}_{i}", call.id, call.name, call.arguments, "completed"))
    return items


def response_object(
    response: ModelResponse, *, request: ModelRequest | None = None, created: int | None = None
) -> dict[str, Any]:
    """A ``response`` object for a complete answer; ``request`` supplies the echoed parameters."""
    if len(response.choices) > 1:
        raise ConfigurationError("a Responses API answer has one output; request n=1 for this format")
    when = created if created is not None else response.created or 0
    doc = _envelope(response.id, response.model, when, request)
    finish = response.finish_reason if response.choices else None
    status, details = _status(finish)
    message = response.message if response.choices else Message(role="assistant", content="")
    doc.update(
        status=status,
        completed_at=when if status == "completed" else None,
        incomplete_details=details,
        output=_output(message, response.id, refused=finish == "refusal"),
        usage=responses_usage(response.usage),
    )
    return doc


class ResponseStreamEncoder:
    """Chunk-by-chunk encoding of one streamed answer: :meth:`start`, :meth:`feed` each chunk, then
    :meth:`close` (or :meth:`failed` when the upstream broke)."""

    def __init__(self, *, id: str, model: str, created: int, request: ModelRequest | None = None) -> None:
        self.id = id
        self.base = _envelope(id, model, created, request)
        self.created = created
        self.usage = Usage()
        self.finish: FinishReason | None = None
        self._seq = 0
        self._items: list[dict[str, Any]] = []  # output items so far (the open one last)
        self._open: str | int | None = None  # "text", or the tool-call index of the open item
        self._calls = 0
        self._messages = 0

    def _event(self, kind: str, **fields: Any) -> Event:
        event = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return event

    def _response(self, **fields: Any) -> dict[str, Any]:
        return {**self.base, "output": [dict(i) for i in self._items], **fields}

    def start(self) -> list[Event]:
        """``response.created`` and ``response.in_progress`` (status ``in_progress``, no output yet)."""
        return [
            self._event("response.created", response=self._response()),
            self._event("response.in_progress", response=self._response()),
        ]

    def _begin_text(self) -> list[Event]:
        events = self._end()
        self._open = "text"
        item_id = f"msg_{_suffix(self.id)}" + (f"_{self._messages}" if self._messages else "")
        self._messages += 1  # text after a tool call is a second message item, with its own id
        item = {"id": item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}
        self._items.append(item)
        at = len(self._items) - 1
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        return [
            *events,
            self._event("response.output_item.added", output_index=at, item=dict(item, content=[])),
            self._event(
                "response.content_part.added", item_id=item["id"], output_index=at, content_index=0, part=part
            ),
        ]

    def _begin_call(self, index: int, call_id: str | None, name: str | None) -> list[Event]:
        events = self._end()
        self._open = index
        item_id = f"fc_{_suffix(self.id)}_{self._calls}"
        self._calls += 1
        item = _call_item(item_id, call_id or f"call_{index}", name or "", "", "in_progress")
        self._items.append(item)
        return [
            *events,
            self._event("response.output_item.added", output_index=len(self._items) - 1, item=dict(item)),
        ]

    def _end(self) -> list[Event]:
        if self._open is None:
            return []
        item, at = self._items[-1], len(self._items) - 1
        self._open = None
        if item["type"] == "message":
            text = item.pop("text", "")
            done = _message_item(item["id"], text, refused=False, status="completed")
            self._items[-1] = done
            part = done["content"][0]
            common = {"item_id": item["id"], "output_index": at, "content_index": 0}
            return [
                self._event("response.output_text.done", **common, text=text, logprobs=[]),
                self._event("response.content_part.done", **common, part=part),
                self._event("response.output_item.done", output_index=at, item=done),
            ]
        item["status"] = "completed"
        return [
            self._event(
                "response.function_call_arguments.done",
                item_id=item["id"],
                output_index=at,
                name=item["name"],
                arguments=item["arguments"],
            ),
            self._event("response.output_item.done", output_index=at, item=dict(item)),
        ]

    def feed(self, chunk: Chunk) -> list[Event]:
        if chunk.index != 0:
            raise ConfigurationError("a Responses API answer has one output; request n=1 for this format")
        events: list[Event] = []
        if chunk.text:
            if self._open != "text":
                events += self._begin_text()
            item = self._items[-1]
            item["text"] = item.get("text", "") + chunk.text
            events.append(
                self._event(
                    "response.output_text.delta",
                    item_id=item["id"],
                    output_index=len(self._items) - 1,
                    content_index=0,
                    delta=chunk.text,
                    logprobs=[],
                )
            )
        for d in chunk.tool_calls or ():
            if self._open != d.index:
                events += self._begin_call(d.index, d.id, d.name)
            item = self._items[-1]
            if d.arguments:
                item["arguments"] += d.arguments
                events.append(
                    self._event(
                        "response.function_call_arguments.delta",
                        item_id=item["id"],
                        output_index=len(self._items) - 1,
                        delta=d.arguments,
                    )
                )
        if chunk.finish_reason is not None:
            self.finish = chunk.finish_reason
        if chunk.usage is not None:
            self.usage = chunk.usage
        return events

    def close(self) -> list[Event]:
        """Close the open item (an empty message if none came), then ``response.completed`` (or
        ``response.incomplete`` when the answer stopped at the token limit or a filter)."""
        events = self._begin_text() if not self._items else []
        events += self._end()
        status, details = _status(self.finish)
        final = self._response(
            status=status,
            completed_at=self.created if status == "completed" else None,
            incomplete_details=details,
            usage=responses_usage(self.usage),
        )
        kind = "response.completed" if status == "completed" else "response.incomplete"
        return [*events, self._event(kind, response=final)]

    def failed(self, message: str, *, code: str = "server_error") -> list[Event]:
        """``response.failed``: the stream broke; the output so far, marked incomplete, and the error."""
        items = [dict(i) for i in self._items]
        for item in items:
            if item.get("status") == "in_progress":
                item["status"] = "incomplete"
            if item["type"] == "message" and "text" in item:
                text = item.pop("text")
                item["content"] = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
        error = {"code": code if code in ERROR_CODES else "server_error", "message": message}
        response = {**self.base, "status": "failed", "error": error, "output": items}
        return [self._event("response.failed", response=response)]


def sse_event(doc: Event) -> bytes:
    """One ``event: <type>`` / ``data: <json>`` event, as the real API frames them."""
    return b"event: " + str(doc["type"]).encode() + b"\ndata: " + json_bytes(doc) + b"\n\n"

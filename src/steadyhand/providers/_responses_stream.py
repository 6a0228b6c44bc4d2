"""Decoding the Responses API's typed event stream (``event: response.output_text.delta`` ...) to chunks.

Completion rule: the stream is complete at ``response.completed`` or ``response.incomplete`` (the
answer hit ``max_output_tokens`` or a filter: complete, with that finish reason). ``response.failed``
and an ``error`` event raise the mapped typed error; a stream that ends before any of these raises
:class:`StreamInterrupted`, so a cut-off answer is never passed off as complete.

Liberal in what it reads: a server that sends only ``response.output_item.done`` (no deltas), or
only ``response.completed`` with the whole output, still yields the whole answer, once.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..errors import ProviderHTTPError, StreamInterrupted, UnexpectedProviderResponse
from ..types import Chunk, ModelResponse, ToolCallDelta
from ._common import as_int, loads
from .sse import SSEParser

__all__ = ["ResponsesStreamDecoder"]

_DONE = ("response.completed", "response.incomplete")


class _Wire(Protocol):
    provider_name: str

    def stream_error(self, event: dict[str, Any], model: str) -> ProviderHTTPError: ...

    def failed_error(self, response: dict[str, Any], model: str) -> Exception: ...

    def response_from(self, obj: dict[str, Any], model: str) -> ModelResponse: ...


class ResponsesStreamDecoder:
    """Incremental decoder of one ``POST /responses`` stream."""

    def __init__(self, wire: _Wire, model: str) -> None:
        self._wire = wire
        self._model = model
        self._sse = SSEParser()
        self._tools: dict[int, int] = {}  # output_index -> tool-call index
        self._args: set[int] = set()  # tool-call indexes whose arguments have been sent
        self._texts: set[int] = set()  # output indexes whose text has been sent
        self._refused = False
        self._finished = False
        self._partial: list[str] = []
        self._id: str | None = None
        self._answered_by: str | None = None

    def feed(self, data: bytes) -> list[Chunk]:
        out: list[Chunk] = []
        for event in self._sse.feed(data):
            self._event(event.data, out)
        return out

    def close(self) -> list[Chunk]:
        out: list[Chunk] = []
        for event in self._sse.close():
            self._event(event.data, out)
        if not self._finished:
            raise StreamInterrupted(
                "the stream ended before response.completed; the answer is incomplete",
                partial_text="".join(self._partial),
                provider=self._wire.provider_name,
                model=self._model,
            )
        return out

    def _event(self, data: str, out: list[Chunk]) -> None:
        if self._finished or not data.strip() or data.strip() == "[DONE]":
            return
        try:
            obj = loads(data)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            raise UnexpectedProviderResponse(
                f"malformed stream event (not a JSON object): {data[:200]!r}",
                provider=self._wire.provider_name,
                model=self._model,
            )
        kind = obj.get("type")
        if kind == "error":
            code = obj.get("code") if isinstance(obj.get("code"), str) else None
            error = {"message": str(obj.get("message") or ""), "type": code, "code": code}
            raise self._wire.stream_error({"error": error}, self._model)
        response = obj.get("response")
        if isinstance(response, dict):
            self._id = self._id or (str(response["id"]) if response.get("id") else None)
            self._answered_by = self._answered_by or (
                str(response["model"]) if response.get("model") else None
            )
        if kind == "response.failed":
            raise self._wire.failed_error(response if isinstance(response, dict) else {}, self._model)
        if kind in _DONE:
            self._finish(response if isinstance(response, dict) else {}, out)
        elif kind in ("response.output_text.delta", "response.refusal.delta"):
            self._refused = self._refused or kind == "response.refusal.delta"
            self._text(obj, obj.get("delta"), out)
        elif kind in ("response.output_item.added", "response.output_item.done"):
            self._item(obj, out, done=kind == "response.output_item.done")
        elif kind == "response.function_call_arguments.delta":
            index = self._tool_index(obj, None, out)
            delta = obj.get("delta")
            if isinstance(delta, str) and delta:
                self._args.add(index)
                out.append(self._chunk(tool_calls=[ToolCallDelta(index=index, arguments=delta)]))

    def _chunk(self, **fields: Any) -> Chunk:
        return Chunk(id=self._id, model=self._answered_by, **fields)

    def _text(self, obj: dict[str, Any], text: Any, out: list[Chunk]) -> None:
        if not isinstance(text, str) or not text:
            return
        self._texts.add(as_int(obj.get("output_index")) or 0)
        self._partial.append(text)
        out.append(self._chunk(text=text))

    def _tool_index(self, obj: dict[str, Any], item: dict[str, Any] | None, out: list[Chunk]) -> int:
        """The tool-call index of an output item, announcing the call (id and name) the first time."""
        position = as_int(obj.get("output_index"))
        position = len(self._tools) + 10_000 if position is None else position
        index = self._tools.get(position)
        if index is None:
            index = self._tools[position] = len(self._tools)
            item = item or {}
            call_id = item.get("call_id") or item.get("id") or obj.get("item_id") or f"call_{index}"
            head = ToolCallDelta(index=index, id=str(call_id), name=str(item.get("name") or "") or None)
            out.append(self._chunk(tool_calls=[head]))
        return index

    def _item(self, obj: dict[str, Any], out: list[Chunk], *, done: bool) -> None:
        item = obj.get("item")
        if not isinstance(item, dict):
            return
        if item.get("type") == "function_call":
            index = self._tool_index(obj, item, out)
            args = item.get("arguments")
            if done and index not in self._args and isinstance(args, str) and args:
                self._args.add(index)
                out.append(self._chunk(tool_calls=[ToolCallDelta(index=index, arguments=args)]))
        elif item.get("type") == "message" and done:
            position = as_int(obj.get("output_index")) or 0
            if position not in self._texts:
                for part in item.get("content") or ():
                    if isinstance(part, dict) and part.get("type") == "refusal":
                        self._refused = True
                        self._text(obj, part.get("refusal"), out)
                    elif isinstance(part, dict):
                        self._text(obj, part.get("text"), out)

    def _finish(self, response: dict[str, Any], out: list[Chunk]) -> None:
        self._finished = True
        final = self._wire.response_from(response, self._model)
        message = final.message
        if not self._texts and not self._tools:  # nothing streamed: the final object holds the answer
            if message.text:
                self._partial.append(message.text)
                out.append(self._chunk(text=message.text))
            calls = message.tool_calls or []
            for i, call in enumerate(calls):
                delta = ToolCallDelta(index=i, id=call.id, name=call.name, arguments=call.arguments)
                out.append(self._chunk(tool_calls=[delta]))
                self._tools[-1 - i] = i
        finish = final.finish_reason
        if finish == "stop" and self._tools:
            finish = "tool_calls"
        if finish in ("stop", "tool_calls") and self._refused:
            finish = "refusal"
        out.append(self._chunk(finish_reason=finish, raw_finish_reason=final.choices[0].raw_finish_reason))
        usage = final.usage
        if usage.input_tokens is not None or usage.output_tokens is not None:
            out.append(self._chunk(usage=usage))

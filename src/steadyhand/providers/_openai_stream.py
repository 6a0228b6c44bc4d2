"""Decoding OpenAI-format streams (chat and legacy completions): SSE ``data:`` events to chunks.

Completion rule: the stream is complete once every choice that appeared has sent a
``finish_reason``. ``data: [DONE]`` is not required (some servers omit it; the answer is whole
without it), but a stream that ends with no finish reason raises :class:`StreamInterrupted`, even
after ``[DONE]``, so a cut-off answer is never passed off as complete.
"""

from __future__ import annotations

from typing import Any, Protocol

from ..errors import ProviderHTTPError, StreamInterrupted, UnexpectedProviderResponse
from ..types import Chunk, FinishReason, ToolCallDelta, Usage
from ._common import as_int, loads
from .sse import SSEEvent, SSEParser

__all__ = ["OpenAIStreamDecoder", "openai_finish", "openai_usage"]

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def openai_finish(raw: Any) -> tuple[FinishReason | None, str | None]:
    """The normalized finish reason and the provider's own word (None while a stream is running)."""
    if raw is None:
        return None, None
    word = str(raw)
    return _FINISH.get(word, "unknown"), word


def openai_usage(raw: Any) -> Usage:
    """OpenAI's usage in steadyhand's convention; ``prompt_tokens`` already includes cached tokens."""
    if not isinstance(raw, dict):
        return Usage()
    prompt_details = raw.get("prompt_tokens_details")
    completion_details = raw.get("completion_tokens_details")
    return Usage(
        input_tokens=as_int(raw.get("prompt_tokens")),
        output_tokens=as_int(raw.get("completion_tokens")),
        cached_input_tokens=as_int(prompt_details.get("cached_tokens"))
        if isinstance(prompt_details, dict)
        else None,
        reasoning_tokens=as_int(completion_details.get("reasoning_tokens"))
        if isinstance(completion_details, dict)
        else None,
        raw=raw,
    )


class _ErrorSource(Protocol):
    provider_name: str

    def stream_error(self, event: dict[str, Any], model: str) -> ProviderHTTPError: ...


class OpenAIStreamDecoder:
    """Incremental decoder; ``text_key=None`` reads chat deltas, ``"text"`` legacy completion choices."""

    def __init__(self, wire: _ErrorSource, model: str, *, text_key: str | None) -> None:
        self._wire = wire
        self._model = model
        self._text_key = text_key
        self._sse = SSEParser()
        self._seen: set[int] = set()
        self._finished: set[int] = set()
        self._refused: set[int] = set()
        self._partial: list[str] = []
        self._done = False
        self._id: str | None = None
        self._answered_by: str | None = None

    def feed(self, data: bytes) -> list[Chunk]:
        return self._decode(self._sse.feed(data))

    def close(self) -> list[Chunk]:
        chunks = self._decode(self._sse.close())
        if not self._finished or self._seen - self._finished:
            raise StreamInterrupted(
                "the stream ended before the provider sent a finish_reason; the answer is incomplete",
                partial_text="".join(self._partial),
                provider=self._wire.provider_name,
                model=self._model,
            )
        return chunks

    def _decode(self, events: list[SSEEvent]) -> list[Chunk]:
        chunks: list[Chunk] = []
        for event in events:
            if self._done:
                continue
            data = event.data.strip()
            if not data:
                continue
            if data == "[DONE]":
                self._done = True
                continue
            try:
                obj = loads(data)
            except ValueError:
                obj = None
            if not isinstance(obj, dict):
                raise UnexpectedProviderResponse(
                    f"malformed stream event (not a JSON object): {event.data[:200]!r}",
                    provider=self._wire.provider_name,
                    model=self._model,
                )
            if obj.get("error"):
                raise self._wire.stream_error(obj, self._model)
            self._chunks(obj, chunks)
        return chunks

    def _chunks(self, obj: dict[str, Any], out: list[Chunk]) -> None:
        if self._id is None and obj.get("id"):
            self._id = str(obj["id"])
        if self._answered_by is None and obj.get("model"):
            self._answered_by = str(obj["model"])
        rid, model = self._id, self._answered_by
        choices = obj.get("choices")
        if isinstance(choices, list):
            for i, choice in enumerate(choices):
                if isinstance(choice, dict):
                    chunk = self._choice(choice, i, rid, model)
                    if chunk is not None:
                        out.append(chunk)
        usage = obj.get("usage")
        if isinstance(usage, dict):
            out.append(Chunk(usage=openai_usage(usage), id=rid, model=model))

    def _choice(self, choice: dict[str, Any], i: int, rid: str | None, model: str | None) -> Chunk | None:
        index = choice.get("index")
        if type(index) is not int:  # a float, a bool, absent: as_int decides
            index = as_int(index)
            index = i if index is None else index
        tool_calls = None
        if self._text_key is None:
            delta = choice.get("delta")
            if not isinstance(delta, dict):
                delta = {}
            text = delta.get("content")
            refusal = delta.get("refusal")
            if refusal and isinstance(refusal, str):
                self._refused.add(index)
                text = (text or "") + refusal
            raw_calls = delta.get("tool_calls")
            if raw_calls and isinstance(raw_calls, list):
                tool_calls = [_tool_delta(tc, j) for j, tc in enumerate(raw_calls) if isinstance(tc, dict)]
        else:
            text = choice.get(self._text_key)
        if not isinstance(text, str):
            text = ""
        raw = choice.get("finish_reason")
        if raw is None:
            if not text and not tool_calls:
                return None
            self._seen.add(index)
            if text and index == 0:
                self._partial.append(text)
            if tool_calls is None:  # the usual delta: fewer fields to validate
                return Chunk(index=index, text=text, id=rid, model=model)
            return Chunk(index=index, text=text, tool_calls=tool_calls, id=rid, model=model)
        finish, raw_finish = openai_finish(raw)
        if finish == "stop" and index in self._refused:
            finish = "refusal"
        self._seen.add(index)
        self._finished.add(index)
        if text and index == 0:
            self._partial.append(text)
        return Chunk(
            index=index,
            text=text,
            tool_calls=tool_calls,
            finish_reason=finish,
            raw_finish_reason=raw_finish,
            id=rid,
            model=model,
        )


def _tool_delta(tc: dict[str, Any], position: int) -> ToolCallDelta:
    fn = tc.get("function")
    fn = fn if isinstance(fn, dict) else {}
    index = as_int(tc.get("index"))
    args = fn.get("arguments")
    return ToolCallDelta(
        index=position if index is None else index,
        id=str(tc["id"]) if tc.get("id") else None,
        name=str(fn["name"]) if fn.get("name") else None,
        arguments=args if isinstance(args, str) else "",
    )

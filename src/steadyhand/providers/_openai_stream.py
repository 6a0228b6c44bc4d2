"""Decoding OpenAI-format streams (chat and legacy completions): SSE ``data:`` events to chunks.

Completion rule: the stream is complete once every choice that appeared has sent a
``finish_reason``. ``data: [DONE]`` is not required (some servers omit it; the answer is whole
without it), but a stream that ends with no finish reason raises :class:`StreamInterrupted`, even
after ``[DONE]``, so a cut-off answer is never passed off as complete.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from ..errors import ProviderHTTPError, StreamInterrupted, UnexpectedProviderResponse
from ..types import Chunk, FinishReason, ToolCallDelta, Usage
from ._common import as_int, loads
from ._sse_template import Envelope, learn, take
from .sse import CR, SSEEvent, SSEParser

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
        self.merged = 0
        """Text events ``feed_batch`` joined into another chunk's text (for a local usage estimate)."""
        self._envelope: Envelope | None = None
        self._learning = 3
        """Reads left in which to learn the envelope of the plain events (``_sse_template``)."""

    def feed(self, data: bytes) -> list[Chunk]:
        return self._decode(self._sse.feed(data))

    def feed_batch(self, data: bytes) -> list[Chunk] | None:
        """``feed`` for a read of whole ``data:`` events, with each run of plain text events (index 0,
        no finish, usage, tool call, refusal or error) merged into one chunk carrying their bytes
        (``Chunk.raw_events``); other events decode as ``feed`` would. ``None``, with nothing consumed,
        when the read is anything else (a partial or multi-line event, a comment, an ``event:`` field, an
        error, a malformed event, legacy completions): the caller feeds it the usual way then.

        Events in the envelope of the stream's plain events (``_sse_template``) are taken by their
        bytes and only their texts parsed; the rest of the read is parsed as one JSON array. Either way
        one C call parses the read, not one per event."""
        if self._text_key is not None or self._done or not self._sse.idle or not data.endswith(b"\n\n"):
            return None
        if not data.startswith(b"data: ") or CR in data or data.find(b'"error"') >= 0:
            return None  # an error event takes the exact path: the chunks before it, then the error
        used, texts = 0, None
        envelope = self._envelope or self._learn(data)
        if envelope is not None:
            taken = take(data, envelope)
            if taken is not None:
                used, texts = taken
        rest = data[used:] if used else data
        parsed = _parse(rest)
        if parsed is None:
            return None
        out: list[Chunk] = []
        if texts is not None:
            self._relayed(None, texts, data[:used] if rest else data, out)
        objs, done = parsed
        if objs:
            self._each(rest, objs, len(rest) - (len(_DONE) if done else 0), out)
        self._done = done
        return out

    def _learn(self, data: bytes) -> Envelope | None:
        """The envelope of the read's first event when it is a plain text event (a few reads tried)."""
        first = data[: data.find(b"\n\n")]
        if self._learning <= 0 or first == _DONE[:-2]:
            return None
        self._learning -= 1
        try:
            obj = orjson.loads(first[6:])
        except orjson.JSONDecodeError:
            return None
        text = _plain_text(obj) if type(obj) is dict else None
        if text:
            self._envelope = learn(first, text)
        return self._envelope

    def _each(self, data: bytes, objs: list[dict[str, Any]], end: int, out: list[Chunk]) -> None:
        """Decode parsed events of ``data[:end]``: runs of plain ones merged, the others as ``feed``."""
        run: list[str] = []
        start = 0
        cut = _Cut(data, len(objs), end)
        for i, obj in enumerate(objs):
            text = _plain_text(obj)
            if text is not None:
                run.append(text)
                continue
            if run:
                self._relayed(objs[start], run, data[cut.at(start) : cut.at(i)], out)
                run = []
            start = i + 1
            self._chunks(obj, out)
        if run:
            whole = not start and end == len(data)
            self._relayed(objs[start], run, data if whole else data[cut.at(start) : end], out)

    def _relayed(self, obj: dict[str, Any] | None, texts: list[str], raw: bytes, out: list[Chunk]) -> None:
        """One chunk for a run of plain events (``obj`` the first, when parsed); none for a run without
        text before choice 0 has any (the exact path makes no chunk of a role-only or empty delta)."""
        if obj is not None and self._id is None and obj.get("id"):
            self._id = str(obj["id"])
        if obj is not None and self._answered_by is None and obj.get("model"):
            self._answered_by = str(obj["model"])
        text = "".join(texts)
        if text:
            self._seen.add(0)
            self._partial.append(text)
            self.merged += sum(map(bool, texts)) - 1
        elif 0 not in self._seen:
            return
        out.append(Chunk(text=text, id=self._id, model=self._answered_by, raw_events=raw))

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


_DONE = b"data: [DONE]\n\n"


def _parse(data: bytes) -> tuple[list[dict[str, Any]], bool] | None:
    """The events of ``data`` (single-line ``data:`` events, maybe ending with ``[DONE]``) parsed as one
    JSON array, and whether it ended with ``[DONE]``; ``None`` for anything else. Each separator the
    join replaces is 7 bytes shorter, so the lengths say how many events there were."""
    if data == _DONE or not data:
        return [], bool(data)
    joined = data.replace(b"\n\ndata: ", b",")
    done = joined.endswith(b",[DONE]\n\n")
    end, stop = (len(data) - len(_DONE), len(joined) - 9) if done else (len(data), len(joined) - 2)
    if not joined.startswith(b"data: ") or joined.find(b"\n") != len(joined) - 2 or stop < 6:
        return None  # an event of several lines or fields, a comment, a blank event
    try:
        objs = orjson.loads(b"".join((b"[", memoryview(joined)[6:stop], b"]")))
    except orjson.JSONDecodeError:
        return None
    if len(objs) != (end - stop - 2) // 7 + 1 or set(map(type, objs)) != {dict}:
        return None
    return objs, done


class _Cut:
    """Where each of the ``n`` single-line events in ``data[:end]`` starts: found back from the end for
    the last few (a run usually ends at the finish, near the end), else from one split."""

    __slots__ = ("_data", "_end", "_n", "_starts")

    def __init__(self, data: bytes, n: int, end: int) -> None:
        self._data, self._n, self._end = data, n, end
        self._starts: list[int] | None = None

    def at(self, k: int) -> int:
        data, n = self._data, self._n
        if k == 0:
            return 0
        if n - k <= 4:
            pos = self._end
            for _ in range(n - k):
                pos = data.rindex(b"\n\n", 0, pos - 2) + 2
            return pos
        if self._starts is None:
            starts, pos = [], 0
            for event in data[: self._end].split(b"\n\n")[:n]:
                starts.append(pos)
                pos += len(event) + 2
            self._starts = starts
        return self._starts[k]


def _plain_text(obj: dict[str, Any]) -> str | None:
    """The text of a plain chat delta event (one choice, index 0, a content delta and at most the
    assistant's role, no finish, usage, tool call or refusal), else ``None``: what ``feed_batch`` may
    merge. Other delta fields (a server's ``reasoning_content``) are the caller's to relay or drop."""
    choices = obj.get("choices")
    if type(choices) is not list or len(choices) != 1 or obj.get("usage") is not None:
        return None
    choice = choices[0]
    if type(choice) is not dict or choice.get("finish_reason") is not None:
        return None
    delta, index = choice.get("delta"), choice.get("index", 0)
    if type(delta) is not dict or type(index) is not int or index != 0:
        return None
    if delta.get("tool_calls") or delta.get("refusal") or delta.get("role", "assistant") != "assistant":
        return None
    text = delta.get("content")
    if text is None or type(text) is str:
        return text or ""
    return None


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

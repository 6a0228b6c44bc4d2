"""Decoding Anthropic's Messages stream: named SSE events to chunks.

``message_start`` gives the id, model and input usage; ``content_block_*`` carry text and tool-use
JSON; ``message_delta`` carries the stop reason and *cumulative* usage (merged over the start's, the
last value kept, never summed); ``message_stop`` completes the stream. ``ping`` and unknown events
are ignored; ``event: error`` after a 200 raises the typed error (``overloaded_error`` ->
Overloaded). A body that ends before ``message_stop`` raises :class:`StreamInterrupted`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import StreamInterrupted, UnexpectedProviderResponse
from ..types import Chunk, FinishReason, ToolCallDelta, Usage
from ._common import as_int, loads
from .sse import SSEParser

if TYPE_CHECKING:
    from .anthropic import AnthropicMessages

__all__ = ["AnthropicStreamDecoder", "anthropic_finish", "anthropic_usage"]

_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "refusal",
    "pause_turn": "pause",
}


def anthropic_finish(raw: Any) -> tuple[FinishReason | None, str | None]:
    if raw is None:
        return None, None
    word = str(raw)
    return _FINISH.get(word, "unknown"), word


def anthropic_usage(raw: Any) -> Usage:
    """Anthropic's usage in steadyhand's convention.

    Anthropic's ``input_tokens`` excludes cache reads and writes; steadyhand's includes them, so
    ``input_tokens = input_tokens + cache_read_input_tokens + cache_creation_input_tokens``.
    """
    if not isinstance(raw, dict):
        return Usage()
    plain = as_int(raw.get("input_tokens"))
    read = as_int(raw.get("cache_read_input_tokens"))
    write = as_int(raw.get("cache_creation_input_tokens"))
    total = (
        None
        if plain is None and read is None and write is None
        else (plain or 0) + (read or 0) + (write or 0)
    )
    return Usage(
        input_tokens=total,
        output_tokens=as_int(raw.get("output_tokens")),
        cached_input_tokens=read,
        cache_write_tokens=write,
        raw=raw,
    )


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class _Block:
    __slots__ = ("answer", "got_json", "tool")

    def __init__(self, tool: int | None, *, answer: bool) -> None:
        self.tool = tool  # our tool-call index (0, 1, ...), None for text and answer blocks
        self.answer = answer
        self.got_json = False


class AnthropicStreamDecoder:
    """Incremental decoder; tool calls are numbered 0, 1, ... in order, whatever their block index."""

    def __init__(self, wire: AnthropicMessages, model: str, *, answer_tool: str | None) -> None:
        self._wire = wire
        self._model = model
        self._answer_tool = answer_tool
        self._sse = SSEParser()
        self._blocks: dict[int, _Block] = {}
        self._tools = 0
        self._usage: dict[str, Any] = {}
        self._id: str | None = None
        self._answered_by: str | None = None
        self._partial: list[str] = []
        self._answered = False
        self._stopped = False

    def feed(self, data: bytes) -> list[Chunk]:
        out: list[Chunk] = []
        for event in self._sse.feed(data):
            self._event(event.data, out)
        return out

    def close(self) -> list[Chunk]:
        out: list[Chunk] = []
        for event in self._sse.close():
            self._event(event.data, out)
        if not self._stopped:
            raise StreamInterrupted(
                "the stream ended before message_stop; the answer is incomplete",
                partial_text="".join(self._partial),
                provider=self._wire.provider_name,
                model=self._model,
            )
        return out

    def _chunk(self, **fields: Any) -> Chunk:
        return Chunk(id=self._id, model=self._answered_by, **fields)

    def _text(self, text: str, out: list[Chunk]) -> None:
        if text:
            self._partial.append(text)
            out.append(self._chunk(text=text))

    def _event(self, data: str, out: list[Chunk]) -> None:
        if self._stopped:
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
        if kind == "content_block_delta":
            self._delta(obj, out)
        elif kind == "content_block_start":
            self._start_block(obj, out)
        elif kind == "content_block_stop":
            self._stop_block(obj, out)
        elif kind == "message_start":
            message = _obj(obj.get("message"))
            self._id = str(message.get("id") or "") or None
            self._answered_by = str(message.get("model") or "") or None
            if isinstance(message.get("usage"), dict):
                self._usage = dict(message["usage"])
                out.append(self._chunk(usage=self._merged_usage()))
        elif kind == "message_delta":
            self._message_delta(obj, out)
        elif kind == "message_stop":
            self._stopped = True
        elif kind == "error":
            raise self._wire.stream_error(obj, self._model)
        # "ping" and event types added later are ignored

    def _merged_usage(self) -> Usage:
        return anthropic_usage(dict(self._usage))

    def _start_block(self, obj: dict[str, Any], out: list[Chunk]) -> None:
        index = obj.get("index")
        block = _obj(obj.get("content_block"))
        if not isinstance(index, int):
            return
        if block.get("type") == "tool_use":
            if self._answer_tool is not None and block.get("name") == self._answer_tool:
                self._blocks[index] = _Block(None, answer=True)
                self._answered = True
                return
            self._blocks[index] = _Block(self._tools, answer=False)
            out.append(
                self._chunk(
                    tool_calls=[
                        ToolCallDelta(
                            index=self._tools, id=str(block.get("id") or ""), name=str(block.get("name"))
                        )
                    ]
                )
            )
            self._tools += 1
        elif block.get("type") == "text":
            self._blocks[index] = _Block(None, answer=False)
            self._text(str(block.get("text") or ""), out)

    def _delta(self, obj: dict[str, Any], out: list[Chunk]) -> None:
        delta = _obj(obj.get("delta"))
        kind = delta.get("type")
        if kind == "text_delta":
            self._text(str(delta.get("text") or ""), out)
        elif kind == "input_json_delta":
            block = self._blocks.get(obj.get("index"))  # type: ignore[arg-type]
            part = str(delta.get("partial_json") or "")
            if block is None or not part:
                return
            block.got_json = True
            if block.answer:
                self._text(part, out)
            elif block.tool is not None:
                out.append(self._chunk(tool_calls=[ToolCallDelta(index=block.tool, arguments=part)]))
        # thinking_delta and signature_delta are not part of the answer

    def _stop_block(self, obj: dict[str, Any], out: list[Chunk]) -> None:
        block = self._blocks.get(obj.get("index"))  # type: ignore[arg-type]
        if block is None or block.got_json:
            return
        if block.answer:
            self._text("{}", out)
        elif block.tool is not None:  # a call with no arguments streams no JSON at all
            out.append(self._chunk(tool_calls=[ToolCallDelta(index=block.tool, arguments="{}")]))

    def _message_delta(self, obj: dict[str, Any], out: list[Chunk]) -> None:
        delta = _obj(obj.get("delta"))
        usage = obj.get("usage")
        if isinstance(usage, dict):  # cumulative: the latest value replaces, never adds
            self._usage.update({k: v for k, v in usage.items() if v is not None})
        finish, raw = anthropic_finish(delta.get("stop_reason"))
        if finish == "tool_calls" and self._answered and not self._tools:
            finish = "stop"
        out.append(
            self._chunk(
                finish_reason=finish,
                raw_finish_reason=raw,
                usage=self._merged_usage() if isinstance(usage, dict) else None,
            )
        )

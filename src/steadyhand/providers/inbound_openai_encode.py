"""Inbound OpenAI codec, response side: ``ModelResponse``/``Chunk`` to OpenAI's JSON bodies and SSE.

What a server speaking OpenAI's API sends back: ``chat.completion`` and ``text_completion`` bodies,
their stream chunks in the documented order (a role chunk first, ``"usage": null`` on every chunk
when ``include_usage`` is on, then one usage chunk with empty ``choices`` before ``[DONE]``), and the
error envelope with all four keys. The output validates against OpenAI's published OpenAPI schemas.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidRequest
from ..types import Chunk, FinishReason, ModelResponse, Usage
from ._common import json_bytes

__all__ = [
    "SSE_DONE",
    "ChatStreamEncoder",
    "CompletionStreamEncoder",
    "chat_completion",
    "chat_usage",
    "completion",
    "completion_usage",
    "error_body",
    "finish_reason",
    "invalid_request_body",
    "sse_data",
]

SSE_DONE = b"data: [DONE]\n\n"
_FINISH = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})


def finish_reason(reason: FinishReason | None, raw: str | None = None) -> str | None:
    """OpenAI's word: its own five are kept; ``refusal``/``pause``/``unknown`` answer as ``stop``."""
    if reason is None:
        return None
    if reason in _FINISH:
        return reason
    return raw if raw in _FINISH else "stop"


def chat_usage(usage: Usage) -> dict[str, Any]:
    """Chat usage with the detail objects the real API sends (unknown counts as 0)."""
    prompt, completion_ = usage.input_tokens or 0, usage.output_tokens or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion_,
        "total_tokens": prompt + completion_,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens or 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning_tokens or 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def completion_usage(usage: Usage) -> dict[str, int]:
    """Legacy completions usage: the three counts."""
    prompt, completion_ = usage.input_tokens or 0, usage.output_tokens or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion_, "total_tokens": prompt + completion_}


def _reported(usage: Usage) -> bool:
    return usage.input_tokens is not None or usage.output_tokens is not None


def chat_completion(
    response: ModelResponse, *, created: int | None = None, system_fingerprint: str | None = None
) -> dict[str, Any]:
    """A ``chat.completion`` body; a refusal goes to ``message.refusal`` with ``content: null``."""
    choices = []
    for choice in response.choices:
        m = choice.message
        refused = choice.finish_reason == "refusal"
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if refused or (m.tool_calls and not m.text) else m.text,
            "refusal": m.text if refused else None,
            "annotations": [],
        }
        if m.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in m.tool_calls
            ]
        choices.append(
            {
                "index": choice.index,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(choice.finish_reason, choice.raw_finish_reason),
            }
        )
    doc: dict[str, Any] = {
        "id": response.id,
        "object": "chat.completion",
        "created": created if created is not None else response.created or 0,
        "model": response.model,
        "choices": choices,
    }
    if _reported(response.usage):
        doc["usage"] = chat_usage(response.usage)
    doc["service_tier"] = "default"
    if system_fingerprint is not None:
        doc["system_fingerprint"] = system_fingerprint
    return doc


def completion(
    response: ModelResponse, *, created: int | None = None, system_fingerprint: str | None = None
) -> dict[str, Any]:
    """A legacy ``text_completion`` body."""
    doc: dict[str, Any] = {
        "id": response.id,
        "object": "text_completion",
        "created": created if created is not None else response.created or 0,
        "model": response.model,
    }
    if system_fingerprint is not None:
        doc["system_fingerprint"] = system_fingerprint
    doc["choices"] = [
        {
            "text": c.message.text,
            "index": c.index,
            "logprobs": None,
            "finish_reason": finish_reason(c.finish_reason, c.raw_finish_reason),
        }
        for c in response.choices
    ]
    if _reported(response.usage):
        doc["usage"] = completion_usage(response.usage)
    return doc


class _StreamEncoder:
    """Chunk-by-chunk encoding: ``feed`` each ``Chunk`` as it arrives, ``close`` at the end."""

    object_name = ""

    def __init__(
        self,
        *,
        id: str,
        model: str,
        created: int,
        include_usage: bool = False,
        system_fingerprint: str | None = None,
    ) -> None:
        self.base: dict[str, Any] = {"id": id, "object": self.object_name, "created": created, "model": model}
        if system_fingerprint is not None:
            self.base["system_fingerprint"] = system_fingerprint
        self.include_usage = include_usage
        self.usage: Usage | None = None
        self._head = self._tail = b""

    def _doc(self, choice: dict[str, Any]) -> dict[str, Any]:
        doc = {**self.base, "choices": [choice]}
        if self.include_usage:
            doc["usage"] = None
        return doc

    def feed(self, chunk: Chunk) -> list[dict[str, Any]]:
        """The chunk documents this ``Chunk`` makes (none, one, or several)."""
        return [self._doc(choice) for choice in self._choices(chunk)]

    def feed_sse(self, chunk: Chunk) -> bytes:
        """``feed`` as its ``data:`` events: the bytes ``sse_data`` writes for each document, with the
        envelope (id, object, created, model) encoded once per stream instead of once per event."""
        choices = self._choices(chunk)
        if not choices:
            return b""
        if not self._head:
            self._head = b"data: " + json_bytes(self.base)[:-1] + b',"choices":['
            self._tail = b"]" + (b',"usage":null' if self.include_usage else b"") + b"}\n\n"
        head, tail = self._head, self._tail
        return b"".join([head + json_bytes(choice) + tail for choice in choices])

    def _choices(self, chunk: Chunk) -> list[dict[str, Any]]:
        raise NotImplementedError

    def close(self) -> list[dict[str, Any]]:
        """The usage chunk (``choices: []``) when ``include_usage``; ``[DONE]`` is the caller's."""
        if not self.include_usage:
            return []
        return [{**self.base, "choices": [], "usage": self._usage(self.usage or Usage())}]

    def _usage(self, usage: Usage) -> dict[str, Any]:
        return chat_usage(usage)


class ChatStreamEncoder(_StreamEncoder):
    """``chat.completion.chunk`` events: a role chunk per choice, content/tool deltas, finish, usage."""

    object_name = "chat.completion.chunk"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._started: set[int] = set()

    def _choices(self, chunk: Chunk) -> list[dict[str, Any]]:
        out = []
        i = chunk.index
        if i not in self._started:
            self._started.add(i)
            first = None if chunk.tool_calls and not chunk.text else ""
            out.append(self._choice(i, {"role": "assistant", "content": first, "refusal": None}))
        if chunk.text:
            out.append(self._choice(i, {"content": chunk.text}))
        for d in chunk.tool_calls or ():
            call: dict[str, Any] = {"index": d.index}
            if d.id is not None:
                call.update(id=d.id, type="function")
            fn = {"name": d.name} if d.name is not None else {}
            call["function"] = {**fn, "arguments": d.arguments}
            out.append(self._choice(i, {"tool_calls": [call]}))
        if chunk.finish_reason is not None:
            out.append(self._choice(i, {}, finish_reason(chunk.finish_reason, chunk.raw_finish_reason)))
        if chunk.usage is not None:
            self.usage = chunk.usage
        return out

    @staticmethod
    def _choice(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}

    def relay(self, chunk: Chunk) -> bytes | None:
        """The chunk's events as an OpenAI-format provider sent them (``Chunk.raw_events``: plain text
        deltas of choice 0), once this stream's choice 0 has started (its role chunk is out); else
        ``None`` and the chunk is encoded. They differ from ``feed_sse``'s only in what the provider
        adds (``created``, ``system_fingerprint``, ``logprobs``, a ``usage: null``), which SDKs accept."""
        if chunk.raw_events is None or 0 not in self._started:
            return None
        return chunk.raw_events


class CompletionStreamEncoder(_StreamEncoder):
    """Streamed legacy completions: ``text_completion`` chunks with ``text``, then finish, then usage."""

    object_name = "text_completion"

    def _choices(self, chunk: Chunk) -> list[dict[str, Any]]:
        out = []
        if chunk.text:
            out.append(self._text(chunk.index, chunk.text, None))
        if chunk.finish_reason is not None:
            word = finish_reason(chunk.finish_reason, chunk.raw_finish_reason)
            out.append(self._text(chunk.index, "", word))
        if chunk.usage is not None:
            self.usage = chunk.usage
        return out

    @staticmethod
    def _text(index: int, text: str, finish: str | None) -> dict[str, Any]:
        return {"text": text, "index": index, "logprobs": None, "finish_reason": finish}

    def _usage(self, usage: Usage) -> dict[str, Any]:
        return completion_usage(usage)


def sse_data(doc: Any) -> bytes:
    """One ``data: <json>`` event."""
    return b"data: " + json_bytes(doc) + b"\n\n"


def error_body(
    message: str, *, type: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """The one OpenAI error envelope; all four keys are always present."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def invalid_request_body(error: InvalidRequest) -> dict[str, Any]:
    """The 400 (or 413) body OpenAI sends for a request the decoder refused."""
    return error_body(error.message, type="invalid_request_error", param=error.param, code=error.code)

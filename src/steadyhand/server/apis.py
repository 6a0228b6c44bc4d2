"""The inbound APIs the gateway speaks, each a decode / encode / stream-encode triple over the codecs.

``providers/inbound_*`` do the wording and the shapes; this module only binds each route to its
codec and frames the stream: OpenAI's ``data:`` events ending in ``data: [DONE]``, Anthropic's named
events ending in ``message_stop``. Which provider answers is none of this module's business: a
``ModelResponse`` or ``Chunk`` from any adapter encodes in any inbound API.
"""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from typing import Any

from ..providers import inbound_anthropic_encode as anthropic_out
from ..providers import inbound_openai_encode as openai_out
from ..providers import inbound_openai_responses_encode as responses_out
from ..providers._common import json_bytes
from ..providers._inbound_check import InboundRequest
from ..providers.inbound_anthropic import decode_messages
from ..providers.inbound_openai import decode_chat, decode_completions
from ..providers.inbound_openai_responses import decode_responses
from ..types import Chunk, ModelResponse, Usage
from .replies import Protocol, error_event

__all__ = [
    "ANTHROPIC_MESSAGES",
    "API",
    "OPENAI_CHAT",
    "OPENAI_COMPLETIONS",
    "OPENAI_RESPONSES",
    "StreamWriter",
]


def _new_id(prefix: str) -> str:
    return prefix + os.urandom(12).hex()


class StreamWriter(ABC):
    """Turns one answer's chunks into the bytes of its event stream."""

    protocol: Protocol

    @abstractmethod
    def feed(self, chunk: Chunk) -> bytes: ...

    @abstractmethod
    def close(self) -> bytes:
        """The events that end a complete answer."""

    def fail(self, exc: BaseException) -> bytes:
        """The error event that ends a broken stream (never the clean end)."""
        return error_event(self.protocol, exc)


class API(ABC):
    """One inbound endpoint."""

    protocol: Protocol
    api: str
    """The ``ModelAlias.api`` of an upstream speaking the same format (chat, completions, messages)."""

    @abstractmethod
    def decode(self, body: bytes, *, max_bytes: int) -> InboundRequest: ...

    @abstractmethod
    def encode(self, response: ModelResponse, inbound: InboundRequest) -> bytes: ...

    @abstractmethod
    def writer(self, inbound: InboundRequest, first: Chunk) -> StreamWriter: ...


class _OpenAIWriter(StreamWriter):
    protocol: Protocol = "openai"

    def __init__(self, encoder: openai_out.ChatStreamEncoder | openai_out.CompletionStreamEncoder) -> None:
        self.encoder = encoder

    def feed(self, chunk: Chunk) -> bytes:
        return self.encoder.feed_sse(chunk)

    def close(self) -> bytes:
        return b"".join(openai_out.sse_data(doc) for doc in self.encoder.close()) + openai_out.SSE_DONE


class _ChatWriter(_OpenAIWriter):
    """Chat chunks; a coalesced chunk's own events from an OpenAI-format upstream are relayed as they
    came (``ChatStreamEncoder.relay``), not decoded and encoded again."""

    def __init__(self, encoder: openai_out.ChatStreamEncoder) -> None:
        super().__init__(encoder)
        self.relay = encoder.relay

    def feed(self, chunk: Chunk) -> bytes:
        raw = self.relay(chunk)
        return self.encoder.feed_sse(chunk) if raw is None else raw


class _OpenAIChat(API):
    protocol: Protocol = "openai"
    api = "chat"

    def decode(self, body: bytes, *, max_bytes: int) -> InboundRequest:
        return decode_chat(body, max_bytes=max_bytes)

    def encode(self, response: ModelResponse, inbound: InboundRequest) -> bytes:
        return json_bytes(openai_out.chat_completion(response, created=response.created or int(time.time())))

    def writer(self, inbound: InboundRequest, first: Chunk) -> StreamWriter:
        encoder = openai_out.ChatStreamEncoder(
            id=first.id or _new_id("chatcmpl-"),
            model=first.model or inbound.request.model,
            created=int(time.time()),
            include_usage=inbound.include_usage,
        )
        return _ChatWriter(encoder)


class _OpenAICompletions(API):
    protocol: Protocol = "openai"
    api = "completions"

    def decode(self, body: bytes, *, max_bytes: int) -> InboundRequest:
        return decode_completions(body, max_bytes=max_bytes)

    def encode(self, response: ModelResponse, inbound: InboundRequest) -> bytes:
        return json_bytes(openai_out.completion(response, created=response.created or int(time.time())))

    def writer(self, inbound: InboundRequest, first: Chunk) -> StreamWriter:
        encoder = openai_out.CompletionStreamEncoder(
            id=first.id or _new_id("cmpl-"),
            model=first.model or inbound.request.model,
            created=int(time.time()),
            include_usage=inbound.include_usage,
        )
        return _OpenAIWriter(encoder)


class _AnthropicWriter(StreamWriter):
    protocol: Protocol = "anthropic"

    def __init__(self, encoder: anthropic_out.MessageStreamEncoder) -> None:
        self.encoder = encoder
        self.started = False

    def _events(self, events: list[tuple[str, dict[str, Any]]]) -> bytes:
        return b"".join(anthropic_out.sse_event(name, doc) for name, doc in events)

    def feed(self, chunk: Chunk) -> bytes:
        head = b""
        if not self.started:
            self.started = True
            if chunk.usage is not None:
                self.encoder.usage = chunk.usage
            head = self._events(self.encoder.start())
        return head + self._events(self.encoder.feed(chunk))

    def close(self) -> bytes:
        events = self.encoder.close()
        # The final usage in full (input and cache counts too): an OpenAI-format upstream reports
        # them only at the end, after message_start went out; the SDK takes them from message_delta.
        usage: Usage = self.encoder.usage
        for name, doc in events:
            if name == "message_delta":
                doc["usage"] = anthropic_out.message_usage(usage)
        return self._events(events)


class _AnthropicMessages(API):
    protocol: Protocol = "anthropic"
    api = "messages"

    def decode(self, body: bytes, *, max_bytes: int) -> InboundRequest:
        return decode_messages(body, max_bytes=max_bytes)

    def encode(self, response: ModelResponse, inbound: InboundRequest) -> bytes:
        return json_bytes(anthropic_out.message(response))

    def writer(self, inbound: InboundRequest, first: Chunk) -> StreamWriter:
        encoder = anthropic_out.MessageStreamEncoder(
            id=first.id or _new_id("msg_"), model=first.model or inbound.request.model
        )
        return _AnthropicWriter(encoder)


class _ResponsesWriter(StreamWriter):
    protocol: Protocol = "openai"

    def __init__(self, encoder: responses_out.ResponseStreamEncoder) -> None:
        self.encoder = encoder
        self.started = False

    def _events(self, events: list[dict[str, Any]]) -> bytes:
        return b"".join(responses_out.sse_event(doc) for doc in events)

    def feed(self, chunk: Chunk) -> bytes:
        head = b""
        if not self.started:
            self.started = True
            head = self._events(self.encoder.start())
        return head + self._events(self.encoder.feed(chunk))

    def close(self) -> bytes:
        return self._events(self.encoder.close())

    def fail(self, exc: BaseException) -> bytes:
        """``response.failed``: the Responses API's end of a broken stream."""
        message = f"the stream broke: {type(exc).__name__}: {exc}"
        return self._events(self.encoder.failed(message, code=responses_out.error_code_for(exc)))


class _OpenAIResponses(API):
    protocol: Protocol = "openai"
    api = "responses"

    def decode(self, body: bytes, *, max_bytes: int) -> InboundRequest:
        return decode_responses(body, max_bytes=max_bytes)

    def encode(self, response: ModelResponse, inbound: InboundRequest) -> bytes:
        created = response.created or int(time.time())
        return json_bytes(responses_out.response_object(response, request=inbound.request, created=created))

    def writer(self, inbound: InboundRequest, first: Chunk) -> StreamWriter:
        encoder = responses_out.ResponseStreamEncoder(
            id=first.id or _new_id("resp_"),
            model=first.model or inbound.request.model,
            created=int(time.time()),
            request=inbound.request,
        )
        return _ResponsesWriter(encoder)


OPENAI_CHAT: API = _OpenAIChat()
OPENAI_COMPLETIONS: API = _OpenAICompletions()
ANTHROPIC_MESSAGES: API = _AnthropicMessages()
OPENAI_RESPONSES: API = _OpenAIResponses()

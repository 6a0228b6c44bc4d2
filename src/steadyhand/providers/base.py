"""The small interfaces the model layer is built on.

A *wire format* turns a :class:`ModelRequest` into bytes and bytes back into responses and chunks,
with no I/O, so it is testable from canned bytes and any HTTP client can drive it. A *transport*
moves :class:`HTTPRequest` bytes. A :class:`Provider` is what the client (and every policy that wraps
a provider) calls: complete or stream, sync or async, each told about the call by a
:class:`~steadyhand.CallContext` (deadline, span, attempt).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol

from ..context import NO_CONTEXT, CallContext
from ..timeouts import Timeouts
from ..types import Chunk, ModelRequest, ModelResponse

__all__ = [
    "AsyncTransport",
    "Capabilities",
    "HTTPRequest",
    "HTTPResponse",
    "HTTPStream",
    "AsyncHTTPStream",
    "Provider",
    "StreamDecoder",
    "Timeouts",
    "Transport",
    "WireFormat",
]


@dataclass(frozen=True, slots=True)
class HTTPRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class HTTPResponse:
    status_code: int
    headers: Mapping[str, str]
    """Lower-cased header names."""
    body: bytes


@dataclass(slots=True)
class HTTPStream:
    """An open streamed response: status and headers are known, the body is read lazily."""

    status_code: int
    headers: Mapping[str, str]
    chunks: Iterator[bytes]


@dataclass(slots=True)
class AsyncHTTPStream:
    status_code: int
    headers: Mapping[str, str]
    chunks: AsyncIterator[bytes]


class Transport(Protocol):
    """Moves bytes synchronously. Raises ProviderConnectionError / ProviderTimeout, never httpx errors."""

    def send(self, request: HTTPRequest, *, timeouts: Timeouts) -> HTTPResponse: ...

    def stream(self, request: HTTPRequest, *, timeouts: Timeouts) -> AbstractContextManager[HTTPStream]: ...

    def close(self) -> None: ...


class AsyncTransport(Protocol):
    async def send(self, request: HTTPRequest, *, timeouts: Timeouts) -> HTTPResponse: ...

    def stream(
        self, request: HTTPRequest, *, timeouts: Timeouts
    ) -> AbstractAsyncContextManager[AsyncHTTPStream]: ...

    async def aclose(self) -> None: ...


class StreamDecoder(Protocol):
    """Incremental, I/O-free decoder of one streamed response body."""

    def feed(self, data: bytes) -> list[Chunk]:
        """Decode the next bytes; raises a typed ProviderError for an in-band error event."""
        ...

    def close(self) -> list[Chunk]:
        """The body ended: return what is left, or raise StreamInterrupted if it ended too early."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """What a provider accepts, so requests are shaped to it rather than rejected by it."""

    response_formats: frozenset[Literal["text", "json_object", "json_object_schema", "json_schema"]] = (
        frozenset({"text", "json_object", "json_schema"})
    )
    """``json_object_schema``: json_object plus a ``schema`` key (llama.cpp's grammar-enforced mode)."""
    stream_usage: bool = True
    tools: bool = True
    seed: bool = True
    n: bool = True
    assistant_prefill: bool = True
    embeddings: bool = True
    prompt_overhead: int = 0
    """Prompt tokens the server's chat template adds that the local estimate cannot see (a default system
    prompt, the assistant turn's opening). Used only when usage is estimated; ``LocalModelServer``
    measures it at start from the server's own count."""
    extra: Mapping[str, object] = field(default_factory=dict)


class WireFormat(ABC):
    """One provider API's wire format: request building, response parsing, error mapping. No I/O."""

    name: ClassVar[str]

    @abstractmethod
    def build_request(self, request: ModelRequest, *, stream: bool) -> HTTPRequest: ...

    @abstractmethod
    def parse_response(self, response: HTTPResponse, request: ModelRequest) -> ModelResponse:
        """Parse a complete response; a non-2xx status raises the mapped typed error."""

    @abstractmethod
    def stream_decoder(self, request: ModelRequest) -> StreamDecoder: ...

    @abstractmethod
    def map_error(
        self, status_code: int, headers: Mapping[str, str], body: bytes, model: str | None
    ) -> Exception:
        """The typed error for an error response; returned, not raised, so callers choose."""


class Provider(ABC):
    """What the client calls. Policies (retry, fallback, cache...) are providers wrapping providers.

    Every method takes the call's :class:`~steadyhand.CallContext`: a provider must end its work by
    ``ctx.deadline``. One that cannot (a blocking function) leaves ``enforces_deadline`` False and the
    client runs it under a guard that abandons it at the deadline.
    """

    name: str
    enforces_deadline: bool = False
    """True when the provider itself stops at ``ctx.deadline`` (the HTTP driver does)."""

    @property
    def capabilities(self) -> Capabilities:
        """What this provider accepts; the default accepts everything."""
        return _ALL

    @abstractmethod
    def complete(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> ModelResponse: ...

    @abstractmethod
    def stream(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> Iterator[Chunk]: ...

    @abstractmethod
    async def acomplete(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> ModelResponse: ...

    @abstractmethod
    def astream(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> AsyncIterator[Chunk]: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has none."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release async connections; the default has none."""


_ALL = Capabilities()

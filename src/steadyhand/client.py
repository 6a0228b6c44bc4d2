"""The front door: :class:`Client` and :class:`AsyncClient`, kept in step by a parity test.

Both resolve a model alias to a pinned ``provider:model``, build a normalized request, call the
provider, and record one ``llm`` span when a tracer is given. Only the I/O differs between them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

from ._client_base import MessagesInput, StreamClosed, StreamCore, _BaseClient
from ._config import Config, Target
from .providers.base import AsyncTransport, Provider, Timeouts, Transport
from .providers.http_provider import call_timeouts
from .tracing.records import SpanSink
from .types import Chunk, ModelRequest, ModelResponse, ResponseFormat, Tool

__all__ = ["AsyncClient", "AsyncStream", "Client", "Stream"]


class Stream(StreamCore):
    """A streamed answer: a context manager and an iterator of :class:`Chunk`.

    After the last chunk, :attr:`response` is the assembled :class:`ModelResponse`.
    """

    def __init__(
        self, client: Client, target: Target, request: ModelRequest, tags: Mapping[str, str] | None
    ) -> None:
        super().__init__(client, target, request, tags)
        self._provider = client._provider(target)
        self._timeout: float | None = None
        self._iterator: Iterator[Chunk] | None = None

    def _open(self) -> Iterator[Chunk]:
        if self._iterator is None:
            with call_timeouts(self._timeout):
                self._iterator = self._provider.stream(self._request)
        return self._iterator

    def __iter__(self) -> Iterator[Chunk]:
        iterator = self._open()
        try:
            for chunk in iterator:
                self._seen(chunk)
                yield chunk
        except GeneratorExit:
            self.close()
            raise
        except BaseException as exc:
            self._failed(exc)
            raise
        self._finished()

    def text_stream(self) -> Iterator[str]:
        """Just the text of the first choice, piece by piece."""
        for chunk in self:
            if chunk.text and chunk.index == 0:
                yield chunk.text

    def until_done(self) -> ModelResponse:
        """Read what is left and return the assembled response."""
        for _ in self:
            pass
        return self.response

    def close(self) -> None:
        """Stop reading and release the connection; an unfinished stream is recorded as closed early."""
        if self._iterator is not None and hasattr(self._iterator, "close"):
            self._iterator.close()
        self._failed(StreamClosed())

    def __enter__(self) -> Stream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncStream(StreamCore):
    """The async twin of :class:`Stream`: ``async with client.stream(...) as s: async for chunk in s``."""

    def __init__(
        self, client: AsyncClient, target: Target, request: ModelRequest, tags: Mapping[str, str] | None
    ) -> None:
        super().__init__(client, target, request, tags)
        self._provider = client._provider(target)
        self._timeout: float | None = None
        self._iterator: AsyncIterator[Chunk] | None = None

    def _open(self) -> AsyncIterator[Chunk]:
        if self._iterator is None:
            with call_timeouts(self._timeout):
                self._iterator = self._provider.astream(self._request)
        return self._iterator

    async def __aiter__(self) -> AsyncIterator[Chunk]:
        iterator = self._open()
        try:
            async for chunk in iterator:
                self._seen(chunk)
                yield chunk
        except GeneratorExit:
            raise
        except BaseException as exc:
            self._failed(exc)
            raise
        self._finished()

    async def text_stream(self) -> AsyncIterator[str]:
        """Just the text of the first choice, piece by piece."""
        async for chunk in self:
            if chunk.text and chunk.index == 0:
                yield chunk.text

    async def until_done(self) -> ModelResponse:
        """Read what is left and return the assembled response."""
        async for _ in self:
            pass
        return self.response

    async def close(self) -> None:
        """Stop reading and release the connection; an unfinished stream is recorded as closed early."""
        aclose = getattr(self._iterator, "aclose", None)
        if aclose is not None:
            await aclose()
        self._failed(StreamClosed())

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class Client(_BaseClient):
    """Call models synchronously. ``Client()`` loads ``steadyhand.toml``/``STEADYHAND_*`` (see docs).

    ``providers`` injects providers by name (test doubles, your own adapters); ``tracer`` receives one
    span per call; ``timeouts`` are the limits for providers whose config sets none.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        providers: Mapping[str, Provider] | None = None,
        tracer: SpanSink | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        super().__init__(config, providers=providers, tracer=tracer, timeouts=timeouts)
        self._pools: dict[str, Transport] = {}

    def _transports(self, provider: str) -> tuple[Transport | None, AsyncTransport | None]:
        pool = self._pools.get(provider)
        if pool is None:
            from .providers.http import HttpxTransport

            pool = HttpxTransport()
            if self._cassette is not None:
                from .sim.cassette import CassetteTransport

                pool = CassetteTransport(self._cassette, pool)
            self._pools[provider] = pool
        return pool, None

    def chat(
        self,
        messages: MessagesInput,
        *,
        model: str = "default",
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        n: int | None = None,
        tools: Sequence[Tool | Mapping[str, Any]] | None = None,
        tool_choice: str | None = None,
        response_format: ResponseFormat | Mapping[str, Any] | None = None,
        timeout: float | None = None,
        tags: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> ModelResponse:
        """Ask ``model`` (an alias or ``provider:model``) and return its complete answer.

        ``timeout`` caps the whole call in seconds; ``extra`` adds provider-specific body fields.
        """
        target = self._target(model)
        request = self._request(
            target, messages, temperature=temperature, max_tokens=max_tokens, stop=stop, seed=seed, n=n,
            tools=tools, tool_choice=tool_choice, response_format=response_format, extra=extra,
        )  # fmt: skip
        provider = self._provider(target)
        start = time.time()
        try:
            if timeout is None:
                response = provider.complete(request)
            else:
                with call_timeouts(timeout):
                    response = provider.complete(request)
        except BaseException as exc:
            self._record(target, request, start, error=exc, tags=tags)
            raise
        self._record(target, request, start, response=response, tags=tags)
        return response

    def stream(
        self,
        messages: MessagesInput,
        *,
        model: str = "default",
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        n: int | None = None,
        tools: Sequence[Tool | Mapping[str, Any]] | None = None,
        tool_choice: str | None = None,
        response_format: ResponseFormat | Mapping[str, Any] | None = None,
        timeout: float | None = None,
        tags: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Stream:
        """Like :meth:`chat`, streamed: ``with client.stream(...) as s: for chunk in s: ...``.

        The request goes out when iteration starts.
        """
        target = self._target(model)
        request = self._request(
            target, messages, temperature=temperature, max_tokens=max_tokens, stop=stop, seed=seed, n=n,
            tools=tools, tool_choice=tool_choice, response_format=response_format, extra=extra,
        )  # fmt: skip
        stream = Stream(self, target, request, tags)
        stream._timeout = timeout
        return stream

    def close(self) -> None:
        """Close every provider this client built or was given."""
        for provider in self._close_order():
            provider.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncClient(_BaseClient):
    """Call models asynchronously; the same API as :class:`Client` with ``await``."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        providers: Mapping[str, Provider] | None = None,
        tracer: SpanSink | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        super().__init__(config, providers=providers, tracer=tracer, timeouts=timeouts)
        self._pools: dict[str, AsyncTransport] = {}

    def _transports(self, provider: str) -> tuple[Transport | None, AsyncTransport | None]:
        pool = self._pools.get(provider)
        if pool is None:
            from .providers.http import AsyncHttpxTransport

            pool = AsyncHttpxTransport()
            if self._cassette is not None:
                from .sim.cassette import AsyncCassetteTransport

                pool = AsyncCassetteTransport(self._cassette, pool)
            self._pools[provider] = pool
        return None, pool

    async def chat(
        self,
        messages: MessagesInput,
        *,
        model: str = "default",
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        n: int | None = None,
        tools: Sequence[Tool | Mapping[str, Any]] | None = None,
        tool_choice: str | None = None,
        response_format: ResponseFormat | Mapping[str, Any] | None = None,
        timeout: float | None = None,
        tags: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> ModelResponse:
        """Ask ``model`` (an alias or ``provider:model``) and return its complete answer."""
        target = self._target(model)
        request = self._request(
            target, messages, temperature=temperature, max_tokens=max_tokens, stop=stop, seed=seed, n=n,
            tools=tools, tool_choice=tool_choice, response_format=response_format, extra=extra,
        )  # fmt: skip
        provider = self._provider(target)
        start = time.time()
        try:
            with call_timeouts(timeout):
                response = await provider.acomplete(request)
        except BaseException as exc:
            self._record(target, request, start, error=exc, tags=tags)
            raise
        self._record(target, request, start, response=response, tags=tags)
        return response

    def stream(
        self,
        messages: MessagesInput,
        *,
        model: str = "default",
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: str | Sequence[str] | None = None,
        seed: int | None = None,
        n: int | None = None,
        tools: Sequence[Tool | Mapping[str, Any]] | None = None,
        tool_choice: str | None = None,
        response_format: ResponseFormat | Mapping[str, Any] | None = None,
        timeout: float | None = None,
        tags: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> AsyncStream:
        """Like :meth:`chat`, streamed: ``async with client.stream(...) as s: async for chunk in s``."""
        target = self._target(model)
        request = self._request(
            target, messages, temperature=temperature, max_tokens=max_tokens, stop=stop, seed=seed, n=n,
            tools=tools, tool_choice=tool_choice, response_format=response_format, extra=extra,
        )  # fmt: skip
        stream = AsyncStream(self, target, request, tags)
        stream._timeout = timeout
        return stream

    async def aclose(self) -> None:
        """Close every provider this client built or was given."""
        for provider in self._close_order():
            await provider.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

"""The async front door: :class:`AsyncClient` and :class:`AsyncStream`, the twins of ``client.py``'s
:class:`~steadyhand.Client` and :class:`~steadyhand.Stream` (kept in step by a parity test)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._client_base import AfterHook, Call, MessagesInput, StreamClosed, StreamCore, _BaseClient, call_params
from ._client_structured import AsyncStructuredCalls
from ._config import Config, Target
from .context import TrafficClass
from .policies.stack import Policy, SharedState
from .providers.base import AsyncTransport, Provider
from .timeouts import Timeouts
from .tracing.context import reset_span, use_span
from .tracing.records import SpanSink
from .types import Chunk, ModelRequest, ModelResponse, ResponseFormat, Tool

if TYPE_CHECKING:
    from .prompts.prompt import Prompt

__all__ = ["AsyncClient", "AsyncStream"]


class AsyncStream(StreamCore):
    """The async twin of :class:`Stream`: ``async with client.stream(...) as s: async for chunk in s``."""

    def __init__(self, client: AsyncClient, call: Call, timeout: float | None) -> None:
        super().__init__(client, call, timeout)
        self._provider = client._stack(call.target)
        self._iterator: AsyncIterator[Chunk] | None = None

    def _open(self) -> AsyncIterator[Chunk]:
        if self._iterator is None:
            ctx = self._begin()
            self._iterator = self._provider.astream(self._call.request, ctx=ctx)
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


class AsyncClient(AsyncStructuredCalls, _BaseClient[AsyncTransport]):
    """Call models asynchronously; the same API as :class:`Client` with ``await``.

    Its default transport is steadyhand's own pooled HTTP/1.1 client on httptools (``async_transport =
    "aiohttp"`` or ``"httpx"`` in the config, or ``transport=AsyncHttpxTransport()``, picks another): it
    costs the least CPU per call, and httpx's async pool loses throughput under concurrency
    (benchmarks/bench_async_transports.py, bench_async_concurrency.py).
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        providers: Mapping[str, Provider] | None = None,
        tracer: SpanSink | None = None,
        timeouts: Timeouts | None = None,
        transport: AsyncTransport | None = None,
        policies: Sequence[Policy] = (),
        state: SharedState | None = None,
        traffic: TrafficClass = "production",
    ) -> None:
        super().__init__(
            config, providers=providers, tracer=tracer, timeouts=timeouts, transport=transport,
            policies=policies, state=state, traffic=traffic,
        )  # fmt: skip

    def _build(self, target: Target) -> Provider:
        def make() -> AsyncTransport:
            from .providers.http_provider import default_async_transport

            return default_async_transport(self.config.async_transport)

        def wrap(cassette: Any, inner: AsyncTransport) -> AsyncTransport:
            from .providers.cassette import AsyncCassetteTransport

            return AsyncCassetteTransport(cassette, inner)

        return self._build_http(target, async_transport=self._pool(target.provider, make, wrap))

    async def _run(self, call: Call, after: AfterHook | None = None) -> ModelResponse:
        provider = self._stack(call.target)
        span = call.ctx.span
        token = None if span is None else use_span(span.context)
        try:
            response = await provider.acomplete(call.request, ctx=call.ctx)
        except BaseException as exc:
            self._record(call, error=exc)
            raise
        finally:
            if token is not None:
                reset_span(token)
        if after is not None:
            after(call, response)
        self._record(call, response=response)
        return response

    async def chat(
        self,
        messages: MessagesInput,
        *,
        model: str = "default",
        temperature: float | None = None,
        top_p: float | None = None,
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
        traffic: TrafficClass | None = None,
        cache: bool = True,
    ) -> ModelResponse:
        """Ask ``model`` (an alias or ``provider:model``) and return its complete answer."""
        params = call_params(
            temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=stop, seed=seed, n=n,
            tools=tools, tool_choice=tool_choice, response_format=response_format, extra=extra,
        )  # fmt: skip
        target, request, notes = self._chat_request(model, messages, params)
        return await self._run(
            self._open(target, request, timeout=timeout, tags=tags, notes=notes, traffic=traffic, cache=cache)
        )

    async def complete(
        self,
        request: ModelRequest,
        *,
        model: str | None = None,
        timeout: float | None = None,
        tags: Mapping[str, str] | None = None,
        traffic: TrafficClass | None = None,
        cache: bool = True,
    ) -> ModelResponse:
        """Answer a ready request; ``request.model`` (or ``model``) is an alias or ``provider:model``."""
        target, checked, notes = self._given_request(request, model)
        return await self._run(
            self._open(target, checked, timeout=timeout, tags=tags, notes=notes, traffic=traffic, cache=cache)
        )

    def stream(
        self,
        messages: MessagesInput,
        *,
        model: str = "default",
        temperature: float | None = None,
        top_p: float | None = None,
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
        traffic: TrafficClass | None = None,
        cache: bool = True,
    ) -> AsyncStream:
        """Like :meth:`chat`, streamed: ``async with client.stream(...) as s: async for chunk in s``."""
        params = call_params(
            temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=stop, seed=seed, n=n,
            tools=tools, tool_choice=tool_choice, response_format=response_format, extra=extra,
        )  # fmt: skip
        target, request, notes = self._chat_request(model, messages, params)
        return AsyncStream(
            self,
            self._open(target, request, timeout=None, tags=tags, notes=notes, traffic=traffic, cache=cache),
            timeout,
        )

    def complete_stream(
        self,
        request: ModelRequest,
        *,
        model: str | None = None,
        timeout: float | None = None,
        tags: Mapping[str, str] | None = None,
        traffic: TrafficClass | None = None,
        cache: bool = True,
        coalesce: bool = False,
    ) -> AsyncStream:
        """The streamed twin of :meth:`complete`.

        ``coalesce=True``: plain text events that arrive together come as one chunk, with their bytes as
        the provider sent them on ``Chunk.raw_events`` (OpenAI chat): what a gateway relays."""
        target, checked, notes = self._given_request(request, model)
        return AsyncStream(
            self,
            self._open(
                target,
                checked,
                timeout=None,
                tags=tags,
                notes=notes,
                traffic=traffic,
                cache=cache,
                coalesce=coalesce,
            ),
            timeout,
        )

    async def run(
        self,
        prompt: Prompt,
        variables: Mapping[str, Any] | None = None,
        /,
        *,
        timeout: float | None = None,
        tags: Mapping[str, str] | None = None,
        traffic: TrafficClass | None = None,
        **kwargs: Any,
    ) -> ModelResponse:
        """Render ``prompt`` and ask its pinned model (see :meth:`Client.run`)."""
        target, request, notes, use = self._prompt_request(prompt, variables, kwargs)
        call = self._open(
            target, request, timeout=timeout, tags=tags, notes=notes, traffic=traffic, prompt=use
        )
        return await self._run(call)

    def run_stream(
        self,
        prompt: Prompt,
        variables: Mapping[str, Any] | None = None,
        /,
        *,
        timeout: float | None = None,
        tags: Mapping[str, str] | None = None,
        traffic: TrafficClass | None = None,
        **kwargs: Any,
    ) -> AsyncStream:
        """Like :meth:`run`, streamed: ``async with client.run_stream(prompt, ticket=...) as s: ...``."""
        target, request, notes, use = self._prompt_request(prompt, variables, kwargs)
        call = self._open(target, request, timeout=None, tags=tags, notes=notes, traffic=traffic, prompt=use)
        return AsyncStream(self, call, timeout)

    async def aclose(self) -> None:
        """Close every provider this client built or was given (and the state it opened)."""
        for provider in self._close_order():
            await provider.aclose()
        if self._owns_state:
            await self.state.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

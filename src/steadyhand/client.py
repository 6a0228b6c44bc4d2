"""The front door: :class:`Client` and :class:`AsyncClient`, kept in step by a parity test.

Both resolve a model alias to a pinned ``provider:model``, check the arguments into a normalized
request, open the call (its span and deadline), and hand it to the target's provider stack. Only the
I/O differs between them. ``complete``/``complete_stream`` take a ready :class:`ModelRequest`: the
entry point for servers that decode a request body themselves. The async twins live in
``_client_async`` and are importable from here as before.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._client_async import AsyncClient, AsyncStream
from ._client_base import AfterHook, Call, MessagesInput, StreamClosed, StreamCore, _BaseClient, call_params
from ._client_structured import StructuredCalls
from ._config import Config, Target
from .context import TrafficClass
from .policies.stack import Policy, SharedState
from .providers.base import Provider, Transport
from .timeouts import Timeouts
from .tracing.context import reset_span, use_span
from .tracing.records import SpanSink
from .types import Chunk, ModelRequest, ModelResponse, ResponseFormat, Tool

if TYPE_CHECKING:
    from .prompts.prompt import Prompt

__all__ = ["AsyncClient", "AsyncStream", "Client", "Stream"]


class Stream(StreamCore):
    """A streamed answer: a context manager and an iterator of :class:`Chunk`.

    After the last chunk, :attr:`response` is the assembled :class:`ModelResponse`.
    """

    def __init__(self, client: Client, call: Call, timeout: float | None) -> None:
        super().__init__(client, call, timeout)
        self._provider = client._stack(call.target)
        self._iterator: Iterator[Chunk] | None = None

    def _open(self) -> Iterator[Chunk]:
        if self._iterator is None:
            ctx = self._begin()
            self._iterator = self._provider.stream(self._call.request, ctx=ctx)
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


class Client(StructuredCalls, _BaseClient[Transport]):
    """Call models synchronously. ``Client()`` loads ``steadyhand.toml``/``STEADYHAND_*`` (see docs).

    ``providers`` injects providers by name (test doubles, your own adapters); ``tracer`` receives one
    span per call; ``timeouts`` are the limits for providers whose config sets none; ``transport``
    moves the bytes of every provider built from config (default: steadyhand's own pooled HTTP/1.1
    client, see config ``sync_transport``); ``policies`` wrap each target's provider, innermost first
    (see :mod:`steadyhand.policies`); ``state`` is what the policies share (pass one object to several
    clients); ``traffic`` labels every call's context.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        providers: Mapping[str, Provider] | None = None,
        tracer: SpanSink | None = None,
        timeouts: Timeouts | None = None,
        transport: Transport | None = None,
        policies: Sequence[Policy] = (),
        state: SharedState | None = None,
        traffic: TrafficClass = "production",
    ) -> None:
        super().__init__(
            config, providers=providers, tracer=tracer, timeouts=timeouts, transport=transport,
            policies=policies, state=state, traffic=traffic,
        )  # fmt: skip

    def _build(self, target: Target) -> Provider:
        def make() -> Transport:
            from .providers.http_provider import default_transport

            return default_transport(self.config.sync_transport)

        def wrap(cassette: Any, inner: Transport) -> Transport:
            from .providers.cassette import CassetteTransport

            return CassetteTransport(cassette, inner)

        return self._build_http(target, transport=self._pool(target.provider, make, wrap))

    def _run(self, call: Call, after: AfterHook | None = None) -> ModelResponse:
        provider = self._stack(call.target)
        span = call.ctx.span
        token = None if span is None else use_span(span.context)
        try:
            response = provider.complete(call.request, ctx=call.ctx)
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

    def chat(
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
        """Ask ``model`` (an alias or ``provider:model``) and return its complete answer.

        ``timeout`` is the whole call's deadline in seconds; ``extra`` adds body fields of the target's
        wire format (see docs/client.md); ``traffic`` overrides the client's traffic class for this
        call (its rate-limit share, see docs/policies.md); ``cache=False`` neither reads nor fills the
        alias's cache. A wrong argument raises :class:`~steadyhand.InvalidRequest`.
        """
        params = call_params(
            temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=stop, seed=seed, n=n,
            tools=tools, tool_choice=tool_choice, response_format=response_format, extra=extra,
        )  # fmt: skip
        target, request, notes = self._chat_request(model, messages, params)
        return self._run(
            self._open(target, request, timeout=timeout, tags=tags, notes=notes, traffic=traffic, cache=cache)
        )

    def complete(
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
        return self._run(
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
    ) -> Stream:
        """Like :meth:`chat`, streamed: ``with client.stream(...) as s: for chunk in s: ...``.

        The request goes out when iteration starts; ``timeout`` counts from then.
        """
        params = call_params(
            temperature=temperature, top_p=top_p, max_tokens=max_tokens, stop=stop, seed=seed, n=n,
            tools=tools, tool_choice=tool_choice, response_format=response_format, extra=extra,
        )  # fmt: skip
        target, request, notes = self._chat_request(model, messages, params)
        return Stream(
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
    ) -> Stream:
        """The streamed twin of :meth:`complete`.

        ``coalesce=True``: plain text events that arrive together come as one chunk, with their bytes as
        the provider sent them on ``Chunk.raw_events`` (OpenAI chat): what a gateway relays."""
        target, checked, notes = self._given_request(request, model)
        return Stream(
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

    def run(
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
        """Render ``prompt`` with its variables (``client.run(prompt, ticket=...)`` or a mapping) and ask
        its pinned model with its pinned parameters. A missing, mistyped or undeclared variable raises
        :class:`~steadyhand.PromptRenderError` before anything is sent; the call's span links the exact
        version, the label, where the prompt came from and the variables.
        """
        target, request, notes, use = self._prompt_request(prompt, variables, kwargs)
        call = self._open(
            target, request, timeout=timeout, tags=tags, notes=notes, traffic=traffic, prompt=use
        )
        return self._run(call)

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
    ) -> Stream:
        """Like :meth:`run`, streamed: ``with client.run_stream(prompt, ticket=...) as s: ...``."""
        target, request, notes, use = self._prompt_request(prompt, variables, kwargs)
        return Stream(
            self,
            self._open(target, request, timeout=None, tags=tags, notes=notes, traffic=traffic, prompt=use),
            timeout,
        )

    def close(self) -> None:
        """Close every provider this client built or was given (and the state it opened)."""
        for provider in self._close_order():
            provider.close()
        if self._owns_state:
            self.state.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

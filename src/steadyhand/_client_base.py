"""The I/O-free half of the client: alias resolution, request building, span building, stream bookkeeping.

:class:`~steadyhand.Client` and :class:`~steadyhand.AsyncClient` add only the calls that do I/O.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._config import Config, Target, is_pinned
from .errors import ConfigurationError
from .providers._common import assemble
from .providers.base import AsyncTransport, Provider, Timeouts, Transport
from .providers.registry import build_provider
from .tracing.context import current_span
from .tracing.records import SpanRecord, SpanSink, fill_usage
from .types import Chunk, Message, ModelRequest, ModelResponse, ResponseFormat, Tool

if TYPE_CHECKING:
    from .sim.cassette import Cassette

__all__ = ["MessagesInput", "StreamCore", "_BaseClient"]

log = logging.getLogger("steadyhand.client")

MessagesInput = str | Message | Mapping[str, Any] | Sequence[Message | Mapping[str, Any]]
"""A plain string (one user message), a message, or a list of ``Message`` objects or dicts."""


def _message(item: Message | Mapping[str, Any]) -> Message:
    if isinstance(item, Message):
        return item
    if isinstance(item, Mapping):
        return Message.model_validate(item)
    raise ConfigurationError(f"a message must be a Message or a dict with role and content, not {item!r}")


def to_messages(messages: MessagesInput) -> list[Message]:
    if isinstance(messages, str):
        return [Message.model_construct(role="user", content=messages)]
    if isinstance(messages, Message | Mapping):
        return [_message(messages)]
    out = [_message(m) for m in messages]
    if not out:
        raise ConfigurationError("messages is empty; pass at least one message (or a plain string)")
    return out


class _BaseClient:
    """Shared state and pure logic; never does I/O itself."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        providers: Mapping[str, Provider] | None = None,
        tracer: SpanSink | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.config = Config.load() if config is None else config
        self._injected: dict[str, Provider] = dict(providers or {})
        self._tracer = tracer
        self._timeouts = timeouts
        self._targets: dict[str, Target] = {}
        self._built: dict[tuple[str, str], Provider] = {}
        self._warned: set[str] = set()
        self._cassette: Cassette | None = None
        if self.config.cassette:  # imported only when used: it loads the simulator package
            from .sim.cassette import Cassette

            self._cassette = Cassette(self.config.cassette, mode=self.config.cassette_mode)

    # -- resolution ---------------------------------------------------------------------------------

    def _target(self, model: str) -> Target:
        target = self._targets.get(model)
        if target is None:
            target = self.config.resolve(model, extra_providers=self._injected)
            self._warn_if_floating(target)
            self._targets[model] = target
        return target

    def _warn_if_floating(self, target: Target) -> None:
        if target.provider in self._injected:
            return  # the caller's own provider: its names are its business
        kind = self.config.all_providers()[target.provider].kind
        if kind == "sim" or is_pinned(target.model) or target.model in self._warned:
            return
        self._warned.add(target.model)
        log.warning(
            "model %r (via %r) is not pinned: the provider may change it under you; "
            "point the alias at a dated snapshot (like gpt-4o-2024-08-06 or claude-haiku-4-5-20251001)",
            target.model,
            target.alias,
        )

    def _provider(self, target: Target) -> Provider:
        injected = self._injected.get(target.provider)
        if injected is not None:
            return injected
        key = (target.provider, target.api)
        provider = self._built.get(key)
        if provider is None:
            transport, async_transport = self._transports(target.provider)
            provider = self._built[key] = build_provider(
                target.provider,
                api=target.api,
                config=self.config,
                timeouts=self._timeouts,
                transport=transport,
                async_transport=async_transport,
            )
        return provider

    def _transports(self, provider: str) -> tuple[Transport | None, AsyncTransport | None]:
        """The transports for a provider built from config; one pool per provider, shared by its APIs."""
        raise NotImplementedError

    # -- requests -----------------------------------------------------------------------------------

    @staticmethod
    def _request(
        target: Target,
        messages: MessagesInput,
        *,
        temperature: float | None,
        max_tokens: int | None,
        stop: str | Sequence[str] | None,
        seed: int | None,
        n: int | None,
        tools: Sequence[Tool | Mapping[str, Any]] | None,
        tool_choice: str | None,
        response_format: ResponseFormat | Mapping[str, Any] | None,
        extra: Mapping[str, Any] | None,
    ) -> ModelRequest:
        fields: dict[str, Any] = {"model": target.model, "messages": to_messages(messages)}
        if temperature is not None:
            fields["temperature"] = temperature
        if max_tokens is not None:
            fields["max_tokens"] = max_tokens
        if stop is not None:
            fields["stop"] = [stop] if isinstance(stop, str) else list(stop)
        if seed is not None:
            fields["seed"] = seed
        if n is not None:
            fields["n"] = n
        if tools is not None:
            fields["tools"] = [t if isinstance(t, Tool) else Tool.model_validate(t) for t in tools]
        if tool_choice is not None:
            fields["tool_choice"] = tool_choice
        if response_format is not None:
            fields["response_format"] = (
                response_format
                if isinstance(response_format, ResponseFormat)
                else ResponseFormat.model_validate(response_format)
            )
        fields["extra"] = dict(extra) if extra else {}
        return ModelRequest.model_construct(**fields)

    # -- tracing ------------------------------------------------------------------------------------

    def _record(
        self,
        target: Target,
        request: ModelRequest,
        start: float,
        *,
        response: ModelResponse | None = None,
        error: BaseException | None = None,
        first_token: float | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        """Send one ``llm`` span to the tracer; never raises into the caller."""
        if self._tracer is None:
            return
        try:
            self._tracer.record(span_for(self, target, request, start, response, error, first_token, tags))
        except Exception:  # the tracer must never break a call
            log.exception("the tracer failed to record a span; the call itself is unaffected")

    def _close_order(self) -> list[Provider]:
        return [*self._built.values(), *self._injected.values()]


def span_for(
    client: _BaseClient,
    target: Target,
    request: ModelRequest,
    start: float,
    response: ModelResponse | None,
    error: BaseException | None,
    first_token: float | None,
    tags: Mapping[str, str] | None,
) -> SpanRecord:
    parent = current_span()
    span = SpanRecord(
        name=f"chat {target.alias}",
        kind="llm",
        start_time=start,
        end_time=time.time(),
        first_token_time=first_token,
        project=parent.project if parent else client.config.project,
        model_alias=target.alias,
        provider=target.provider,
        model=target.model,
        request=request.model_dump(mode="json", exclude_none=True),
        tags=dict(tags or {}),
    )
    if parent is not None:
        span.trace_id = parent.trace_id
        span.parent_id = parent.span_id
    if error is not None:
        span.status = "error"
        span.error_type = type(error).__name__
        span.error_message = str(error)
    if response is not None:
        span.response_model = response.model
        span.response = response.model_dump(mode="json", exclude_none=True)
        span.finish_reason = response.finish_reason
        fill_usage(span, response.usage)
    return span


class StreamCore:
    """What Stream and AsyncStream share: the chunks so far, timing, the final response and the span."""

    def __init__(
        self, client: _BaseClient, target: Target, request: ModelRequest, tags: Mapping[str, str] | None
    ) -> None:
        self._client = client
        self._target = target
        self._request = request
        self._tags = tags
        self._chunks: list[Chunk] = []
        self._response: ModelResponse | None = None
        self._done = False
        self.start_time = time.time()
        self.first_token_time: float | None = None
        """Unix time of the first chunk with text or a tool call."""

    def _seen(self, chunk: Chunk) -> None:
        if self.first_token_time is None and (chunk.text or chunk.tool_calls):
            self.first_token_time = time.time()
        self._chunks.append(chunk)

    def _finished(self) -> None:
        if self._done:
            return
        self._done = True
        self._response = assemble(self._chunks, provider=self._target.provider, model=self._request.model)
        self._client._record(
            self._target,
            self._request,
            self.start_time,
            response=self._response,
            first_token=self.first_token_time,
            tags=self._tags,
        )

    def _failed(self, error: BaseException) -> None:
        if self._done:
            return
        self._done = True
        partial = assemble(self._chunks, provider=self._target.provider, model=self._request.model)
        self._client._record(
            self._target,
            self._request,
            self.start_time,
            response=partial if self._chunks else None,
            error=error,
            first_token=self.first_token_time,
            tags=self._tags,
        )

    @property
    def response(self) -> ModelResponse:
        """The assembled answer, once the stream has been read to its end."""
        if self._response is None:
            raise ConfigurationError("the stream is not finished: iterate it to the end or call until_done()")
        return self._response

    @property
    def request(self) -> ModelRequest:
        return self._request


class StreamClosed(Exception):
    """Recorded on a stream's span when the caller stopped reading before the end (never raised)."""

    def __str__(self) -> str:
        return "the caller closed the stream before it finished"

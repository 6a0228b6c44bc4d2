"""The I/O-free half of the client: resolution, the provider stack, request checks, the call's span.

:class:`~steadyhand.Client` and :class:`~steadyhand.AsyncClient` add only the calls that do I/O. A
call goes: resolve the alias to a :class:`Target`; check the arguments into a :class:`ModelRequest`;
open the call (its ``llm`` span gets its ids and becomes current, its :class:`CallContext` gets the
deadline); hand both to the target's provider stack; record the span when the call ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, get_args

from ._config import Config, Target, is_pinned
from ._validate import MessagesInput, build_request, check_request
from .context import CallContext, CallReport, OpenSpan, TrafficClass
from .errors import ConfigurationError
from .policies.config import policies_from_config
from .policies.stack import Policy, SharedState, StackInfo, build_stack, guard
from .policies.state import open_state
from .providers._common import assemble
from .providers.base import Provider
from .providers.registry import build_provider
from .timeouts import Timeouts
from .tracing.context import SpanContext, current_span
from .tracing.records import SpanRecord, SpanSink, fill_usage, new_span_id, new_trace_id
from .types import Chunk, ModelRequest, ModelResponse

if TYPE_CHECKING:
    from .prompts.prompt import Prompt, PromptUse
    from .providers.cassette import Cassette

__all__ = ["AfterHook", "Call", "MessagesInput", "StreamClosed", "StreamCore", "_BaseClient", "call_params"]

log = logging.getLogger("steadyhand.client")

_T = TypeVar("_T")
_TRAFFIC = frozenset(get_args(TrafficClass))
_NO_RAW_USAGE: dict[str, Any] = {"usage": {"raw"}}
"""Left out of a span's ``response``: the provider's usage block is the span's ``usage_raw``."""


class Call:
    """One call in flight: what was asked, its context (deadline, span) and when it started."""

    __slots__ = ("ctx", "notes", "parent_id", "prompt", "request", "start", "tags", "target")

    def __init__(
        self,
        target: Target,
        request: ModelRequest,
        ctx: CallContext,
        tags: Mapping[str, str] | None,
        notes: list[str],
        parent_id: str | None,
    ) -> None:
        self.target = target
        self.request = request
        self.ctx = ctx
        self.tags = tags
        self.notes = notes
        self.parent_id = parent_id
        self.start = time.time()
        self.prompt: PromptUse | None = None
        """The prompt version, label, source and variables behind the call (``client.run``)."""


AfterHook = Callable[["Call", ModelResponse], None]
"""Called with a call's answer before its span is recorded (structured output notes the attempt)."""


class _BaseClient(Generic[_T]):
    """Shared state and pure logic; never does I/O itself. ``_T`` is the transport type."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        providers: Mapping[str, Provider] | None = None,
        tracer: SpanSink | None = None,
        timeouts: Timeouts | None = None,
        transport: _T | None = None,
        policies: Sequence[Policy] = (),
        state: SharedState | None = None,
        traffic: TrafficClass = "production",
    ) -> None:
        self.config = Config.load() if config is None else config
        self._injected: dict[str, Provider] = dict(providers or {})
        self._tracer = tracer
        self._timeouts = timeouts
        self._transport = transport
        # The alias tables of steadyhand.toml apply first (innermost); the caller's policies wrap them.
        self._policies = (policies_from_config, *policies)
        self._owns_state = state is None
        self.state = state if state is not None else open_state(self.config)
        """State the policies keep (breakers, limits); pass one object to several clients to share it."""
        self.traffic: TrafficClass = traffic
        self._targets: dict[str, Target] = {}
        self._built: dict[tuple[str, str], Provider] = {}
        self._guarded: dict[tuple[str, str], Provider] = {}
        self._stacks: dict[str, Provider] = {}
        self._building = threading.RLock()
        self._pools: dict[str, _T] = {}
        self._warned: set[str] = set()
        self._cassette: Cassette | None = None
        if self.config.cassette:
            from .providers.cassette import Cassette

            self._cassette = Cassette(self.config.cassette, mode=self.config.cassette_mode)

    # -- resolution and the provider stack ------------------------------------------------------------

    def resolve(self, model: str) -> Target:
        """The target an alias (or ``provider:model``) points at; raises ConfigurationError naming the fix."""
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

    def provider(self, target: Target) -> Provider:
        """The deadline-guarded provider serving ``target``, without policies (the :class:`Resolver` half)."""
        key = (target.provider, target.api)
        guarded = self._guarded.get(key)
        if guarded is None:
            with self._building:
                guarded = self._guarded.get(key)
                if guarded is None:
                    guarded = self._guarded[key] = guard(self._leaf(target))
        return guarded

    def _leaf(self, target: Target) -> Provider:
        injected = self._injected.get(target.provider)
        if injected is not None:
            return injected
        key = (target.provider, target.api)
        provider = self._built.get(key)
        if provider is None:
            with self._building:  # threads making their first calls at once build one provider, one pool
                provider = self._built.get(key)
                if provider is None:
                    provider = self._built[key] = self._build(target)
        return provider

    def _build(self, target: Target) -> Provider:
        raise NotImplementedError

    def _pool(self, provider: str, make: Any, wrap: Any) -> _T:
        """One transport per provider, shared by its APIs: the injected one, else ``make()`` (+ cassette)."""
        pool = self._pools.get(provider)
        if pool is None:
            pool = self._transport if self._transport is not None else make()
            if self._cassette is not None:
                pool = wrap(self._cassette, pool)
            self._pools[provider] = pool
        return pool

    def _build_http(self, target: Target, **transports: Any) -> Provider:
        return build_provider(
            target.provider, api=target.api, config=self.config, timeouts=self._timeouts, **transports
        )

    def _stack(self, target: Target) -> Provider:
        stack = self._stacks.get(target.alias)
        if stack is None:
            with self._building:
                stack = self._stacks.get(target.alias)
                if stack is None:
                    info = StackInfo(target=target, config=self.config, state=self.state, resolver=self)
                    stack = build_stack(self._leaf(target), info, self._policies)
                    self._stacks[target.alias] = stack
        return stack

    # -- calls ---------------------------------------------------------------------------------------

    def _chat_request(
        self, model: str, messages: MessagesInput, params: dict[str, Any]
    ) -> tuple[Target, ModelRequest, list[str]]:
        target = self.resolve(model)
        request, notes = build_request(target.model, messages, **params)
        return target, request, notes

    def _prompt_request(
        self, prompt: Prompt, variables: Mapping[str, Any] | None, kwargs: Mapping[str, Any]
    ) -> tuple[Target, ModelRequest, list[str], PromptUse]:
        """Render ``prompt`` (``PromptRenderError`` before anything is sent) into a request for its
        pinned model and parameters, and the record its trace keeps (version, label, source, variables).

        What ``client.run`` does; another call path (``client.structured``) can do the same and pass the
        ``PromptUse`` to :meth:`_open` so its span links the version.
        """
        values = prompt.bind(variables, **kwargs)
        messages = prompt._render_bound(values)
        target, request, notes = self._chat_request(prompt.model, messages, prompt.params)
        return target, request, notes, prompt.use(values)

    def _given_request(
        self, request: ModelRequest, model: str | None
    ) -> tuple[Target, ModelRequest, list[str]]:
        target = self.resolve(model or request.model)
        checked, notes = check_request(request)
        if checked.model != target.model:
            checked.model = target.model
        return target, checked, notes

    def _open(
        self,
        target: Target,
        request: ModelRequest,
        *,
        timeout: float | None,
        tags: Mapping[str, str] | None,
        notes: list[str],
        traffic: TrafficClass | None = None,
        cache: bool = True,
        prompt: PromptUse | None = None,
        json_from_text: bool = False,
        coalesce: bool = False,
    ) -> Call:
        """Start a call: allocate and open its span (when traced) and fix its deadline."""
        if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
            raise ConfigurationError(f"timeout must be a positive number of seconds, not {timeout!r}")
        span: OpenSpan | None = None
        parent_id: str | None = None
        if self._tracer is not None:
            parent = current_span()
            if parent is None:
                context = SpanContext(new_trace_id(), new_span_id(), self.config.project)
            else:
                context = SpanContext(parent.trace_id, new_span_id(), parent.project)
                parent_id = parent.span_id
            span = OpenSpan(context, self._tracer, tags)
        ctx = CallContext(
            deadline=None if timeout is None else time.monotonic() + timeout,
            span=span,
            traffic=self.traffic if traffic is None else _traffic(traffic),
            tags=tags or {},
            target=target,
            cache=cache,
            json_from_text=json_from_text,
            report=CallReport(),
            coalesce=coalesce,
        )
        call = Call(target, request, ctx, tags, notes, parent_id)
        call.prompt = prompt
        return call

    def _record(
        self,
        call: Call,
        *,
        response: ModelResponse | None = None,
        error: BaseException | None = None,
        first_token: float | None = None,
    ) -> None:
        """Send the call's ``llm`` span to the tracer; never raises into the caller."""
        if self._tracer is None or call.ctx.span is None:
            return
        try:
            self._tracer.record(span_for(call, call.ctx.span, response, error, first_token))
        except Exception:  # the tracer must never break a call
            log.exception("the tracer failed to record a span; the call itself is unaffected")

    def _close_order(self) -> list[Provider]:
        return [*self._built.values(), *self._injected.values()]


def call_params(**params: Any) -> dict[str, Any]:
    """The sampling keywords of ``chat``/``stream`` as one mapping (shared by both clients)."""
    return params


def _traffic(value: str) -> TrafficClass:
    if value not in _TRAFFIC:
        raise ConfigurationError(f"traffic must be one of {', '.join(sorted(_TRAFFIC))}, not {value!r}")
    return value  # type: ignore[return-value]


def span_for(
    call: Call,
    span: OpenSpan,
    response: ModelResponse | None,
    error: BaseException | None,
    first_token: float | None,
) -> SpanRecord:
    """The ``llm`` span of a finished call, naming the provider and model that answered."""
    target = call.target
    context = span.context
    attributes = span.attributes
    if call.notes:
        attributes = {**attributes, "steadyhand.adjusted": call.notes}
    tags = dict(call.tags or {})
    if call.prompt is not None:
        attributes = {**attributes, **call.prompt.attributes()}
        tags.update(call.prompt.tags())
        tags.setdefault("traffic", call.ctx.traffic)  # replay picks production inputs by it
    record = SpanRecord(
        name=f"chat {target.alias}",
        kind="llm",
        trace_id=context.trace_id,
        span_id=context.span_id,
        parent_id=call.parent_id,
        start_time=call.start,
        end_time=time.time(),
        first_token_time=first_token,
        project=context.project,
        model_alias=target.alias,
        provider=span.answered_provider or target.provider,
        model=span.answered_model or target.model,
        request=call.request.model_dump(mode="json", exclude_none=True),
        attributes=attributes,
        tags=tags,
        prompt_version=None if call.prompt is None else call.prompt.ref,
    )
    if error is not None:
        record.status = "error"
        record.error_type = type(error).__name__
        record.error_message = str(error)
    if response is not None:
        record.response_model = response.model
        # usage.raw is stored once, as the span's usage_raw (fill_usage): a fifth of the span's bytes.
        record.response = response.model_dump(mode="json", exclude_none=True, exclude=_NO_RAW_USAGE)
        record.finish_reason = response.finish_reason
        if response.degraded or getattr(response.route, "cache_hit", False):
            # No provider was paid for this answer: a cache hit or a degraded answer is not billed.
            record.input_tokens = record.output_tokens = 0
            record.cost_usd = 0.0
        else:
            fill_usage(record, response.usage)
    return record


class StreamCore:
    """What Stream and AsyncStream share: the chunks so far, timing, the final response and the span."""

    def __init__(self, client: _BaseClient[Any], call: Call, timeout: float | None) -> None:
        self._client = client
        self._call = call
        self._timeout = timeout
        self._chunks: list[Chunk] = []
        self._response: ModelResponse | None = None
        self._done = False
        self.start_time = time.time()
        self.first_token_time: float | None = None
        """Unix time of the first chunk with text or a tool call."""
        self.on_end: Callable[[], None] | None = None
        """Called once the stream has ended cleanly, before the answer is assembled and its span
        recorded: a gateway writes the end of its own answer here, so its client does not wait on them."""

    def _begin(self) -> CallContext:
        """The request goes out now: the deadline counts from here."""
        call = self._call
        if self._timeout is not None:
            call.ctx = call.ctx.replace(deadline=time.monotonic() + self._timeout)
        call.start = self.start_time = time.time()
        return call.ctx

    def _seen(self, chunk: Chunk) -> None:
        if self.first_token_time is None and (chunk.text or chunk.tool_calls):
            self.first_token_time = time.time()
        self._chunks.append(chunk)

    def _assembled(self) -> ModelResponse:
        call = self._call
        response = assemble(self._chunks, provider=call.target.provider, model=call.request.model)
        report = call.ctx.report
        if report is not None and (report.route is not None or report.degraded):
            route = report.route
            answered = getattr(route, "answered_by", None)
            update: dict[str, Any] = {"route": route, "degraded": report.degraded}
            if isinstance(answered, str) and ":" in answered:
                update["provider"] = answered.partition(":")[0]
            response = response.model_copy(update=update)
        return response

    def _finished(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            if self.on_end is not None:
                self.on_end()
        finally:
            self._response = self._assembled()
            self._client._record(self._call, response=self._response, first_token=self.first_token_time)

    def _failed(self, error: BaseException) -> None:
        if self._done:
            return
        self._done = True
        partial = self._assembled() if self._chunks else None
        self._client._record(self._call, response=partial, error=error, first_token=self.first_token_time)

    @property
    def response(self) -> ModelResponse:
        """The assembled answer, once the stream has been read to its end."""
        if self._response is None:
            raise ConfigurationError("the stream is not finished: iterate it to the end or call until_done()")
        return self._response

    @property
    def request(self) -> ModelRequest:
        return self._call.request

    @property
    def ctx(self) -> CallContext:
        """The call's context (its deadline, its span's ids)."""
        return self._call.ctx


class StreamClosed(Exception):
    """Recorded on a stream's span when the caller stopped reading before the end (never raised)."""

    def __str__(self) -> str:
        return "the caller closed the stream before it finished"

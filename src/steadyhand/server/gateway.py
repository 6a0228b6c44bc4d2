"""The gateway application: routes, the live configuration, and what every request shares.

A :class:`Gateway` is transport-agnostic: :meth:`Gateway.handle` takes a parsed
:class:`~steadyhand.server.http.Request` and answers on a
:class:`~steadyhand.server.http.Responder`; :mod:`steadyhand.server.run` puts it on a socket.
The configuration lives in a :class:`State` (config, its hash, the client built from it); a reload
builds and checks a new one, swaps it in, and closes the old one once its last request has finished.
Each configuration served is kept once per hash in the ``configs`` store, at start and on each reload
(never per request).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from .._config import Config
from ..client import AsyncClient
from ..policies.state import SharedState, open_state
from ..providers.base import AsyncTransport, Provider
from ..records import SpanRecord, SpanSink
from ..tracing.cost import load_prices
from .admission import Admission, OpenAdmission
from .apis import ANTHROPIC_MESSAGES, OPENAI_CHAT, OPENAI_COMPLETIONS, OPENAI_RESPONSES
from .auth import Authenticator, NoAuth
from .configs import ConfigStore, config_document, document_hash, store_config
from .http import HttpLimits, Request, Responder
from .llm import Exchange, gateway_span, serve_model_call
from .metrics import Metrics
from .replies import Protocol, error_reply
from .timing import TimedTransport

__all__ = ["Gateway", "GatewayOptions", "State"]

log = logging.getLogger("steadyhand.server")
Route = Callable[[Request, Responder], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    """How the gateway guards itself; the CLI's ``--max-body-bytes`` and friends."""

    max_body_bytes: int = 4 * 1024 * 1024
    max_header_bytes: int = 64 * 1024
    read_timeout: float = 30.0
    idle_timeout: float = 75.0
    admin_key: str | None = None
    """Needed for ``POST /admin/reload``; without one, the endpoint is refused."""

    def limits(self) -> HttpLimits:
        return HttpLimits(self.max_body_bytes, self.max_header_bytes, self.read_timeout, self.idle_timeout)


def _default_transport(config: Config) -> AsyncTransport:
    """The transport ``AsyncClient`` would pick for this config (its ``async_transport`` setting): the
    gateway shares one, timed, across reloads."""
    from ..providers.http_provider import default_async_transport

    return default_async_transport(config.async_transport)


class _NullSink:
    """Spans go nowhere; the gateway still opens them to read the policies' route for its header."""

    def record(self, span: SpanRecord) -> None:
        return None


class HeldSpans:
    """The spans one request's client records while it is served, handed on once its answer is written."""

    __slots__ = ("open", "spans")

    def __init__(self) -> None:
        self.open = True
        self.spans: list[SpanRecord] = []


_held: ContextVar[HeldSpans | None] = ContextVar("steadyhand_gateway_held_spans", default=None)


class _AfterTheAnswer:
    """The client's sink in the gateway: a request's llm and attempt spans wait until its answer is written
    (``Gateway.release_spans``), as the gateway span always has, so recording them (redaction, the spool
    append: ~0.1 ms) is not added to the caller's latency. A span recorded after that (a background task
    outliving its request) goes straight on."""

    __slots__ = ("sink",)

    def __init__(self, sink: SpanSink) -> None:
        self.sink = sink

    def record(self, span: SpanRecord) -> None:
        held = _held.get()
        if held is None or not held.open:
            self.sink.record(span)
        else:
            held.spans.append(span)


class State:
    """One loaded configuration and the client serving it; counted while requests use it."""

    def __init__(self, config: Config, client: AsyncClient) -> None:
        self.config = config
        self.client = client
        self.document = config_document(config)
        """What the store keeps for this configuration (secrets masked); ``hash`` is its hash."""
        self.hash = document_hash(self.document)
        self.loaded_at = time.time()
        self.active = 0
        self.retired = False
        self._models = sorted(config.all_models())
        self.prices = load_prices(config.prices)
        """Prices the ``steadyhand_gateway_cost_usd`` metric (the tracer prices spans itself)."""

    def models(self) -> list[str]:
        """The aliases callers may name."""
        return self._models


class Gateway:
    """The gateway: ``await gateway.handle(request, responder)`` answers one HTTP request."""

    def __init__(
        self,
        config: Config,
        *,
        options: GatewayOptions | None = None,
        tracer: SpanSink | None = None,
        auth: Authenticator | None = None,
        admission: Admission | None = None,
        transport: AsyncTransport | None = None,
        reload: Callable[[], Config] | None = None,
        providers: Mapping[str, Provider] | None = None,
        configs: ConfigStore | None = None,
    ) -> None:
        self.options = options or GatewayOptions()
        self.tracer = tracer
        self.auth: Authenticator = auth or NoAuth(config.project)
        self.admission: Admission = admission or OpenAdmission()
        self.transport = TimedTransport(transport or _default_transport(config))
        self._reload_source = reload
        self._providers = dict(providers or {})
        """Providers injected by name (tests, custom adapters), as ``AsyncClient(providers=...)``."""
        self.shared = open_state(config)
        """The policies' state (breakers, rate windows; Redis with ``state_url``): kept across reloads."""
        self._retired_shared: list[SharedState] = []
        self.state = self._build(config)
        self.configs = configs
        """Where each configuration served is kept once per hash (``steadyhand configs show HASH``)."""
        self._saving: set[asyncio.Future[None]] = set()
        store_config(configs, self.state.hash, self.state.document)
        self.metrics = Metrics(self._known(config))
        self.started_at = time.time()
        from . import ops

        self.routes: dict[str, dict[str, Route]] = {
            "/v1/chat/completions": {"POST": lambda r, o: serve_model_call(self, OPENAI_CHAT, r, o)},
            "/v1/completions": {"POST": lambda r, o: serve_model_call(self, OPENAI_COMPLETIONS, r, o)},
            "/v1/messages": {"POST": lambda r, o: serve_model_call(self, ANTHROPIC_MESSAGES, r, o)},
            "/v1/responses": {"POST": lambda r, o: serve_model_call(self, OPENAI_RESPONSES, r, o)},
            "/v1/embeddings": {"POST": lambda r, o: ops.embeddings(self, r, o)},
            "/v1/models": {"GET": lambda r, o: ops.models(self, r, o)},
            "/healthz": {"GET": lambda r, o: ops.healthz(self, r, o)},
            "/readyz": {"GET": lambda r, o: ops.readyz(self, r, o)},
            "/metrics": {"GET": lambda r, o: ops.metrics(self, r, o)},
            "/admin/reload": {"POST": lambda r, o: ops.admin_reload(self, r, o)},
        }
        self.extra_routes: dict[str, Callable[[Gateway, Request, Responder], Awaitable[None]]] = {}
        """``path -> handler(gateway, request, responder)`` for routes added by other packages."""

    # -- state -----------------------------------------------------------------------------------------
    def _build(self, config: Config) -> State:
        sink = _NullSink() if self.tracer is None else _AfterTheAnswer(self.tracer)
        client = AsyncClient(
            config, tracer=sink, transport=self.transport, providers=self._providers, state=self.shared
        )
        return State(config, client)

    @staticmethod
    def _known(config: Config) -> list[str]:
        return [*config.all_models(), *(alias.target for alias in config.all_models().values())]

    @property
    def _targets(self) -> frozenset[str]:
        return self.metrics.known

    def acquire(self) -> State:
        state = self.state
        state.active += 1
        return state

    def release(self, state: State) -> None:
        state.active -= 1
        if state.retired and state.active == 0:
            asyncio.get_running_loop().create_task(self._close_state(state))

    async def _close_state(self, state: State) -> None:
        try:
            await state.client.aclose()
        except Exception:  # closing an old client must not disturb serving
            log.exception("closing the previous configuration's client failed")

    def reload(self, config: Config | None = None) -> State:
        """Swap in ``config`` (or the reload source's): checked first; a bad one raises and the old stays.

        In-flight requests finish on the configuration they started with.
        """
        if config is None:
            if self._reload_source is None:
                raise ValueError("this gateway has no configuration file to reload from")
            config = self._reload_source()
        config.check_policies()
        previous = self.shared
        if config.state_url != self.state.config.state_url:
            self.shared = open_state(config)
        try:
            new = self._build(config)
            for alias in config.all_models():
                new.client.resolve(alias)  # every alias must resolve before it is served
        except BaseException:
            if self.shared is not previous:
                self.shared.close()
                self.shared = previous
            raise
        if self.shared is not previous:
            self._retired_shared.append(previous)
        old, self.state = self.state, new
        self.metrics.known = frozenset(self._known(config))
        old.retired = True
        if old.active == 0:
            with contextlib.suppress(RuntimeError):  # no loop: reloaded before serving started
                asyncio.get_running_loop().create_task(self._close_state(old))
        log.info("configuration reloaded: %s -> %s", old.hash, new.hash)
        if config.database_url != old.config.database_url:
            log.warning(
                "database_url changed on reload: traces, keys, spend and configurations stay in the store "
                "opened at start; restart steadyhand serve to use the new one"
            )
        self._store_config(new)
        return new

    def _store_config(self, state: State) -> None:
        """Keep a reloaded configuration, off the event loop when there is one (a store write)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            store_config(self.configs, state.hash, state.document)
            return
        if self.configs is not None:
            saving = loop.run_in_executor(None, store_config, self.configs, state.hash, state.document)
            self._saving.add(saving)
            saving.add_done_callback(self._saving.discard)

    # -- requests --------------------------------------------------------------------------------------
    @staticmethod
    def protocol_of(path: str, headers: dict[str, str]) -> Protocol:
        return "anthropic" if path.startswith("/v1/messages") or "anthropic-version" in headers else "openai"

    async def handle(self, request: Request, out: Responder) -> None:
        methods = self.routes.get(request.path)
        if methods is None:
            extra = self.extra_routes.get(request.path)
            if extra is not None:
                await extra(self, request, out)
                return
            if request.path.startswith("/v1/models/"):
                from . import ops

                await ops.model(self, request, out)
                return
            self._plain(
                out, request, 404, f"Unknown path {request.path!r}: this gateway serves " + self._paths()
            )
            return
        handler = methods.get(request.method)
        if handler is None:
            allowed = ", ".join(sorted(methods))
            message = f"{request.method} is not allowed on {request.path}; use {allowed}"
            self._plain(out, request, 405, message, [("allow", allowed)])
            return
        await handler(request, out)

    def _paths(self) -> str:
        return ", ".join(sorted(p for p in self.routes if p.startswith("/v1/")))

    def _plain(
        self,
        out: Responder,
        request: Request,
        status: int,
        message: str,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        reply = error_reply(self.protocol_of(request.path, request.headers), status, message)
        out.send(status, [("content-type", "application/json"), *(headers or [])], reply.body)

    def refusal(self, status: int, target: str, headers: dict[str, str]) -> bytes:
        """The whole 400/408/413/431 response the HTTP layer sends before it closes the connection."""
        limits = self.options
        messages = {
            400: "Malformed HTTP request.",
            408: f"The request was not received in full within {limits.read_timeout:g} s.",
            413: f"Request body too large: the limit is {limits.max_body_bytes} bytes; send a smaller one.",
            431: f"Request headers exceed the maximum allowed size ({limits.max_header_bytes} bytes).",
        }
        path = target.partition("?")[0]
        protocol = self.protocol_of(path, headers)
        code = "request_too_large" if status == 413 else None
        reply = error_reply(protocol, status, messages.get(status, "Request refused."), code=code)
        self.metrics.requests.labels("refused", "other", str(status)).inc()
        from ..sim.http import response

        return response(status, [("content-type", "application/json"), ("connection", "close")], reply.body)

    def hold_spans(self) -> HeldSpans | None:
        """Hold the spans the client records in this context until :meth:`release_spans`."""
        if self.tracer is None:
            return None
        held = HeldSpans()
        _held.set(held)
        return held

    def release_spans(self, held: HeldSpans | None) -> None:
        """Record the held spans (the answer is out), in the order the client recorded them."""
        if held is None or self.tracer is None:
            return
        held.open = False
        for span in held.spans:
            try:
                self.tracer.record(span)
            except Exception:  # the tracer must never break a request
                log.exception("the tracer failed to record a span")
        held.spans.clear()

    def observe(self, ex: Exchange, started: float) -> None:
        """Metrics and the gateway span for one finished model request."""
        m = self.metrics
        model = m.model(ex.model)
        route = ex.request.path
        elapsed = time.perf_counter() - ex.request.received
        series = m.request_series(route, model, ex.status)
        series.count += 1
        series.latency.observe(elapsed)
        series.overhead.observe(ex.overhead_ms() / 1000.0)
        if ex.first_byte is not None:
            m.of(m.ttft, route, model).observe(ex.first_byte - ex.request.received)
        if ex.error is not None or ex.status >= 400:
            m.of(m.errors, model, ex.error or f"http_{ex.status}").inc()
        usage = ex.usage
        if usage is not None:
            target = ex.target
            cost = None if target is None else ex.state.prices.cost(
                target.model, input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                cached_input_tokens=usage.cached_input_tokens, cache_write_tokens=usage.cache_write_tokens,
                reasoning_tokens=usage.reasoning_tokens,
            )  # fmt: skip
            m.usage(
                model, usage.input_tokens or 0, usage.output_tokens or 0, usage.cached_input_tokens or 0, cost
            )
        self._observe_route(model, ex.decision)
        if self.tracer is not None and ex.caller is not None:
            try:
                self.tracer.record(gateway_span(ex, started))
            except Exception:  # the tracer must never break a request
                log.exception("the tracer failed to record the gateway span")

    def _observe_route(self, model: str, decision: Any) -> None:
        if decision is None:
            return
        if isinstance(decision, dict):  # a stream's route, as its span carries it
            steps = [
                (s.get("alias"), s.get("outcome"), s.get("target"), s.get("breaker"))
                for s in decision.get("steps", [])
            ]
            hit = decision.get("cache_hit")
        else:
            steps = [(s.alias, s.outcome, s.target, s.breaker) for s in decision.steps]
            hit = getattr(decision, "cache_hit", False)
        m = self.metrics
        for _, _, target, breaker in steps:  # targets come from the configuration: a bounded label
            if breaker is not None and target in self._targets:
                m.breaker(target, breaker == "open")
        if len(steps) > 1:
            attempts = [(alias, outcome) for alias, outcome, _, _ in steps if outcome != "skipped"]
            if not attempts:
                return
            retries = sum(1 for a, b in zip(attempts, attempts[1:], strict=False) if a[0] == b[0])
            if retries:
                m.of(m.retries, model).inc(retries)
            alias, outcome = attempts[-1]
            if outcome == "ok" and alias != attempts[0][0]:
                m.of(m.fallbacks, model).inc()
        elif not steps or steps[0][1] == "skipped":
            return
        if hit:
            m.of(m.cache_hits, model).inc()

    async def aclose(self) -> None:
        if self._saving:
            await asyncio.gather(*self._saving)
        await self.state.client.aclose()
        for shared in (self.shared, *self._retired_shared):
            await shared.aclose()
        await self.transport.close_inner()

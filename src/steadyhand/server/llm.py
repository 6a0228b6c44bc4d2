"""The model routes: decode the body, admit the caller, call the library, encode the answer.

The gateway calls the same :class:`~steadyhand.AsyncClient` an app calls, so the policies (deadline,
retry, breaker, fallback) serve it unchanged: before the first byte reaches the client they fail
over transparently; after it, a broken stream ends with the protocol's error event, never with a
clean end a client would read as a complete answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._config import Target
from ..errors import ConfigurationError, InvalidRequest
from ..providers._inbound_check import InboundRequest
from ..tracing.context import SpanContext, reset_span, use_span
from ..tracing.records import SpanRecord, new_span_id, new_trace_id
from ..types import Chunk, ModelResponse, Usage
from .apis import API
from .auth import Caller, Refused
from .http import Request, Responder
from .replies import Reply, error_reply, exception_reply
from .timing import Upstream, upstream_clock

if TYPE_CHECKING:
    from .gateway import Gateway, State

__all__ = ["serve_model_call"]

JSON = ("content-type", "application/json")
SSE = [("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache")]
_FAMILY = {"chat": "openai", "completions": "openai", "responses": "openai", "messages": "anthropic"}


@dataclass(slots=True)
class Exchange:
    """One model request in flight: what the handlers learn along the way, for headers, metrics, spans."""

    api: API
    request: Request
    state: State
    trace_id: str
    span_id: str
    upstream: Upstream
    caller: Caller | None = None
    model: str | None = None
    target: Target | None = None
    route: str | None = None
    status: int = 0
    error: str | None = None
    usage: Usage | None = None
    first_byte: float | None = None
    ticket: Any = None
    decision: Any = None
    """The policies' Route (or its dict, for a stream), when a policy answered."""

    def overhead_ms(self) -> float:
        spent = time.perf_counter() - self.request.received - self.upstream.seconds
        return max(spent, 0.0) * 1000.0

    def headers(self) -> list[tuple[str, str]]:
        out = [
            ("x-steadyhand-trace-id", self.trace_id),
            ("request-id" if self.api.protocol == "anthropic" else "x-request-id", self.trace_id),
            ("x-steadyhand-config-hash", self.state.hash),
        ]
        if self.route is not None:
            out.append(("x-steadyhand-route", self.route))
        out.append(("x-steadyhand-overhead-ms", f"{self.overhead_ms():.3f}"))
        return out


def _route_header(route: Any, target: Target | None) -> str | None:
    """``provider:model; attempts=N`` from the policies' Route (a dataclass, or its dict on the span)."""
    if route is not None:
        if isinstance(route, dict):
            answered, steps = route.get("answered_by"), route.get("steps") or []
            attempts = sum(1 for s in steps if s.get("outcome") != "skipped")
        else:
            answered, attempts = route.answered_by, len(route.attempts)
        last = answered or (target and f"{target.provider}:{target.model}")
        return f"{last}; attempts={attempts}" if last else None
    if target is None:
        return None
    return f"{target.provider}:{target.model}; attempts=1"


def _reply(out: Responder, ex: Exchange, reply: Reply) -> None:
    ex.status = reply.status
    out.send(reply.status, [JSON, *reply.headers, *ex.headers()], reply.body)


async def serve_model_call(gateway: Gateway, api: API, request: Request, out: Responder) -> None:
    """Answer one chat / completions / messages request, whatever happens (never raises for bad input)."""
    state = gateway.acquire()
    ex = Exchange(api, request, state, new_trace_id(), new_span_id(), upstream_clock())
    started = time.time()
    token = None
    held = gateway.hold_spans()
    try:
        try:
            inbound = _prepare(gateway, ex)
        except Refused as refused:
            gateway.metrics.rejections.labels(refused.reason).inc()
            _reply(out, ex, refused.reply)
            return
        except InvalidRequest as exc:
            _reply(out, ex, exception_reply(api.protocol, exc))
            return
        caller = ex.caller
        assert caller is not None
        token = use_span(SpanContext(ex.trace_id, ex.span_id, caller.project))
        tags = {"gateway.route": request.path, "gateway.config_hash": state.hash}
        if caller.key_id is not None:
            tags["gateway.key_id"] = caller.key_id
        try:
            if inbound.stream:
                await _stream(gateway, ex, inbound, tags, out)
            else:
                await _complete(gateway, ex, inbound, tags, out)
        finally:
            if ex.ticket is not None:
                gateway.admission.settle(ex.ticket, ex.usage, failed=ex.status != 200)
    finally:
        if token is not None:
            reset_span(token)
        gateway.release(state)
        gateway.release_spans(held)
        gateway.observe(ex, started)


def _prepare(gateway: Gateway, ex: Exchange) -> InboundRequest:
    """Decode, authenticate, resolve the model and admit the call; raises Refused or InvalidRequest."""
    api, state = ex.api, ex.state
    ex.caller = caller = gateway.auth.identify(ex.request.headers, api.protocol)
    inbound = api.decode(ex.request.body, max_bytes=gateway.options.max_body_bytes)
    model = ex.model = inbound.request.model
    if not caller.allows(model):
        raise Refused(_unknown_model(gateway, state, caller, api, model, allowed=False), "model")
    try:
        target = ex.target = state.client.resolve(model)
    except ConfigurationError:
        raise Refused(_unknown_model(gateway, state, caller, api, model, allowed=True), "model") from None
    if inbound.request.extra and target.api != api.api:
        key = next(iter(inbound.request.extra))
        family = _FAMILY.get(target.api, target.api)
        raise InvalidRequest(
            f"Unsupported parameter: '{key}' cannot be passed on when model '{model}' is served by an "
            f"upstream speaking another API ({family} {target.api}); remove it.",
            param=key,
            code="unsupported_parameter",
        )
    ex.ticket = gateway.admission.admit(caller, inbound.request, target, api.protocol, state)
    return inbound


def _unknown_model(
    gateway: Gateway, state: State, caller: Caller, api: API, model: str, *, allowed: bool
) -> Reply:
    known = [m for m in state.models() if caller.allows(m)]
    listed = ", ".join(f"'{m}'" for m in known) or "none"
    if api.protocol == "anthropic":
        message = f"model: {model} is not available on this gateway; known models: {listed}"
    else:
        message = (
            f"The model '{model}' does not exist or you do not have access to it. "
            f"Models on this gateway (steadyhand): {listed}."
        )
    return error_reply(api.protocol, 404, message, param="model", code="model_not_found")


async def _complete(
    gateway: Gateway, ex: Exchange, inbound: InboundRequest, tags: dict[str, str], out: Responder
) -> None:
    try:
        response: ModelResponse = await ex.state.client.complete(
            inbound.request, tags=tags, timeout=_deadline(ex)
        )
    except asyncio.CancelledError:
        ex.error = "ClientDisconnected"
        raise
    except Exception as exc:
        _failed(ex, exc)
        _reply(out, ex, exception_reply(ex.api.protocol, exc))
        return
    ex.usage = response.usage
    ex.route = _route_header(response.route, ex.target)
    ex.decision = response.route
    try:
        body = ex.api.encode(response, inbound)
    except Exception as exc:  # an answer this API cannot carry (a tool call whose arguments are not JSON)
        _failed(ex, exc)
        _reply(out, ex, error_reply(ex.api.protocol, 502, f"the upstream answer cannot be encoded: {exc}"))
        return
    ex.status = 200
    out.send(200, [JSON, *ex.headers()], body)


def _deadline(ex: Exchange) -> float | None:
    """The alias's ``deadline`` as the whole call's timeout: it bounds every policy, a rate limiter's
    wait for room included (without it, a limited call would wait out the window)."""
    alias = ex.state.config.all_models().get(ex.model or "")
    return None if alias is None else alias.deadline


def _failed(ex: Exchange, exc: BaseException) -> None:
    ex.error = type(exc).__name__
    ex.decision = getattr(exc, "route", None)
    ex.route = _route_header(ex.decision, ex.target)


async def _stream(
    gateway: Gateway, ex: Exchange, inbound: InboundRequest, tags: dict[str, str], out: Responder
) -> None:
    stream = ex.state.client.complete_stream(
        inbound.request, tags=tags, timeout=_deadline(ex), coalesce=True
    )  # events that arrive together go on as one write (relayed as they came, for an OpenAI upstream)
    chunks: AsyncIterator[Chunk] = stream.__aiter__()
    try:
        try:
            first = await anext(chunks)
        except StopAsyncIteration:
            first = Chunk()
        except asyncio.CancelledError:
            ex.error = "ClientDisconnected"
            raise
        except Exception as exc:  # before the first byte: a plain error answer, the policies had their go
            _failed(ex, exc)
            _reply(out, ex, exception_reply(ex.api.protocol, exc))
            return
        span = stream.ctx.span
        ex.decision = span.attributes.get("steadyhand.route") if span else None
        ex.route = _route_header(ex.decision, ex.target)
        writer = ex.api.writer(inbound, first)
        ex.status = 200
        ex.first_byte = time.perf_counter()
        _track(ex, first)
        out.start(200, [*SSE, *ex.headers()], writer.feed(first))
        stream.on_end = lambda: out.end(writer.close())  # the client's end first, then the span
        try:
            async for chunk in chunks:
                if chunk.usage is not None:
                    ex.usage = chunk.usage
                if out.push(writer.feed(chunk)):
                    await out.drain()
        except asyncio.CancelledError:
            ex.error = "ClientDisconnected"
            raise
        except ConnectionResetError:
            ex.error = "ClientDisconnected"
            raise
        except Exception as exc:
            ex.error = type(exc).__name__
            out.end(writer.fail(exc))
            return
        if not out.ended:  # a stream that ended without a chunk ended before on_end was set
            out.end(writer.close())
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


def _track(ex: Exchange, chunk: Chunk) -> None:
    if chunk.usage is not None:
        ex.usage = chunk.usage


def gateway_span(ex: Exchange, started: float) -> SpanRecord:
    """The gateway's own span: the parent of the call's ``llm`` span, with the caller and config hash."""
    caller = ex.caller
    attributes: dict[str, Any] = {
        "http.route": ex.request.path,
        "http.status_code": ex.status,
        "steadyhand.config_hash": ex.state.hash,
        "steadyhand.overhead_ms": round(ex.overhead_ms(), 3),
    }
    tags = {"gateway.config_hash": ex.state.hash}
    if caller is not None and caller.key_id is not None:
        attributes["steadyhand.key_id"] = caller.key_id
        tags["gateway.key_id"] = caller.key_id
    record = SpanRecord(
        name=f"{ex.request.method} {ex.request.path}",
        kind="custom",
        trace_id=ex.trace_id,
        span_id=ex.span_id,
        project=caller.project if caller is not None else ex.state.config.project,
        start_time=started,
        end_time=time.time(),
        attributes=attributes,
        tags=tags,
        model_alias=ex.model,
    )
    if ex.error is not None or ex.status >= 400:
        record.status = "error"
        record.error_type = ex.error or f"HTTP {ex.status}"
    return record

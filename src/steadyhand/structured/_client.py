"""The client side of ``client.structured``: plan the call from the target's capabilities, then drive
the I/O-free loop (:mod:`._loop`) with the client's own ``_run`` (sync) or ``await _run`` (async).

Each attempt is an ordinary traced ``llm`` call; its span gets ``steadyhand.structured``: the planned
and the real mode, the outcome and the repair steps, so a downgrade after a fallback shows in the trace.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Collection, Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..providers.base import Capabilities
from ..types import ModelResponse
from ._loop import Ask, Plan, accept_set, loop, vote
from ._schema import shape_of
from .modes import Mode, check_mode, mode_for, request_params, with_instruction
from .result import Structured

if TYPE_CHECKING:
    from .._client_base import Call, _BaseClient

__all__ = ["Driver", "Parts", "plan_call", "prompt_parts"]


_NOT_FROM_PROMPT = frozenset({"response_format", "tools", "tool_choice", "n"})
"""Prompt parameters structured output sets itself."""


class Parts:
    """What a call is made of: messages, model, schema, the prompt's pinned parameters, its trace record."""

    __slots__ = ("messages", "model", "params", "schema", "use")

    def __init__(self, messages: Any, model: str, schema: Any, params: dict[str, Any], use: Any) -> None:
        self.messages, self.model, self.schema, self.params, self.use = messages, model, schema, params, use


def prompt_parts(prompt: Any, variables: Mapping[str, Any] | None, model: str | None, schema: Any) -> Parts:
    """The parts of a call from messages or from a prompt object (anything with ``render``).

    A prompt (:mod:`steadyhand.prompts`) brings its pinned model, parameters and output schema
    (explicit ``model=``, ``schema=`` and parameters win) and, where it has ``bind``/``use``, the
    record that links the call's span to the prompt version.
    """
    render = getattr(prompt, "render", None)
    if not callable(render) or isinstance(prompt, str | Sequence):
        return Parts(prompt, model or "default", schema, {}, None)
    values: Any = dict(variables or {})
    use = None
    bind, record = getattr(prompt, "bind", None), getattr(prompt, "use", None)
    if callable(bind) and callable(record):
        values = bind(values)
        use = record(values)
    messages = render(values)
    if schema is None:
        schema = getattr(prompt, "output_model", None) or getattr(prompt, "output_schema", None)
    pinned = getattr(prompt, "params", None)
    params = {k: v for k, v in dict(pinned or {}).items() if k not in _NOT_FROM_PROMPT}
    return Parts(messages, model or str(getattr(prompt, "model", None) or "default"), schema, params, use)


def capabilities(client: _BaseClient[Any], provider: str) -> Capabilities:
    """The provider's capability profile (kept on the client: the config is frozen)."""
    known: dict[str, Capabilities] = client.__dict__.setdefault("_structured_capabilities", {})
    found = known.get(provider)
    if found is not None:
        return found
    injected = client._injected.get(provider)
    if injected is not None:
        found = injected.capabilities
    else:
        from ..providers.registry import capabilities_for

        config = client.config.all_providers().get(provider)
        found = capabilities_for(config) if config is not None else Capabilities()
    if len(known) < 256:
        known[provider] = found
    return found


@functools.lru_cache(maxsize=8)
def _prices(path: str | None) -> Any:
    from ..tracing.cost import load_prices

    return load_prices(path)


def plan_call(
    client: _BaseClient[Any],
    messages: Any,
    *,
    model: str,
    schema: Any,
    mode: str,
    accept: Collection[str],
    max_reasks: int,
    n: int,
    close_truncated: bool,
    budget_tokens: int | None,
    budget_usd: float | None,
) -> tuple[Plan, Any]:
    """The plan and the resolved target; raises ConfigurationError for a mode the target lacks."""
    from .._validate import to_messages

    target = client.resolve(model)
    caps = capabilities(client, target.provider)
    shape = shape_of(schema)
    if mode == "auto":
        planned: Mode = mode_for(caps, target.api)
    else:
        planned = mode  # type: ignore[assignment]
        check_mode(planned, caps, target.api)
    instructed = planned in ("json_object_schema", "json_object", "text")
    base: list[Any]
    if instructed:
        base = with_instruction(to_messages(messages), shape)
    elif isinstance(messages, list):
        base = messages  # checked once, when the request is built
    else:
        base = to_messages(messages)
    plan = Plan(
        messages=base,
        params=request_params(planned, shape, target.api),
        shape=shape,
        mode=planned,
        api=target.api,
        instructed=instructed,
        accept=accept_set(accept),
        max_reasks=max_reasks,
        close_truncated=close_truncated,
        budget_tokens=budget_tokens,
        budget_usd=budget_usd,
        n=n,
        n_native=n > 1 and caps.n and target.api == "chat",  # the Responses API has no n
    )
    return plan, target


class Trace:
    """The ``structured`` span that parents each attempt's ``llm`` span, when the client traces.

    It carries the outcome, the modes, the attempt count and the summed cost as attributes (never as
    ``cost_usd``: the attempts' spans are priced already, and a total must not count twice).
    """

    def __init__(self, client: _BaseClient[Any], name: str) -> None:
        self.sink = client._tracer
        self.name = name
        self.token: object | None = None
        self.context: Any = None
        self.parent_id: str | None = None
        self.start = time.time()
        if self.sink is not None:
            from ..tracing.context import SpanContext, current_span
            from ..tracing.records import new_span_id, new_trace_id

            parent = current_span()
            if parent is None:
                self.context = SpanContext(new_trace_id(), new_span_id(), client.config.project)
            else:
                self.context = SpanContext(parent.trace_id, new_span_id(), parent.project)
                self.parent_id = parent.span_id

    def __enter__(self) -> Trace:
        if self.context is not None:
            from ..tracing.context import use_span

            self.token = use_span(self.context)
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        self.leave()

    def leave(self) -> None:
        """Stop being the current span (a stream parents its one call, then hands control back)."""
        if self.token is not None:
            from ..tracing.context import reset_span

            reset_span(self.token)
            self.token = None

    def finish(self, plan: Plan, result: Structured[Any] | None, error: BaseException | None) -> None:
        self.leave()
        if self.sink is None or self.context is None:
            return
        from ..tracing.records import SpanRecord
        from .result import sum_cost

        attempts = plan.attempts
        record = SpanRecord(
            name=f"structured {self.name}",
            trace_id=self.context.trace_id,
            span_id=self.context.span_id,
            parent_id=self.parent_id,
            project=self.context.project,
            start_time=self.start,
            end_time=time.time(),
            attributes={
                "steadyhand.structured": {
                    "schema": self.name,
                    "planned_mode": plan.mode,
                    "modes": sorted({a.mode for a in attempts}),
                    "outcome": result.outcome if result is not None else None,
                    "attempts": len(attempts),
                    "outcomes": [a.outcome for a in attempts],
                    "cost_usd": sum_cost([a.cost_usd for a in attempts]),
                    "notes": list(plan.notes),
                    "agreement": result.agreement if result is not None else None,
                }
            },
        )
        if error is not None:
            record.status = "error"
            record.error_type = type(error).__name__
            record.error_message = str(error)
        try:
            self.sink.record(record)
        except Exception:  # the tracer must never break a call
            logging.getLogger("steadyhand.tracing").exception("the tracer failed to record a span")


class Driver:
    """Feeds answers to the loop from the client's ``_run`` hook (before the span is recorded)."""

    def __init__(self, client: _BaseClient[Any], plan: Plan, target: Any) -> None:
        self.client = client
        self.plan = plan
        self.target = target
        prices = _prices(client.config.prices)

        def price(response: ModelResponse) -> float | None:
            u = response.usage
            return prices.cost(  # type: ignore[no-any-return]
                response.model,
                input_tokens=u.input_tokens,
                output_tokens=u.output_tokens,
                cached_input_tokens=u.cached_input_tokens,
                cache_write_tokens=u.cache_write_tokens,
                reasoning_tokens=u.reasoning_tokens,
            )

        run = vote if plan.n > 1 else loop
        self.gen: Generator[Ask, ModelResponse, Structured[Any]] = run(plan, price, self.mode_of)
        self.ask: Ask | None = next(self.gen)
        self.result: Structured[Any] | None = None
        self.error: BaseException | None = None
        self.count = 0
        self.use: Any = None
        """The prompt's trace record (version, label, variables), when the call came from a prompt."""
        self.trace = Trace(client, plan.shape.name)

    def __enter__(self) -> Driver:
        self.trace.__enter__()
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        self.trace.finish(self.plan, self.result, exc or self.error)

    def mode_of(self, response: ModelResponse) -> Mode:
        """The mode the provider that answered really gave (a fallback may have moved the call)."""
        if response.provider == self.target.provider or self.plan.mode in ("text", "tool"):
            return self.plan.mode
        caps = capabilities(self.client, response.provider)
        config = self.client.config.all_providers().get(response.provider)
        api = "messages" if config is not None and config.kind == "anthropic" else "chat"
        return mode_for(caps, api)  # every mode but text and tool sends json_schema: the wire realizes it

    def feed(self, call: Call, response: ModelResponse) -> None:
        """The ``_run`` hook: hand the answer to the loop, note the attempt on the call's span."""
        self.count += 1
        try:
            self.ask = self.gen.send(response)
        except StopIteration as stop:
            self.ask, self.result = None, stop.value
        except Exception as exc:  # StructuredOutputError: raised once the span is recorded
            self.ask, self.error = None, exc
        if self.plan.attempts:
            attempt = self.plan.attempts[-1]
            call.ctx.note(
                "steadyhand.structured",
                {
                    "attempt": self.count,
                    "planned_mode": self.plan.mode,
                    "mode": attempt.mode,
                    "outcome": attempt.outcome,
                    "repairs": [r.step for r in attempt.repairs],
                    "errors": list(attempt.errors[:5]),
                },
            )

    def done(self) -> Structured[Any]:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result

"""``steadyhand demo``: a guided tour of the model layer and its policies against the built-in simulator.

Runs on its own in seconds with no keys and no network, exits 0, and so doubles as a smoke test.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from .._config import Config
from ..client import Client
from ..errors import ProviderError, ProviderHTTPError, ProviderTimeout, StreamInterrupted
from ..sim import Fault, Match, Rule, Scenario, SimServer
from ..store import open_store
from ..tracing import tracer_from_config
from .demo_gateway import gateway_tour
from .demo_prompts import run_prompts
from .traces import trace_tree

QUESTION = "In one sentence, why should an LLM never be a single point of failure?"

# (what happens, model name that makes the simulator do it, streamed?)
FAULTS: list[tuple[str, str, bool]] = [
    ("rate limited, with Retry-After", "sim-429", False),
    ("quota exhausted (never retry)", "sim-quota", False),
    ("Anthropic overloaded (529)", "sim-anthropic:sim-529", False),
    ("Anthropic 529 after a 200, in-stream", "sim-anthropic:sim-529-in-stream", True),
    ("server error (500)", "sim-500", False),
    ("connection reset before headers", "sim-reset", False),
    ("accepted, never answered", "sim-hang", False),
    ("stream cut mid-answer", "sim-cut", True),
    ("prompt over the context window", "sim-context-length", False),
    ("content filter", "sim-content-filter", False),
]


BUSY = "Our assistant is busy right now; please try again in a minute."
DEMO_SCENARIO = Scenario(
    rules=[
        Rule(  # for its first 1.5 s: rate limited half the time, else overloaded; healthy after
            match=Match(model="flaky-primary"),
            faults=[
                Fault(kind="429", rate=0.5, down_for=1.5, down_from="first_request", retry_after=0.05),
                Fault(kind="503", down_for=1.5, down_from="first_request", retry_after=None),
            ],
        )
    ]
)
"""The simulator's script for the policies part: a primary that is down, then flaky."""


def demo_config(base_url: str, workdir: Path) -> Config:
    """Three APIs behind one call (OpenAI chat, legacy completions, Anthropic messages), traced to SQLite."""
    return Config.model_validate(
        {
            "database_url": f"sqlite:///{workdir / 'demo.db'}",
            "project": "demo",
            "providers": {
                "sim": {"kind": "sim", "base_url": base_url},
                "sim-anthropic": {"kind": "anthropic", "base_url": base_url, "api_key": "sk-ant-demo"},
            },
            "models": {
                "default": "sim:gpt-4o-2024-08-06",
                "legacy": {"target": "sim:gpt-3.5-turbo-instruct-0914", "api": "completions"},
                "claude": "sim-anthropic:claude-haiku-4-5-20251001",
                "support": {
                    "target": "sim:flaky-primary",
                    "fallbacks": ["sim:sim-basic:backup"],
                    "deadline": 3.0,
                    "retry": {"attempts": 2, "base": 0.02, "cap": 0.2},
                    "breaker": {"failures": 2, "window": 30.0, "cooldown": 0.5},
                    "cache": {"ttl": 600},
                },
                "everything-down": {
                    "target": "sim:sim-503",
                    "fallbacks": ["sim:sim-500:backup"],
                    "retry": {"attempts": 1},
                    "degraded": BUSY,
                },
            },
            "cache_url": "memory://",
            "timeouts": {"connect": 2.0, "stall": 1.0, "total": 5.0},
        }
    )


def run(console: Console, *, workdir: Path = Path(".steadyhand")) -> int:
    """The tour; returns the process exit code. Traces go to ``workdir/demo.db``."""
    logging.basicConfig(level=logging.WARNING, format="  [log] %(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    with SimServer(DEMO_SCENARIO) as sim:
        config = demo_config(sim.base_url, workdir)
        tracer = tracer_from_config(config, spool_dir=workdir / "demo-spool")
        try:
            with (
                Client(config, tracer=tracer) as client,
                tracer.span("demo tour", tags={"feature": "demo"}) as tour,
            ):
                code = _tour(console, client, sim)
        finally:
            flushed = tracer.close(timeout=10)
        seen = len(sim.requests)
    if code:
        return code

    console.rule("7. Every call traced to a real database")
    stats = tracer.stats()
    with open_store(config.database_url) as store:
        detail = store.get_trace(tour.trace_id)
    if not flushed or detail is None:
        console.print(f"[red]the trace did not reach the store: {stats}[/red]")
        return 1
    console.print(trace_tree(detail))
    console.print(
        f"  {stats.written} spans in the store through the crash-safe spool, {stats.dropped} dropped; "
        "redacted and priced before they touched disk"
    )
    if run_prompts(console, config, workdir):
        return 1
    console.rule("9. The same policies as a gateway: any app, any language")
    with SimServer() as upstream:
        if gateway_tour(console, demo_config(upstream.base_url, workdir), workdir):
            return 1
    console.print(
        Panel.fit(
            f"done in {time.perf_counter() - started:.1f} s; the simulator recorded {seen} requests.\n"
            f"Look again: steadyhand traces show {tour.trace_id} --database-url {config.database_url}\n"
            "Next: `steadyhand sim --port 8900` serves the same simulator to any OpenAI/Anthropic client."
        )
    )
    return 0


def _tour(console: Console, client: Client, sim: SimServer) -> int:
    console.print(Panel.fit(f"steadyhand demo: the model layer against the simulator at {sim.base_url}"))

    console.rule("1. One call, three provider APIs")
    table = Table("alias", "resolves to", "answer", "tokens in/out", "ms")
    for alias in ("default", "legacy", "claude"):
        t0 = time.perf_counter()
        response = client.chat(QUESTION, model=alias, max_tokens=60)
        target = client.config.resolve(alias)
        table.add_row(
            alias,
            f"{target.provider}:{target.model} ({target.api})",
            _short(response.text),
            f"{response.usage.input_tokens}/{response.usage.output_tokens}",
            f"{(time.perf_counter() - t0) * 1000:.1f}",
        )
    console.print(table)

    console.rule("2. Streaming, with time to first token")
    t0 = time.perf_counter()
    first: float | None = None
    with client.stream("Tell me a short story about a careful robot.", model="default") as stream:
        console.print("  ", end="")
        for text in stream.text_stream():
            first = first or time.perf_counter()
            console.print(text, end="", highlight=False)
    response = stream.response
    ttft = (first - t0) * 1000 if first else float("nan")
    console.print(
        f"\n  finish_reason={response.finish_reason}, {response.usage.output_tokens} tokens, "
        f"first token after {ttft:.1f} ms, total {(time.perf_counter() - t0) * 1000:.1f} ms"
    )

    console.rule("3. A floating model name warns once (pin dated snapshots instead)")
    client.chat("hi", model="sim-anthropic:claude-haiku-4-5")
    client.chat("hi again", model="sim-anthropic:claude-haiku-4-5")

    console.rule("4. Faults surface as typed errors that say what to do")
    faults = Table("fault (simulator model)", "typed error", "retry?", "after", "message", expand=True)
    for label, model, streamed in FAULTS:
        model = model if ":" in model else f"sim:{model}"
        error = _capture(client, model, streamed=streamed)
        if error is None:
            console.print(f"[red]expected an error from {model}, got an answer[/red]")
            return 1
        retry_after = getattr(error, "retry_after", None)
        faults.add_row(
            f"{label}\n[dim]{model}[/dim]",
            _kind(error),
            "yes" if error.retryable else "[bold]no[/bold]",
            "" if retry_after is None else f"{retry_after:g}s",
            _short(error.message, 70),
        )
    console.print(faults)
    _structured(console, client)
    return _policies(console, client)


def _policies(console: Console, client: Client) -> int:
    """A primary that is down then flaky, a healthy fallback, the breaker, the cache, degraded mode."""
    console.rule("6. Policies: the primary fails, the feature does not")
    console.print(
        "  alias [bold]support[/bold]: sim:flaky-primary (429 or 503 on every request for 1.5 s, then well), "
        "fallback sim:sim-basic:backup, retry 2, breaker opens after 2 failures for 0.5 s, cache 600 s"
    )
    table = Table("#", "answered by", "decision record (target outcome, wait)", "breaker", "ms")
    routes: list[Any] = []
    for n in range(1, 41):  # until the primary has answered twice in a row again
        if n > 8 and all(r.answered_by == "sim:flaky-primary" for r in routes[-2:]):
            break
        t0 = time.perf_counter()
        response = client.chat(f"Question {n}: is the primary back?", model="support")
        route = response.route
        routes.append(route)
        steps = "; ".join(_step(step) for step in route.steps)
        breaker = ", ".join(step.breaker or "-" for step in route.steps if step.target == "sim:flaky-primary")
        table.add_row(str(n), route.answered_by, steps, breaker, f"{(time.perf_counter() - t0) * 1000:.0f}")
        time.sleep(0.15)
    console.print(table)
    opened = any(s.outcome == "skipped" for r in routes for s in r.steps)
    closed = routes[-1].answered_by == "sim:flaky-primary" or any(
        s.breaker == "half_open" and s.outcome == "ok" for r in routes for s in r.steps
    )
    if not (all(r.ended_by == "answer" for r in routes) and opened and closed):
        console.print("[red]expected every call answered, the breaker opened and closed again[/red]")
        return 1
    console.print(
        "  every call answered; the breaker opened (the primary [italic]skipped[/italic] without a "
        "request) and a half-open probe closed it once the primary was back"
    )
    for label, route in (
        ("a failed-over call", _first(routes, "error")),
        ("a skipped target", _first(routes, "skipped")),
    ):
        if route is not None:
            console.print(
                f"  decision record of {label}: ended by {route.ended_by}, {route.deadline_left:.2f} s "
                f"of the deadline left, {route.overhead * 1e6:.0f} µs of steadyhand's own time"
            )
            for step in route.steps:
                why = step.error or "answered"
                status = "" if step.status is None else f" {step.status}"
                console.print(
                    f"    {step.target:<24} {step.outcome:<8} {why}{status}, waited {step.wait:.2f} s, "
                    f"took {step.duration * 1000:.1f} ms, breaker {step.breaker or '-'}"
                )
    again = client.chat("Question 1: is the primary back?", model="support")
    console.print(
        f"  asked question 1 again: cache hit={again.route.cache_hit}, "
        f"{len(again.route.attempts)} requests sent, answered by {again.route.answered_by}"
    )
    down = client.chat("Where is my order?", model="everything-down")
    console.print(
        f"  alias [bold]everything-down[/bold] (every target fails): degraded={down.degraded}, "
        f"{_short(down.text, 70)!r}"
    )
    return 0 if again.route.cache_hit and down.degraded else 1


def _first(routes: list[Any], outcome: str) -> Any:
    return next((r for r in routes if any(s.outcome == outcome for s in r.steps)), None)


def _step(step: Any) -> str:
    name = step.target.removeprefix("sim:")
    if step.outcome == "ok":
        what = "ok"
    elif step.outcome == "skipped":
        what = "skipped (breaker open)" if step.error == "CircuitOpen" else f"skipped ({step.error})"
    else:
        what = f"{step.error}{'' if step.status is None else f' {step.status}'}"
    waited = f" after {step.wait:.2f}s" if step.wait else ""
    return f"{name} {what}{waited}"


# (what the simulator does to the JSON, model name)
GARBLED: list[tuple[str, str]] = [
    ("wrapped in prose", "sim-json-prose"),
    ("in a code fence", "sim-json-fenced"),
    ("trailing commas", "sim-json-trailing-comma"),
    ("numbers as strings, a list as its item", "sim-json-wrong-types"),
    ("cut at max_tokens", "sim-json-truncated"),
]


def _structured(console: Console, client: Client) -> None:
    """Structured output: the simulator garbles the JSON, steadyhand cleans it up and logs each step."""
    from pydantic import BaseModel

    from ..errors import StructuredOutputError

    class Invoice(BaseModel):
        number: str
        total: float
        lines: list[str]

    console.rule("5. Structured output: the simulator garbles the JSON, steadyhand repairs it")
    table = Table("garbled (simulator model)", "outcome", "steps logged", "attempts", "value", expand=True)
    log: list[Any] = []
    for label, model in GARBLED:
        try:
            result = client.structured("Extract the invoice.", schema=Invoice, model=f"sim:{model}")
        except StructuredOutputError as exc:
            outcomes = ", ".join(a.outcome for a in exc.attempts)
            table.add_row(f"{label}\n[dim]{model}[/dim]", f"[red]{exc.reason}[/red]", outcomes,
                          str(len(exc.attempts)), "(raised StructuredOutputError)")  # fmt: skip
            continue
        steps = ", ".join(r.step for r in result.repairs) or "-"
        table.add_row(f"{label}\n[dim]{model}[/dim]", result.outcome, steps, str(len(result.attempts)),
                      _short(repr(result.value), 60))  # fmt: skip
        log.extend(result.repairs)
    console.print(table)
    console.print("  the repair log (each step with a before/after excerpt):")
    for repair in log:
        before, after = _short(repr(repair.before), 60), _short(repr(repair.after), 60)
        console.print(f"    {repair.step}: {before} -> {after}", highlight=False)


def _call(client: Client, model: str, *, streamed: bool) -> Any:
    if streamed:
        with client.stream("Tell me a long story.", model=model, timeout=3.0) as stream:
            return "".join(stream.text_stream())
    return client.chat("Hello there", model=model, timeout=1.0)


def _capture(client: Client, model: str, *, streamed: bool) -> ProviderError | None:
    try:
        _call(client, model, streamed=streamed)
    except ProviderError as exc:
        return exc
    return None


def _kind(error: ProviderError) -> str:
    name = type(error).__name__
    if isinstance(error, ProviderHTTPError):
        return f"{name} ({error.status_code})"
    if isinstance(error, ProviderTimeout):
        return f"{name} ({error.phase})"
    if isinstance(error, StreamInterrupted):
        return f"{name} ({len(error.partial_text)} chars kept)"
    return name


def _short(text: str, limit: int = 50) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def register(app: typer.Typer) -> None:
    @app.command()
    def demo() -> None:
        """Tour the model layer and its policies against the simulator (no keys, no network, < 1 min)."""
        raise typer.Exit(run(Console()))


__all__ = ["demo_config", "register", "run"]

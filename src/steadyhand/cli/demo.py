"""``steadyhand demo``: a guided tour of the model layer against the built-in simulator.

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
from ..sim import SimServer
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
            },
            "timeouts": {"connect": 2.0, "stall": 1.0, "total": 5.0},
        }
    )


def run(console: Console, *, workdir: Path = Path(".steadyhand")) -> int:
    """The tour; returns the process exit code. Traces go to ``workdir/demo.db``."""
    logging.basicConfig(level=logging.WARNING, format="  [log] %(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    with SimServer() as sim:
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

    console.rule("6. Every call traced to a real database")
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
    console.rule("8. The same policies as a gateway: any app, any language")
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
    return 0


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
        """Tour the model layer against the built-in simulator (no keys, no network, under a minute)."""
        raise typer.Exit(run(Console()))


__all__ = ["demo_config", "register", "run"]

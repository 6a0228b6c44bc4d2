"""``steadyhand traces``: list, show and follow traces in the store; re-price them after a price change."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from ..errors import ConfigurationError, StoreError
from ..store import SpanNode, SpanView, Store, TraceDetail, TraceSummary
from ..tracing.cost import CostUpdate, PriceTable, recompute_costs
from ..tracing.records import SpanRecord
from . import doctor
from .db import DatabaseUrl, fail, open_cli_store, parse_duration, read_store

__all__ = ["register"]


def _console() -> Console:
    """A console that does not squeeze tables to 80 columns when piped (ids must stay whole)."""
    console = Console()
    return console if console.is_terminal else Console(width=200)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def _status(status: str) -> Text:
    return Text(status, style="green" if status == "ok" else "red")


def _parse_tags(tags: list[str]) -> dict[str, str]:
    parsed = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{tag!r} is not key=value", param_hint="--tag")
        parsed[key] = value
    return parsed


_LLM_KINDS = ("llm", "attempt", "shadow")


class Status(StrEnum):
    """``--status``: ``error`` matches a trace with any failed span, ``ok`` one without."""

    ok = "ok"
    error = "error"


class Kind(StrEnum):
    """``--kind``: the kinds of :data:`~steadyhand.tracing.records.SpanKind` (a test keeps them equal)."""

    llm = "llm"
    attempt = "attempt"
    tool = "tool"
    query = "query"
    command = "command"
    flow_step = "flow_step"
    eval = "eval"
    shadow = "shadow"
    custom = "custom"


ESTIMATED = "~"
"""Marks token counts that are estimates (a stream that carried no usage), never passed off as counted."""


def _cost(cost: float, unpriced: int, digits: int) -> str:
    """A known cost, ``unpriced`` when no span had a price, ``≥$x`` when only some had: never a fake $0."""
    if not unpriced:
        return f"${cost:.{digits}f}"
    return "unpriced" if cost == 0 else f"≥${cost:.{digits}f} ({unpriced} unpriced)"


def _trace_tokens(t: TraceSummary) -> str:
    mark = ESTIMATED if t.estimated_spans else ""
    return f"{mark}{t.input_tokens}/{mark}{t.output_tokens}"


def _trace_status(t: TraceSummary) -> Text:
    """The root's status, and how many spans failed inside (a retried call can fail under an ok root)."""
    errors = t.error_count
    text = _status(t.status)
    if errors:
        text.append(f" ({errors} error{'s' if errors != 1 else ''})", style="red")
    return text


def _trace_row(t: TraceSummary) -> list[str | Text]:
    return [
        t.trace_id,
        _when(t.start_time),
        _ms(t.duration_ms),
        t.root_span_name or "-",
        str(t.span_count),
        _trace_tokens(t),
        _cost(t.cost_usd, t.unpriced_spans, 4),
        _trace_status(t),
    ]


def _span_label(s: SpanView) -> Text:
    label = Text(f"{s.name} ", style="bold")
    label.append(f"[{s.kind}] {_ms(s.duration_ms)}", style="dim")
    if s.model or s.model_alias:
        label.append(f"  {s.model_alias or ''}{' → ' if s.model_alias and s.model else ''}{s.model or ''}")
    if s.prompt_version:
        label.append(f"  prompt {s.prompt_version}", style="cyan")
    if s.ttft_ms is not None:
        label.append(f"  ttft {_ms(s.ttft_ms)}")
    has_usage = s.input_tokens is not None or s.output_tokens is not None
    if has_usage:
        mark = ESTIMATED if s.usage_estimated else ""
        label.append(f"  tokens {mark}{s.input_tokens or 0}/{mark}{s.output_tokens or 0}")
        if s.usage_estimated:
            label.append(" (estimated)", style="yellow")
    if s.cost_usd is not None:
        label.append(f"  ${s.cost_usd:.6f}")
    elif has_usage and s.kind in _LLM_KINDS:
        label.append("  unpriced", style="yellow")
    label.append("  ")
    label.append_text(_status(s.status))
    if s.error_type:
        label.append(f" {s.error_type}: {s.error_message or ''}", style="red")
    return label


def _add(tree: Tree, node: SpanNode) -> None:
    branch = tree.add(_span_label(node.span))
    for child in node.children:
        _add(branch, child)


class _Scoped:
    """The store as ``recompute_costs`` sees it: only the spans asked for, each one advancing ``progress``."""

    def __init__(self, store: Store, *, since: float | None, model: str | None, progress: Progress) -> None:
        self._store, self._since, self._model = store, since, model
        self._progress = progress
        self._total = store.count_llm_spans(since=since, model=model)
        self._task = progress.add_task("re-pricing", total=self._total)

    def iter_llm_spans(self) -> Iterator[SpanRecord]:
        for i, span in enumerate(self._store.iter_llm_spans(since=self._since, model=self._model), 1):
            yield span
            if i % 200 == 0:
                self._progress.update(self._task, completed=i)
        self._progress.update(self._task, completed=self._total)

    def update_span_costs(self, updates: Sequence[CostUpdate]) -> int:
        return self._store.update_span_costs(updates)


def _reprice(store: Store, prices: PriceTable, *, since: float | None, model: str | None) -> int:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        return recompute_costs(_Scoped(store, since=since, model=model, progress=progress), prices)


_GATEWAY_TAGS = (("key", "gateway.key_id"), ("config", "gateway.config_hash"))
"""The gateway span's tags the header shows; ``steadyhand configs show HASH`` prints the configuration."""


def trace_tree(detail: TraceDetail) -> Tree:
    """A trace as a Rich tree: one line per span with timings, model, tokens, cost and status."""
    t = detail.trace
    header = f"trace {t.trace_id}  {_when(t.start_time)}  {_ms(t.duration_ms)}  "
    header += f"{_cost(t.cost_usd, t.unpriced_spans, 6)}  "
    if t.estimated_spans:
        header += f"tokens {_trace_tokens(t)} (estimated)  "
    label = Text(header) + _trace_status(t)
    served = [f"{name} {t.tags[tag]}" for name, tag in _GATEWAY_TAGS if t.tags.get(tag)]
    if served:  # a call through `steadyhand serve`: who made it, and the configuration that served it
        label.append(f"  project {t.project}  " + "  ".join(served), style="cyan")
    tree = Tree(label)
    for root in detail.roots:
        _add(tree, root)
    return tree


def register(app: typer.Typer) -> None:
    traces = typer.Typer(no_args_is_help=True, help="Look at traces: list, show one, follow new spans.")
    app.add_typer(traces, name="traces")
    doctor.register(traces)

    @traces.command("list")
    def list_(
        limit: Annotated[int, typer.Option(min=1, max=1000, help="How many traces.")] = 20,
        model: Annotated[str | None, typer.Option(help="Pinned model or alias used by a span.")] = None,
        status: Annotated[Status | None, typer.Option(help="error: any span failed; ok: none did.")] = None,
        kind: Annotated[Kind | None, typer.Option(help="Traces with a span of this kind.")] = None,
        project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
        tag: Annotated[list[str] | None, typer.Option(help="key=value; repeat to AND.")] = None,
        since: Annotated[
            timedelta | None, typer.Option(parser=parse_duration, metavar="AGE", help="e.g. 1h, 7d.")
        ] = None,
        search: Annotated[str | None, typer.Option(help="Text in a request or response.")] = None,
        database_url: DatabaseUrl = None,
    ) -> None:
        """The latest traces, newest first."""
        tags = _parse_tags(tag or [])
        with open_cli_store(database_url) as store:
            try:
                page = store.list_traces(
                    limit=limit,
                    model=model,
                    status=None if status is None else status.value,
                    kind=None if kind is None else kind.value,
                    project=project,
                    tags=tags,
                    since=None if since is None else time.time() - since.total_seconds(),
                    search=search,
                )
            except (StoreError, ConfigurationError) as e:
                fail(str(e))
            source = store.safe_url
        table = Table(title=f"{len(page.items)} traces in {source}")
        table.add_column("trace id", no_wrap=True, min_width=32)
        for name in ("start", "duration", "root span", "spans", "tokens in/out", "cost", "status"):
            table.add_column(name, no_wrap=name != "root span")
        for t in page.items:
            table.add_row(*_trace_row(t))
        if any(t.estimated_spans for t in page.items):
            table.caption = f"{ESTIMATED} estimated token counts (a stream that carried no usage)"
        _console().print(table)

    @traces.command("show")
    def show(trace_id: str, database_url: DatabaseUrl = None) -> None:
        """One trace as a tree of spans with timings, model, tokens, cost and status."""
        detail, source = read_store(database_url, lambda store: store.get_trace(trace_id))
        if detail is None:
            fail(f"no trace {trace_id!r} in {source}: list them with `steadyhand traces list`")
        _console().print(trace_tree(detail))

    @traces.command("tail")
    def tail(
        count: Annotated[int | None, typer.Option(min=1, help="Stop after this many spans.")] = None,
        timeout: Annotated[float | None, typer.Option(min=0, help="Stop after this many seconds.")] = None,
        from_start: Annotated[bool, typer.Option("--from-start", help="Begin with the oldest span.")] = False,
        interval: Annotated[float, typer.Option(min=0.01, help="Seconds between two polls.")] = 0.5,
        database_url: DatabaseUrl = None,
    ) -> None:
        """Follow new spans as they are written (Ctrl-C to stop)."""
        console = _console()
        seen = 0
        end = None if timeout is None else time.monotonic() + timeout
        with open_cli_store(database_url) as store:
            cursor = 0 if from_start else None
            try:
                while count is None or seen < count:
                    page = store.tail(since=cursor, limit=200 if count is None else min(200, count - seen))
                    cursor = page.cursor
                    for s in page.spans:
                        console.print(
                            Text(f"{_when(s.start_time)} {s.trace_id} ", style="dim") + _span_label(s)
                        )
                    seen += len(page.spans)
                    if end is not None and time.monotonic() >= end:
                        break
                    if not page.spans:
                        time.sleep(interval)
            except StoreError as e:
                fail(str(e))
            except KeyboardInterrupt:
                pass

    @traces.command("reprice")
    def reprice(
        prices: Annotated[
            Path,
            typer.Option(
                "--prices",
                envvar="STEADYHAND_PRICES",
                show_envvar=True,
                help="The price table (TOML) to apply.",
                show_default=False,
            ),
        ],
        since: Annotated[
            timedelta | None,
            typer.Option(parser=parse_duration, metavar="AGE", help="Only spans started in the last AGE."),
        ] = None,
        model: Annotated[str | None, typer.Option(help="Only spans of this pinned model or alias.")] = None,
        database_url: DatabaseUrl = None,
    ) -> None:
        """Recompute the cost of stored LLM spans with a price table (and their traces' totals)."""
        try:
            table = PriceTable.load(prices)
        except ConfigurationError as e:
            fail(str(e))
        cutoff = None if since is None else time.time() - since.total_seconds()
        with open_cli_store(database_url) as store:
            try:
                changed = _reprice(store, table, since=cutoff, model=model)
            except StoreError as e:
                fail(str(e))
        Console().print(
            f"re-priced {changed} LLM spans with price table version {table.version}", highlight=False
        )

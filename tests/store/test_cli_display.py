"""What ``traces list`` / ``traces show`` print: unknown costs as unpriced, estimated tokens marked."""

from __future__ import annotations

from collections.abc import Callable

from typer.testing import CliRunner

from steadyhand.cli import app
from steadyhand.store import open_store
from steadyhand.tracing.records import SpanRecord

MakeSpan = Callable[..., SpanRecord]
runner = CliRunner()


def _out(*args: str, url: str) -> str:
    result = runner.invoke(app, [*args, "--database-url", url])
    assert result.exit_code == 0, result.output
    return result.output


def test_unpriced_is_never_shown_as_zero(empty_url: str, make_span: MakeSpan) -> None:
    unpriced = make_span(model="my-local-model", cost_usd=None, price_version=None)
    root = make_span(name="mixed", kind="flow_step", cost_usd=None, input_tokens=None, output_tokens=None)
    priced = make_span(trace_id=root.trace_id, parent_id=root.span_id, cost_usd=0.0012)
    unknown = make_span(trace_id=root.trace_id, parent_id=root.span_id, cost_usd=None, price_version=None)
    with open_store(empty_url) as store:
        store.write_spans([unpriced, root, priced, unknown])
        [summary] = [t for t in store.list_traces().items if t.trace_id == unpriced.trace_id]
        assert summary.unpriced_spans == 1 and summary.cost_usd == 0

    listed = _out("traces", "list", url=empty_url)
    assert "$0.0000" not in listed
    row = next(line for line in listed.splitlines() if unpriced.trace_id in line)
    assert "unpriced" in row
    row = next(line for line in listed.splitlines() if root.trace_id in line)
    assert "≥$0.0012 (1 unpriced)" in row  # a lower bound, said as such

    shown = _out("traces", "show", unpriced.trace_id, url=empty_url)
    assert "$0.000000" not in shown
    header, span = shown.splitlines()[0], shown.splitlines()[1]
    assert "unpriced" in header and "unpriced" in span and "tokens 120/4" in span
    shown = _out("traces", "show", root.trace_id, url=empty_url)
    assert "≥$0.001200 (1 unpriced)" in shown.splitlines()[0] and "$0.001200" in shown


def test_a_failed_call_without_usage_is_not_called_unpriced(empty_url: str, make_span: MakeSpan) -> None:
    failed = make_span(
        status="error", error_type="Timeout", cost_usd=None, input_tokens=None, output_tokens=None
    )
    with open_store(empty_url) as store:
        store.write_spans([failed])
    shown = _out("traces", "show", failed.trace_id, url=empty_url)
    assert "unpriced" not in shown and "$0.000000" in shown.splitlines()[0]


def test_estimated_token_counts_are_marked(empty_url: str, make_span: MakeSpan) -> None:
    estimated = make_span(usage_estimated=True, input_tokens=30, output_tokens=12)
    counted = make_span(input_tokens=7, output_tokens=3)
    with open_store(empty_url) as store:
        store.write_spans([estimated, counted])

    listed = _out("traces", "list", url=empty_url)
    rows = {
        t: next(line for line in listed.splitlines() if t in line)
        for t in (estimated.trace_id, counted.trace_id)
    }
    assert "~30/~12" in rows[estimated.trace_id] and "7/3" in rows[counted.trace_id]
    assert "~" not in rows[counted.trace_id] and "~ estimated token counts" in listed

    shown = _out("traces", "show", estimated.trace_id, url=empty_url)
    assert "tokens ~30/~12 (estimated)" in shown
    assert "estimated" not in _out("traces", "show", counted.trace_id, url=empty_url)

# mypy: disable-error-code="comparison-overlap"
# (tuples holding pytest.approx compare by Approx.__eq__, which mypy cannot see)
"""Re-pricing stored spans after a price change, on both engines: the store, ``recompute_costs``, the CLI."""

from __future__ import annotations

import threading
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from steadyhand.cli import app
from steadyhand.store import Store, open_store
from steadyhand.tracing.cost import CostUpdate, PriceTable, recompute_costs
from steadyhand.tracing.records import SpanRecord

MakeSpan = Callable[..., SpanRecord]

V1 = PriceTable.from_mapping(
    {
        "version": "v1",
        "models": {"m-a": {"input": 1.0, "output": 2.0}, "m-b": {"input": 10.0, "output": 10.0}},
    }
)
V2_TOML = """
version = "v2"
[models."m-a"]
input = 3.0
output = 5.0
[models."m-b"]
input = 10.0
output = 10.0
"""
V2 = PriceTable.from_mapping(tomllib.loads(V2_TOML))


def _priced(make_span: MakeSpan, **fields: object) -> SpanRecord:
    """An LLM span priced with V1 as the tracer would have priced it."""
    defaults: dict[str, object] = {
        "cached_input_tokens": None,
        "cache_write_tokens": None,
        "reasoning_tokens": None,
    }
    span = make_span(**{**defaults, **fields})
    span.cost_usd = span.price_version = None
    V1.apply(span)
    return span


def _trace(make_span: MakeSpan) -> dict[str, SpanRecord]:
    """One trace: a root, an LLM call with its retried attempt, a shadow call, missing and zero usage."""
    root = make_span(name="answer", kind="flow_step", model=None, input_tokens=None, output_tokens=None,
                     cost_usd=None, price_version=None)  # fmt: skip
    tid, pid = root.trace_id, root.span_id
    llm = _priced(make_span, trace_id=tid, parent_id=pid, model="m-a", input_tokens=1000, output_tokens=200)
    attempt = _priced(make_span, name="attempt 1", kind="attempt", trace_id=tid, parent_id=llm.span_id,
                      model="m-a", input_tokens=1000, output_tokens=200)  # fmt: skip
    shadow = _priced(make_span, kind="shadow", trace_id=tid, parent_id=pid, model="m-a", input_tokens=10,
                     output_tokens=10)  # fmt: skip
    missing = _priced(
        make_span, trace_id=tid, parent_id=pid, model="m-a", input_tokens=None, output_tokens=None
    )
    zero = _priced(make_span, trace_id=tid, parent_id=pid, model="m-a", input_tokens=0, output_tokens=0)
    same = _priced(make_span, trace_id=tid, parent_id=pid, model="m-b", input_tokens=100, output_tokens=100)
    return {"root": root, "llm": llm, "attempt": attempt, "shadow": shadow, "missing": missing, "zero": zero,
            "same": same}  # fmt: skip


def _costs(store: Store, spans: dict[str, SpanRecord]) -> dict[str, tuple[float | None, str | None]]:
    out = {}
    for key, s in spans.items():
        view = store.get_span(s.span_id)
        assert view is not None
        out[key] = (view.cost_usd, view.price_version)
    return out


def test_recompute_with_a_new_table_updates_spans_and_trace_totals(store: Store, make_span: MakeSpan) -> None:
    spans = _trace(make_span)
    other = _trace(make_span)
    store.write_spans([*spans.values(), *other.values()])
    before = store.get_trace(spans["root"].trace_id)
    assert before is not None
    v1_total = (1000 * 1 + 200 * 2 + 10 * 1 + 10 * 2 + 200 * 10) / 1e6  # llm + shadow + same; no attempt
    assert before.trace.cost_usd == pytest.approx(v1_total)
    assert _costs(store, spans)["missing"] == (None, None)

    # llm, attempt, shadow, zero and same: a new cost or at least a new version; 5 per trace
    assert recompute_costs(store, V2, batch_size=3) == 10

    got = _costs(store, spans)
    assert got["llm"] == (pytest.approx((1000 * 3 + 200 * 5) / 1e6), "v2")
    assert got["attempt"] == got["llm"]
    assert got["shadow"] == (pytest.approx((10 * 3 + 10 * 5) / 1e6), "v2")
    assert got["missing"] == (None, None)
    assert got["zero"] == (0.0, "v2")
    assert got["same"] == (pytest.approx(200 * 10 / 1e6), "v2")
    assert got["root"] == (None, None)
    for trace in (spans, other):
        detail = store.get_trace(trace["root"].trace_id)
        assert detail is not None
        assert detail.trace.cost_usd == pytest.approx((4000 + 80 + 2000) / 1e6)
        assert detail.trace.input_tokens == before.trace.input_tokens  # only costs move
        assert detail.trace.span_count == 7
    assert recompute_costs(store, V2) == 0  # already priced with v2
    assert recompute_costs(store, V1) == 10  # and back
    detail = store.get_trace(spans["root"].trace_id)
    assert detail is not None and detail.trace.cost_usd == pytest.approx(v1_total)


def test_iteration_pages_filters_and_skips_what_it_does_not_need(store: Store, make_span: MakeSpan) -> None:
    now = time.time()
    old = [_priced(make_span, model="m-a", start_time=now - 40 * 86400) for _ in range(3)]
    new = [_priced(make_span, model="m-a", start_time=now - i) for i in range(5)]
    other = _priced(make_span, model="m-b")
    tool = make_span(kind="tool", model=None)
    store.write_spans([*old, *new, other, tool])

    got = list(store.iter_llm_spans(page_size=2))
    assert [s.span_id for s in got] == [s.span_id for s in [*old, *new, other]]  # ingestion order, no tool
    assert all(s.request is None and s.response is None for s in got)  # pricing fields only
    first = got[0]
    assert (first.model, first.input_tokens, first.output_tokens, first.cost_usd, first.price_version) == (
        "m-a", 120, 4, old[0].cost_usd, "v1")  # fmt: skip
    since = now - 30 * 86400
    assert [s.span_id for s in store.iter_llm_spans(since=since, model="m-a", page_size=3)] == [
        s.span_id for s in new
    ]
    assert store.count_llm_spans(since=since, model="m-a") == 5
    assert store.count_llm_spans(model="fast") == 9  # the alias matches too
    assert store.count_llm_spans(until=since) == 3
    with pytest.raises(ValueError, match="page_size"):
        next(store.iter_llm_spans(page_size=0))


def test_updates_while_iterating_and_unknown_ids(store: Store, make_span: MakeSpan) -> None:
    spans = [_priced(make_span, model="m-a") for _ in range(5)]
    store.write_spans(spans)
    seen = 0
    for span in store.iter_llm_spans(page_size=2):  # writes between pages must not block or repeat
        assert store.update_span_costs([CostUpdate(span.span_id, 1.0, "manual")]) == 1
        seen += 1
    assert seen == 5
    assert store.update_span_costs([CostUpdate("0" * 16, 1.0, "manual")]) == 0
    assert store.update_span_costs([]) == 0
    detail = store.get_trace(spans[0].trace_id)
    assert detail is not None and detail.trace.cost_usd == 1.0


def test_cli_reprice(empty_url: str, make_span: MakeSpan, tmp_path: Path) -> None:
    table = tmp_path / "prices.toml"
    table.write_text(V2_TOML)
    recent = _priced(make_span, model="m-a", input_tokens=1000, output_tokens=0)
    old = _priced(
        make_span, model="m-a", input_tokens=1000, output_tokens=0, start_time=time.time() - 40 * 86400
    )
    with open_store(empty_url) as store:
        store.write_spans([recent, old])
    runner = CliRunner()

    result = runner.invoke(app, ["traces", "reprice", "--prices", str(table), "--since", "30d",
                                 "--database-url", empty_url])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "re-priced 1 LLM spans with price table version v2" in result.output
    with open_store(empty_url) as store:
        assert _costs(store, {"recent": recent, "old": old}) == {
            "recent": (pytest.approx(0.003), "v2"),
            "old": (pytest.approx(0.001), "v1"),
        }
        summary = store.get_trace(recent.trace_id)
        assert summary is not None and summary.trace.cost_usd == pytest.approx(0.003)

    result = runner.invoke(app, ["traces", "reprice", "--prices", str(table), "--database-url", empty_url])
    assert result.exit_code == 0 and "re-priced 1 LLM spans" in result.output  # the old one now

    bad = tmp_path / "bad.toml"
    bad.write_text("models = 3")
    result = runner.invoke(app, ["traces", "reprice", "--prices", str(bad), "--database-url", empty_url])
    assert result.exit_code == 1 and "version" in result.output
    result = runner.invoke(app, ["traces", "reprice", "--prices", str(table), "--since", "soon"])
    assert result.exit_code == 2


def test_trace_totals_stay_exact_while_spans_arrive(store: Store, make_span: MakeSpan) -> None:
    roots = [make_span(kind="flow_step", model=None, cost_usd=None, input_tokens=None) for _ in range(20)]
    store.write_spans([*roots, *(_priced(make_span, trace_id=r.trace_id, model="m-a") for r in roots)])
    errors: list[BaseException] = []

    def ingest() -> None:  # keeps adding v1-priced calls to the same traces while re-pricing runs
        try:
            with open_store(store.url) as other:
                for _ in range(15):
                    other.write_spans([_priced(make_span, trace_id=r.trace_id, model="m-a") for r in roots])
        except BaseException as e:
            errors.append(e)

    writer = threading.Thread(target=ingest)
    writer.start()
    for table in (V2, V1, V2):
        recompute_costs(store, table, batch_size=7)
    writer.join()
    assert not errors
    for r in roots:
        detail = store.get_trace(r.trace_id)
        assert detail is not None and detail.trace.span_count == 17
        assert detail.trace.cost_usd == pytest.approx(sum(s.cost_usd or 0.0 for s in detail.spans))

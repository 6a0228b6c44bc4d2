"""One record the store refuses never blocks the others: it is put aside (dead-lettered) with the
reason, counted in ``stats()``, ``flush()`` says so, and every other span flows on (both writers)."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from services import PostgresCluster
from steadyhand.errors import StoreRejected
from steadyhand.store import open_store
from steadyhand.tracing import SpanRecord, Tracer
from steadyhand.tracing._deadletter import DEAD_LETTERS

from ._stores import MemoryStore

_names = itertools.count()
TOO_BIG = 2**70
"""A token count no engine can hold (SQLite: OverflowError; PostgreSQL: integer out of range)."""


class PickyStore(MemoryStore):
    """Refuses (``StoreRejected``) any batch holding a span named ``poison...``."""

    def write_spans(self, spans: Sequence[SpanRecord]) -> int:
        if any(s.name.startswith("poison") for s in spans):
            raise StoreRejected("the database refused the operation (test)")
        return super().write_spans(spans)


def dead_letters(spool_dir: Path) -> list[dict[str, Any]]:
    path = spool_dir / DEAD_LETTERS
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_refused_spans_are_put_aside_and_the_rest_flows(spool_dir: Path) -> None:
    store = PickyStore()
    tracer = Tracer(store, spool_dir=spool_dir, flush_interval=0.02, batch_size=64, exit_timeout=None)
    try:
        spans = [SpanRecord(name=f"poison-{i}" if i % 50 == 7 else f"s{i}") for i in range(200)]
        for s in spans:
            tracer.record(s)
        assert not tracer.flush(timeout=30)  # not a success: four spans did not reach the store
        poison = {s.span_id for s in spans if s.name.startswith("poison")}
        assert len(poison) == 4
        assert set(store.spans) == {s.span_id for s in spans} - poison
        letters = dead_letters(spool_dir)
        assert {json.loads(d["line"])["span_id"] for d in letters} == poison
        assert all("refused" in d["reason"] and d["source"] == "store" for d in letters)
        stats = tracer.stats()
        assert stats.dead_lettered == 4 and stats.last_error is not None and "dead letter" in stats.last_error
        tracer.record(later := SpanRecord(name="later"))
        assert tracer.flush(timeout=30)  # nothing new was put aside
        assert later.span_id in store.spans
    finally:
        tracer.close(timeout=5)


@pytest.mark.postgres
@pytest.mark.parametrize("writer", ["thread", "process"])
def test_bad_values_never_stop_tracing_to_postgres(
    writer: str, pg_cluster: PostgresCluster, tmp_path: Path
) -> None:
    url = pg_cluster.create_database(f"dl{os.getpid()}_{next(_names)}")
    spool = tmp_path / "spool"
    bad = [
        SpanRecord(name="nul", error_message="total\x00 42", attributes={"pdf": "a\x00b"}),
        SpanRecord(name="long tag", tags={"doc": "t" * 600}),
        SpanRecord(name="n" * 2000, status="error", error_type="E" * 700),
        SpanRecord(name="surrogate \ud800"),
    ]
    refused = SpanRecord(name="too big", kind="llm", input_tokens=TOO_BIG)
    good = [SpanRecord(name=f"good{i}") for i in range(50)]
    with open_store(url) as store:
        target: Any = url if writer == "process" else store
        tracer = Tracer(target, writer=writer, spool_dir=spool, exit_timeout=None, flush_interval=0.02)  # type: ignore[arg-type]
        try:
            for s in [*good[:25], *bad, refused, *good[25:]]:
                tracer.record(s)
            assert not tracer.flush(timeout=60)
            stored = {s.span_id for s in [*good, *bad, refused] if store.get_span(s.span_id) is not None}
            assert stored == {s.span_id for s in [*good, *bad]}
            assert [json.loads(d["line"])["span_id"] for d in dead_letters(spool)] == [refused.span_id]
            assert tracer.stats().dead_lettered == 1
            tracer.record(after := SpanRecord(name="after"))
            assert tracer.flush(timeout=60)
            assert store.get_span(after.span_id) is not None
        finally:
            assert tracer.close(timeout=30)

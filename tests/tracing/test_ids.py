"""Trace and span ids: the OpenTelemetry formats, unique across threads and forks, and ordered so the
store's indexes take a batch's inserts on a few pages (random ids wrote several times the WAL)."""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from steadyhand.records import SpanRecord, new_span_id, new_trace_id
from steadyhand.store import open_store


def test_formats_are_opentelemetry_s() -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", new_trace_id())
    assert re.fullmatch(r"[0-9a-f]{16}", new_span_id())
    assert int(new_trace_id(), 16) != 0 and int(new_span_id(), 16) != 0


def test_trace_ids_start_with_their_time_and_sort_by_it() -> None:
    before = time.time_ns() // 1_000_000
    first = new_trace_id()
    time.sleep(0.003)
    second = new_trace_id()
    assert before <= int(first[:12], 16) <= before + 1000
    assert first < second  # a later millisecond sorts after
    same_ms = {new_trace_id()[12:] for _ in range(10_000)}
    assert len(same_ms) == 10_000  # the random part alone tells them apart


def test_span_ids_count_up_and_stay_unique_across_threads() -> None:
    a, b = new_span_id(), new_span_id()
    assert int(b, 16) - int(a, 16) in (1, 1 - 2**64)  # wraps at 64 bits, never overflows the format
    seen: list[list[str]] = [[] for _ in range(8)]

    def make(out: list[str]) -> None:
        out.extend(new_span_id() for _ in range(20_000))

    threads = [threading.Thread(target=make, args=(out,)) for out in seen]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for out in seen for i in out]
    assert len(set(every)) == len(every) == 160_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")
def test_a_forked_child_does_not_continue_its_parent_s_sequence() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, "".join(new_span_id() for _ in range(1000)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        text = f.read()
    os.waitpid(pid, 0)
    child = {text[i : i + 16] for i in range(0, len(text), 16)}
    parent = {new_span_id() for _ in range(1000)}
    assert len(child) == 1000 and not child & parent


def _gateway_like_spans(n_traces: int, ids: str) -> list[SpanRecord]:
    """A request's three spans (gateway, llm, attempt) as the gateway stores them, with our ids or
    random ones."""

    def tid() -> str:
        return new_trace_id() if ids == "ours" else os.urandom(16).hex()

    def sid() -> str:
        return new_span_id() if ids == "ours" else os.urandom(8).hex()

    spans: list[SpanRecord] = []
    now = time.time()
    for i in range(n_traces):
        trace, root, llm = tid(), sid(), sid()
        t = now + i * 0.001
        common: dict[str, Any] = {
            "trace_id": trace,
            "start_time": t,
            "end_time": t + 0.01,
            "tags": {"project": "p"},
        }
        spans.append(SpanRecord(name="POST /v1/chat/completions", kind="custom", span_id=root, **common))
        spans.append(SpanRecord(name="chat", kind="llm", span_id=llm, parent_id=root, model="m", **common))
        spans.append(
            SpanRecord(name="attempt", kind="attempt", span_id=sid(), parent_id=llm, model="m", **common)
        )
    return spans


def _wal_frames_written(tmp: Path, ids: str) -> int:
    """WAL frames (pages) that 2,000 spans in batches of 200 write into a store holding 12,000."""
    with open_store(f"sqlite:///{tmp / ids}.db") as store:
        store.write_spans(_gateway_like_spans(4000, ids))
        engine = store._engine
        sa.event.listen(engine, "connect", lambda c, _r: c.execute("PRAGMA wal_autocheckpoint=0"))
        engine.dispose()
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        spans = _gateway_like_spans(666, ids)
        for i in range(0, len(spans), 200):
            store.write_spans(spans[i : i + 200])
        with engine.connect() as conn:
            busy, frames, _done = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
    assert busy == 0
    return int(frames)


def test_ordered_ids_keep_a_batch_s_index_inserts_on_few_pages(tmp_path: Path) -> None:
    ours, random_ids = _wal_frames_written(tmp_path, "ours"), _wal_frames_written(tmp_path, "random")
    assert ours * 2 < random_ids, (ours, random_ids)

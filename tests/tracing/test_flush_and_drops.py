"""flush() is bounded by its timeout whatever the store does; when memory and disk are both full, spans
are dropped and counted, never raised into the app."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from steadyhand.tracing import SpanRecord, Tracer
from steadyhand.tracing.spool import Spool

from ._stores import STORE_HANG, MemoryStore

HANG_MARGIN = 10.0
"""Seconds of slack for a loaded machine: bounds here catch waiting for the hung store, not slowness."""


def test_flush_returns_within_its_timeout_when_the_store_hangs(tmp_path: Path) -> None:
    store = MemoryStore()
    store.hang.set()
    tracer = Tracer(store, spool_dir=tmp_path / "spool", flush_interval=0.01, exit_timeout=None)
    try:
        for i in range(50):
            tracer.record(SpanRecord(name=f"s{i}"))
        # The store holds each write for STORE_HANG s: returning well before that means the timeout
        # bounded the wait. (How close to its timeout flush returns is a benchmark figure:
        # benchmarks/bench_tracer_faults.py.)
        for timeout in (0.0, 0.05, 0.3):
            t0 = time.monotonic()
            assert tracer.flush(timeout=timeout) is False
            assert time.monotonic() - t0 < timeout + HANG_MARGIN
        t0 = time.monotonic()
        assert tracer.close(timeout=0.2) is False
        assert time.monotonic() - t0 < 0.2 + HANG_MARGIN
    finally:
        store.release.set()
    assert tracer.stats().dropped == 0


def test_record_stays_fast_while_the_store_hangs(tmp_path: Path) -> None:
    store = MemoryStore()
    store.hang.set()
    tracer = Tracer(store, spool_dir=tmp_path / "spool", max_queue=50, exit_timeout=None)
    try:
        t0 = time.monotonic()
        for i in range(2000):
            tracer.record(SpanRecord(name=f"s{i}"))
        took = time.monotonic() - t0
        stats = tracer.stats()
        assert stats.queued <= 50 and stats.spooled == 2000 and stats.dropped == 0
        # Had record() waited for the hung store even once, it would have taken STORE_HANG s; its
        # latency (worst, p99) is measured in benchmarks/bench_tracer_faults.py.
        assert took < STORE_HANG - HANG_MARGIN, f"record() waited for the hung store ({took:.1f} s)"
    finally:
        store.release.set()
        tracer.close(timeout=30)


def test_full_queue_and_unwritable_spool_drop_and_count(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the spool directory should go")
    store = MemoryStore()
    store.hang.set()
    tracer = Tracer(store, spool_dir=blocker / "spool", max_queue=10, batch_size=5, exit_timeout=None)
    try:
        assert tracer.spool_path is None
        for i in range(100):
            tracer.record(SpanRecord(name=f"s{i}"))  # must not raise
        stats = tracer.stats()
        assert stats.spool_errors >= 1 and stats.spooled == 0
        assert stats.dropped > 0
        assert stats.enqueued + stats.dropped == 100
        assert stats.enqueued <= 10 + 5  # the queue, plus one batch the hung writer holds
    finally:
        store.release.set()
        tracer.close(timeout=30)
    assert len(store.spans) == stats.enqueued, "every accepted span still reached the store"


def test_a_full_spool_falls_back_to_memory_then_drops(tmp_path: Path) -> None:
    store = MemoryStore()
    store.hang.set()
    tracer = Tracer(
        store, spool_dir=tmp_path / "spool", max_queue=20, max_spool_bytes=2_000, exit_timeout=None
    )
    try:
        for i in range(200):
            tracer.record(SpanRecord(name=f"s{i}"))
        stats = tracer.stats()
        assert 0 < stats.spooled < 200
        assert stats.dropped > 0 and stats.enqueued + stats.dropped == 200
    finally:
        store.release.set()
        tracer.close(timeout=30)


def test_a_span_that_cannot_be_serialized_is_counted_not_raised(tmp_path: Path, store: MemoryStore) -> None:
    tracer = Tracer(store, spool_dir=tmp_path / "spool", exit_timeout=None)
    bad = SpanRecord(name="bad", attributes={"x": float("nan")})
    bad.attributes = {"cycle": bad.attributes}
    bad.attributes["cycle"]["self"] = bad.attributes
    tracer.record(bad)
    tracer.record(SpanRecord(name="good"))
    assert tracer.flush(5)
    tracer.close()
    assert tracer.stats().dropped == 1
    assert [s.name for s in store.spans.values()] == ["good"]


def test_a_trickle_is_written_in_batches_not_one_write_per_span(tmp_path: Path) -> None:
    """A store write has a fixed cost: the writer must not chase every span that arrived during the last."""
    store = SlowStore(0.003)
    tracer = Tracer(store, spool_dir=tmp_path / "spool", flush_interval=0.1, exit_timeout=None)
    try:
        t0 = time.monotonic()
        for i in range(300):
            tracer.record(SpanRecord(name=f"s{i}"))
            time.sleep(0.001)
        elapsed = time.monotonic() - t0
        assert tracer.flush(5)
    finally:
        tracer.close(timeout=30)
    assert len(store.spans) == 300
    assert store.writes <= elapsed / 0.1 + 3, f"{store.writes} writes in {elapsed:.2f} s"


class SlowStore(MemoryStore):
    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def write_spans(self, spans: Sequence[SpanRecord]) -> int:
        time.sleep(self.seconds)
        return super().write_spans(spans)


def test_the_spool_checkpoint_is_rewritten_now_and_then_not_per_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each checkpoint is several system calls; one per batch made the writer starve behind a busy app."""
    commits: list[tuple[int, int]] = []
    original = Spool.commit

    def commit(self: Spool, pos: tuple[int, int]) -> None:
        commits.append(pos)
        original(self, pos)

    monkeypatch.setattr(Spool, "commit", commit)
    store = MemoryStore()
    tracer = Tracer(store, spool_dir=tmp_path / "spool", batch_size=10, exit_timeout=None)
    for i in range(1000):
        tracer.record(SpanRecord(name=f"s{i}"))
    assert tracer.flush(5)
    assert store.writes >= 100 and len(commits) <= 5, (store.writes, len(commits))
    tracer.close()
    assert len(store.spans) == 1000

"""The writer never takes the app's lock: with many threads recording, the queue overflowing into the
spool and the writer reading it back, every span reaches the store exactly once, in each thread's order."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from steadyhand import _sched
from steadyhand.tracing import SpanRecord, Tracer
from steadyhand.tracing._serialize import span_to_line
from steadyhand.tracing._writer import Item, Writer, WriterState
from steadyhand.tracing.spool import Spool

from ._stores import MemoryStore


class CountingStore(MemoryStore):
    """Keeps the order of writes; blocks every write until ``gate`` opens, so the queue must overflow."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []
        self.gate = threading.Event()

    def write_spans(self, spans: Sequence[SpanRecord]) -> int:
        self.gate.wait(30)
        self.order.extend(s.name for s in spans)
        return super().write_spans(spans)


def test_threads_and_overflow_deliver_every_span_once_in_order(tmp_path: Path) -> None:
    store = CountingStore()
    tracer = Tracer(
        store,
        spool_dir=tmp_path / "spool",
        max_queue=40,
        batch_size=16,
        flush_interval=0.01,
        exit_timeout=None,
    )
    threads, per_thread = 4, 1500

    def work(t: int) -> None:
        for i in range(per_thread):
            tracer.record(SpanRecord(name=f"t{t}-{i:05d}", attributes={"pad": "x" * (i % 50)}))

    try:
        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        store.gate.set()  # the store was stuck while 6,000 spans arrived: most went to the spool only
        assert tracer.flush(20)
        stats = tracer.stats()
    finally:
        tracer.close(timeout=5)
    assert stats.dropped == 0 and stats.enqueued == threads * per_thread
    assert stats.replayed > 0, "the queue never overflowed: the test did not exercise the spool path"
    assert len(store.order) == len(set(store.order)) == threads * per_thread, "lost or duplicated spans"
    for t in range(threads):
        mine = [n for n in store.order if n.startswith(f"t{t}-")]
        assert mine == sorted(mine)


def test_an_item_queued_for_a_line_already_read_from_the_spool_is_skipped(tmp_path: Path) -> None:
    """The app appends to the spool, then queues; the writer may read the spool's end in between."""
    spool = Spool(tmp_path / "spool")
    state = WriterState()
    writer = Writer(
        state=state, store=None, exporters=(), spool=spool, spool_root=None, batch_size=10, interval=1.0
    )
    spans = [SpanRecord(name=f"s{i}") for i in range(3)]
    positions = [spool.append(span_to_line(s)) for s in spans]
    state.spool_only = 2  # the first two overflowed; the third is "about to be queued"
    got, end, count = writer._next_batch()
    assert [s.name for s in got] == ["s0", "s1", "s2"] and count == 3 and end == spool.end
    writer._cursor = end
    state.queue.append(Item(spans[2], *positions[2]))
    later = SpanRecord(name="s3")
    state.queue.append(Item(later, *spool.append(span_to_line(later))))
    got, end, count = writer._next_batch()
    assert [s.name for s in got] == ["s3"] and count == 1 and end == spool.end
    spool.close(remove=True)


class OverlapStore(MemoryStore):
    """Takes two writes at once (as ``Store`` on PostgreSQL says); its first write waits for ``gate``."""

    concurrent_writes = 2

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.second_stored = threading.Event()
        self.calls = 0
        self.lock = threading.Lock()

    def write_spans(self, spans: Sequence[SpanRecord]) -> int:
        with self.lock:
            self.calls += 1
            first = self.calls == 1
        if first:
            self.gate.wait(30)
        with self.lock:
            n = super().write_spans(spans)
        if not first:
            self.second_stored.set()
        return n


def test_the_next_batch_is_written_while_one_commits_and_delivery_advances_in_order(tmp_path: Path) -> None:
    store = OverlapStore()
    tracer = Tracer(
        store, spool_dir=tmp_path / "spool", batch_size=10, flush_interval=0.01, exit_timeout=None
    )
    for i in range(20):
        tracer.record(SpanRecord(name=f"s{i}"))
    assert store.second_stored.wait(10), "the second batch waited for the first"
    assert not tracer.flush(0.2)  # stored, but not delivered before the batch ahead of it
    assert tracer.stats().written == 0
    store.gate.set()
    assert tracer.flush(10)
    assert tracer.stats().written == 20 and len(store.spans) == 20
    assert tracer.close(10)


def test_a_writer_behind_stops_giving_way_and_takes_its_share(tmp_path: Path) -> None:
    """Giving the core away between steps (``steadyhand._sched``) while the app is busy would keep a
    writer that fell behind there for good: with more than a batch waiting it writes without."""
    giving: list[bool] = []
    blocked, release = threading.Event(), threading.Event()

    class SlowStore:
        def write_spans(self, spans: Sequence[SpanRecord]) -> int:
            giving.append(_sched._giving.on)
            blocked.set()
            assert release.wait(10)
            return len(spans)

    tracer = Tracer(SlowStore(), spool_dir=tmp_path / "spool", batch_size=10, flush_interval=0.01)
    try:
        tracer.record(SpanRecord(name="first"))
        assert blocked.wait(10)  # the writer is inside its first write, a span behind
        for i in range(100):
            tracer.record(SpanRecord(name=f"s{i}"))
        release.set()
        assert tracer.flush(10)
    finally:
        release.set()
        tracer.close()
    assert giving[0] is True
    assert giving[1] is False  # 100 spans waited, batches of 10
    assert giving[-1] is True  # caught up

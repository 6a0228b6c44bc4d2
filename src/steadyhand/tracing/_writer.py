"""The background writer: drains the in-memory queue (and the spool, for what did not fit) into the store.

Memory holds at most ``max_queue`` spans; what did not fit is read back from the spool in order, so
the store sees spans in the order they were recorded whichever path they took. The spool checkpoint
advances only after the store committed a batch; a store failure is retried with backoff for as long
as it lasts, while ``record()`` keeps appending to the spool. What the store refuses, or the spool
cannot read back, is put aside span by span as a dead letter (``_deadletter``) and the rest flows on.

A store that takes concurrent writes (``concurrent_writes`` > 1: PostgreSQL) gets that many batches in
flight, each written by a helper thread on its own connection: while the server inserts and commits
(fsyncs) one batch, the next one is built and sent. Batches still complete in order here: the
checkpoint, ``delivered`` and exporters advance past a batch only once it and every earlier one are
stored, so a crash replays at most the batches in flight (the store drops what it already has).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .._sched import give_way
from ._deadletter import DeadLetters, write_or_isolate
from .records import SpanRecord
from .spool import Pos, Spool, _SpoolDir, claim_orphans

__all__ = ["Item", "SpanWriter", "Writer", "WriterState"]

log = logging.getLogger("steadyhand.tracing")

_ORPHAN_RESCAN_S = 30.0
_CHECKPOINT_S = 1.0
"""How often the spool checkpoint is rewritten within a segment. Each write is a few system calls, and
a system call costs this thread the GIL, which it may wait up to 5 ms to get back from a busy app; a
checkpoint behind the store only means a crash replays a little more (the store drops duplicates)."""


class SpanWriter(Protocol):
    """A destination for batches of spans: the store, or an exporter.

    ``write_spans`` returns how many it wrote and raises (``StoreError`` for the store) when it cannot;
    it must be idempotent by ``span_id``, since a batch is written again after a crash or a failure.
    """

    def write_spans(self, spans: Sequence[SpanRecord]) -> int: ...


@dataclass(slots=True)
class Item:
    span: SpanRecord
    start: Pos | None
    end: Pos | None


@dataclass(slots=True)
class _Job:
    """One batch handed to a helper thread; ``done`` is set once ``stored`` says how it went."""

    spans: list[SpanRecord]
    end: Pos | None
    count: int
    done: threading.Event = field(default_factory=threading.Event)
    stored: bool = False
    rejected: list[tuple[SpanRecord, str]] = field(default_factory=list)


@dataclass(slots=True)
class WriterState:
    """Shared by ``record()`` and the writer thread.

    ``record()`` appends to the spool and the queue under ``lock``; the writer never takes it (a lock
    held by the app across ``os.write`` would make the writer give the GIL back and wait for it each
    time): it pops from the left of the deque (atomic), reads ``spool.end`` (one tuple) and counters.
    """

    lock: threading.Lock = field(default_factory=threading.Lock)
    queue: deque[Item] = field(default_factory=deque)
    spool_only: int = 0
    """Spans appended to the spool but not queued (the queue was full): the writer reads them back."""
    accepted: int = 0
    spooled: int = 0
    dropped: int = 0
    spool_errors: int = 0
    delivered: int = 0
    written: int = 0
    replayed: int = 0
    store_errors: int = 0
    export_failed: int = 0
    dead_lettered: int = 0
    last_error: str | None = None
    orphans_done: bool = False


class Writer(threading.Thread):
    """One daemon thread per Tracer (a hung store must never keep the process from exiting)."""

    def __init__(
        self,
        *,
        state: WriterState,
        store: SpanWriter | None,
        exporters: Sequence[SpanWriter],
        spool: Spool | None,
        spool_root: Path | None,
        batch_size: int,
        interval: float,
        dead_letters: DeadLetters | None = None,
    ) -> None:
        super().__init__(name="steadyhand-tracer", daemon=True)
        self.dead = dead_letters or DeadLetters(spool_root)
        self.state = state
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.progress = threading.Condition()
        self.urgent = 0
        """``flush()`` calls waiting (changed under ``progress``): deliver partial batches at once."""
        self._store = store
        self._exporters = tuple(exporters)
        self._spool = spool
        self._root = spool_root
        self._batch_size = batch_size
        self._interval = interval
        self._cursor: Pos = (0, 0) if spool is None else (spool.end[0], 0)
        """The spool position everything before which is stored."""
        self._read = self._cursor
        """Where the next batch starts: past the batches in flight."""
        self._checkpoint = self._cursor
        self._depth = max(1, int(getattr(store, "concurrent_writes", 1))) if store is not None else 1
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._inflight: deque[_Job] = deque()
        self._errors = threading.Lock()
        """Guards the error counters the helper threads update."""
        self._spool_only_seen = 0
        self._next_checkpoint = 0.0

    def run(self) -> None:
        helpers = [
            threading.Thread(target=self._help, name="steadyhand-tracer-write", daemon=True)
            for _ in range(self._depth if self._depth > 1 else 0)
        ]
        for helper in helpers:
            helper.start()
        try:
            self._run()
        finally:
            for _ in helpers:
                self._jobs.put(None)

    def _help(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                give_way(self._keeping_up())
                stored = self._store_batch(job.spans)
                job.stored, job.rejected = stored is not None, stored or []
            finally:
                job.done.set()
                self.wake.set()  # the writer moves past it (and what it held back)

    def _run(self) -> None:
        next_scan = 0.0
        next_partial = time.monotonic() + self._interval
        while not self.stop.is_set():
            now = time.monotonic()
            partial = self.urgent > 0 or now >= next_partial
            try:
                if now >= next_scan:
                    self._replay_orphans()
                    next_scan = time.monotonic() + _ORPHAN_RESCAN_S
                self._drain(partial=partial)
            except Exception as e:  # a bug here must not kill tracing for the process
                log.exception("steadyhand tracer writer failed; retrying")
                self.state.last_error = repr(e)
                self._collect(block=True)
                self._read = self._cursor  # the batch it was on is read again from the spool
                self.stop.wait(0.5)
            if partial:
                next_partial = time.monotonic() + self._interval
            self.wake.wait(max(next_partial - time.monotonic(), 0.0))
            self.wake.clear()
        self._collect(block=True)
        self._checkpoint_now()

    def _drain(self, *, partial: bool) -> None:
        """Deliver full batches; one partial batch when ``partial`` (the interval is up), all during a flush.

        A store has a fixed cost per write (a transaction, statements): writing whatever trickled in
        while the last write ran would keep this thread busy, and holding the GIL, with tiny batches.
        """
        while not self.stop.is_set():
            if not self._collect(block=False):
                return
            if not (partial or self.urgent > 0 or self._full_batch_waiting()):
                return
            partial = False
            start = self._read
            spans, end, count = self._next_batch()
            if count == 0 and end == start:
                return
            if self._depth == 1:
                give_way(self._keeping_up())
                if spans and not self._deliver(spans):
                    return
                self._done(end, count)
                continue
            job = _Job(spans, end, count)
            if spans:
                self._jobs.put(job)
            else:
                job.stored = True
                job.done.set()
            self._inflight.append(job)
            if len(self._inflight) >= self._depth and not self._complete():
                return

    def _collect(self, *, block: bool) -> bool:
        """Move past the batches in flight that are stored, in order (all of them: ``block``); False
        if one was not, because the writer is stopping."""
        while self._inflight and (block or self._inflight[0].done.is_set()):
            if not self._complete():
                return False
        return True

    def _complete(self) -> bool:
        """Wait for the oldest batch in flight and move past it; False (all in flight dropped, to be
        read again) if it was not stored because the writer is stopping."""
        job = self._inflight.popleft()
        job.done.wait()
        if not job.stored:
            self._inflight.clear()
            self._read = self._cursor
            return False
        if job.spans:
            self._delivered(job.spans, job.rejected)
        self._done(job.end, job.count)
        return True

    def _done(self, end: Pos | None, count: int) -> None:
        if end is not None and end != self._cursor:
            self._commit(end)
        self._advance(count)

    def _keeping_up(self) -> bool:
        """Less than a batch waits, none of it only in the spool: the store write may give way to the
        application's threads between its steps (``steadyhand._sched``); behind, it takes its share."""
        st = self.state
        return len(st.queue) < self._batch_size and st.spool_only <= self._spool_only_seen

    def _full_batch_waiting(self) -> bool:
        st, queue = self.state, self.state.queue
        if len(queue) >= self._batch_size:
            return True
        if self._spool is None:
            return False
        if queue:  # only this thread pops: queue[0] is still there
            first = queue[0].start
            return first is not None and first > self._read  # spans that only reached the spool
        return st.spool_only > self._spool_only_seen

    def _next_batch(self) -> tuple[list[SpanRecord], Pos | None, int]:
        """Up to one batch in record order: memory items, and spool reads for what only the spool holds;
        the next batch starts where it ends (``_read``).

        Lines the spool holds but the queue does not show up as a gap before the next queued item, or,
        with the queue empty, as ``spool_only`` having grown; then the spool is read up to its end, and
        an item queued meanwhile for a line already read (``end <= expected``) is skipped.
        """
        st, spool, size, queue = self.state, self._spool, self._batch_size, self.state.queue
        spans: list[SpanRecord] = []
        expected = self._read
        count = 0
        while len(spans) < size:
            items = [queue.popleft() for _ in range(min(len(queue), size - len(spans)))]
            for i, item in enumerate(items):
                if spool is not None and item.start is not None and item.end is not None:
                    if item.end <= expected:
                        continue
                    if item.start > expected:
                        got, expected = spool.read(expected, item.start, size - len(spans))
                        count += self._put_aside_bad(spool)
                        spans.extend(s for s, _ in got)
                        count += len(got)
                        st.replayed += len(got)
                        if expected < item.start or len(spans) >= size:  # batch full before this item
                            queue.extendleft(reversed(items[i:]))
                            self._read = expected
                            return spans, expected, count
                spans.append(item.span)
                count += 1
                if item.end is not None:
                    expected = item.end
            if items:
                continue
            if spool is not None and st.spool_only > self._spool_only_seen:
                seen, spool_end = st.spool_only, spool.end  # in this order: lines counted are before end
                if spool_end > expected:
                    got, expected = spool.read(expected, spool_end, size - len(spans))
                    count += self._put_aside_bad(spool)
                    spans.extend(s for s, _ in got)
                    count += len(got)
                    st.replayed += len(got)
                if expected >= spool_end:
                    self._spool_only_seen = seen
            break
        if spool is None:
            return spans, None, count
        self._read = expected
        return spans, expected, count

    def _deliver(self, spans: list[SpanRecord]) -> bool:
        """Write to the store until it works (False if asked to stop first), then offer to exporters."""
        rejected = self._store_batch(spans)
        if rejected is None:
            return False
        self._delivered(spans, rejected)
        return True

    def _store_batch(self, spans: list[SpanRecord]) -> list[tuple[SpanRecord, str]] | None:
        """Write to the store until it works: the spans it refused, or None if asked to stop first."""
        st = self.state
        backoff = 0.05
        while self._store is not None:
            try:
                return write_or_isolate(self._store.write_spans, spans)
            except Exception as e:
                with self._errors:
                    st.store_errors += 1
                    st.last_error = f"{type(e).__name__}: {e}"
                    errors = st.store_errors
                if errors == 1 or errors % 100 == 0:
                    log.warning("steadyhand trace store write failed (%s); spans stay spooled", st.last_error)
                if self.stop.wait(backoff):
                    return None
                backoff = min(backoff * 2, 2.0)
        return []

    def _delivered(self, spans: list[SpanRecord], rejected: list[tuple[SpanRecord, str]]) -> None:
        """Dead-letter what the store refused, count the rest and offer it to the exporters."""
        st = self.state
        for span, reason in rejected:
            self.dead.span(span, reason)
        if rejected:
            st.dead_lettered += len(rejected)
            st.last_error = f"dead letter: {rejected[-1][1]}"
            refused = {id(s) for s, _ in rejected}
            spans = [s for s in spans if id(s) not in refused]
        st.written += len(spans)
        for exporter in self._exporters:
            try:
                exporter.write_spans(spans)
            except Exception as e:
                st.export_failed += len(spans)
                st.last_error = f"export {type(e).__name__}: {e}"

    def _commit(self, end: Pos) -> None:
        """Everything before ``end`` is stored: checkpoint when a segment is done, else now and then."""
        self._cursor = end
        if end[0] != self._checkpoint[0] or time.monotonic() >= self._next_checkpoint:
            self._checkpoint_now()

    def _checkpoint_now(self) -> None:
        if self._spool is None or self._cursor == self._checkpoint:
            return
        try:
            self._spool.commit(self._cursor)
            self._checkpoint = self._cursor
        except OSError as e:  # the spool will be replayed again: duplicates, not loss
            self.state.spool_errors += 1
            self.state.last_error = f"spool checkpoint: {e}"
        self._next_checkpoint = time.monotonic() + _CHECKPOINT_S

    def _put_aside_bad(self, spool: _SpoolDir) -> int:
        """Dead-letter the lines the last read could not turn into spans; returns how many."""
        n = len(spool.bad)
        if n:
            for line, reason in spool.bad:
                self.dead.line(line, reason, source="spool")
            self.state.dead_lettered += n
            self.state.last_error = f"dead letter: {spool.bad[-1][1]}"
            spool.bad.clear()
        return n

    def _report_warnings(self, spool: _SpoolDir) -> None:
        for warning in spool.warnings:
            log.warning("steadyhand %s", warning)
            self.dead.line(None, warning, source="spool checkpoint")
            self.state.spool_errors += 1
            self.state.last_error = warning
        spool.warnings.clear()

    def _advance(self, count: int) -> None:
        with self.progress:
            self.state.delivered += count
            self.progress.notify_all()

    def _replay_orphans(self) -> None:
        if self._root is not None:
            own = self._spool.path if self._spool is not None else None
            for orphan in claim_orphans(self._root, own=own):
                pos = orphan.checkpoint()
                self._report_warnings(orphan)
                while True:
                    got, nxt = orphan.read(pos, None, self._batch_size)
                    self._put_aside_bad(orphan)
                    if not got:
                        if nxt != pos:  # only unreadable lines: they are put aside, move past them
                            orphan.commit(nxt)
                        break
                    if not self._deliver([s for s, _ in got]):
                        orphan.release(remove=False)
                        return
                    self.state.replayed += len(got)
                    orphan.commit(nxt)
                    pos = nxt
                orphan.release(remove=True)
        with self.progress:
            self.state.orphans_done = True
            self.progress.notify_all()

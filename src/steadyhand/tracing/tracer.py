"""The Tracer: records spans durably without slowing the caller, and writes them to the store behind it.

``record()`` prices and redacts the span, appends one JSON line to the write-ahead spool (so it survives
the process being killed from then on), queues it in memory and returns; a background thread batches
into the store and exporters. With ``writer="process"`` nothing is queued: a subprocess tails the spool
into the store, and the app's GIL only ever serves the hot path. See ``docs/tracing.md``.
"""

from __future__ import annotations

import atexit
import functools
import inspect
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from ..errors import ConfigurationError
from ._process import ProcessWriter, store_url
from ._serialize import redacted_line
from ._writer import Item, SpanWriter, Writer, WriterState
from .cost import PriceTable, load_prices
from .records import SpanKind, SpanRecord
from .redaction import Redactor
from .spans import Span
from .spool import Spool

__all__ = ["DEFAULT_SPOOL_DIR", "Tracer", "TracerStats"]

log = logging.getLogger("steadyhand.tracing")

DEFAULT_SPOOL_DIR = Path(".steadyhand/spool")
_PRICED_KINDS = frozenset({"llm", "attempt", "shadow"})
_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True, kw_only=True)
class TracerStats:
    """Counters since the Tracer started. ``dropped`` stays 0 unless memory and disk were both full."""

    enqueued: int
    """Spans ``record()`` accepted (durable once spooled)."""
    written: int
    """Spans written to the store (including replayed ones)."""
    spooled: int
    """Spans appended to the on-disk spool (every accepted span while the spool works)."""
    replayed: int
    """Spans read back from a spool, not memory: overflow while the store was slow, or a dead process's."""
    dropped: int
    """Spans lost: the memory queue was full and the spool could not be written."""
    queued: int
    """Spans waiting in memory right now."""
    store_errors: int
    spool_errors: int
    export_failed: int
    last_error: str | None
    dead_lettered: int = 0
    """Spans (or unreadable spool lines) the store refused, put aside in ``dead-letters.jsonl`` under
    the spool root: see ``steadyhand traces doctor``."""
    writer_alive: bool = True
    """Whether the writer (thread or process) is running; a dead writer process is restarted."""
    writer_restarts: int = 0
    """Writer processes started again after one died."""


class Tracer:
    """Records spans: the ``SpanSink`` the ``Client`` calls, plus ``span()``/``trace()`` for app code.

    Args:
        store: where spans end up (``steadyhand.store.open_store(url)``, or anything with
            ``write_spans``); ``None`` keeps only the spool and exporters. With ``writer="process"``:
            a database URL, or a ``Store`` whose ``.url`` the writer process reopens.
        writer: ``"thread"``, a background thread in this process; ``"process"``, a subprocess that tails
            the spool (``record()`` never competes with the writer for the GIL; needs ``spool_dir``, no
            ``exporters``).
        spool_dir: the write-ahead spool root; ``None`` disables it (then a crash loses queued spans).
        redact: redact secrets and personal data before anything is written (``False``: store text as is).
        redactor: a configured ``Redactor``; default: every built-in detector, masking.
        prices: a ``PriceTable``, a path to a TOML price table, or ``None`` for the bundled one.
        exporters: extra destinations (e.g. ``OtlpExporter``), written best-effort after the store.
        project: the project of spans started here with no parent.
        max_queue: spans held in memory; beyond it they wait in the spool only.
        batch_size: spans per store write.
        flush_interval: seconds the writer waits to fill a batch.
        fsync: ``fdatasync`` each spool append: survives power loss, costs a disk flush per span.
        segment_bytes: spool segment size; fully stored segments are deleted.
        max_spool_bytes: past this, new spans are held in memory only.
        exit_timeout: seconds a normal interpreter exit waits to flush (``atexit``); ``None``: no hook.
        drain_seconds: process mode: how long the writer process keeps draining after the app died.
    """

    def __init__(
        self,
        store: SpanWriter | str | None = None,
        *,
        writer: Literal["thread", "process"] = "thread",
        spool_dir: str | Path | None = DEFAULT_SPOOL_DIR,
        redact: bool = True,
        redactor: Redactor | None = None,
        prices: PriceTable | str | Path | None = None,
        exporters: Sequence[SpanWriter] = (),
        project: str = "default",
        max_queue: int = 10_000,
        batch_size: int = 256,
        flush_interval: float = 0.2,
        fsync: bool = False,
        segment_bytes: int = 16 << 20,
        max_spool_bytes: int | None = 1 << 30,
        exit_timeout: float | None = 5.0,
        drain_seconds: float = 30.0,
    ) -> None:
        if writer not in ("thread", "process"):
            raise ConfigurationError(f"writer must be 'thread' or 'process', not {writer!r}")
        url = store_url(store) if writer == "process" else None
        if writer == "process" and (spool_dir is None or exporters):
            raise ConfigurationError(
                "Tracer(writer='process') needs a spool_dir (the writer process reads it) and takes no "
                "exporters; use writer='thread' for those"
            )
        if isinstance(store, str) and url is None:
            raise ConfigurationError(
                "a database URL needs writer='process'; in thread mode pass open_store(url) as the store"
            )
        self.project = project
        self.redactor = (redactor or Redactor()) if redact else None
        self.prices = load_prices(prices)
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._max_spool = max_spool_bytes
        self._state = WriterState()
        self._closed = False
        self._dead_seen = 0
        """``dead_lettered`` when ``flush()`` last returned: a flush over new dead letters is no success."""
        root = Path(spool_dir) if spool_dir is not None else None
        self._spool: Spool | None = None
        if root is not None:
            try:
                self._spool = Spool(root, fsync=fsync, segment_bytes=segment_bytes)
            except OSError as e:
                self._state.spool_errors += 1
                self._state.last_error = f"spool: {e}"
                if url is not None:
                    raise ConfigurationError(
                        f"Tracer(writer='process') cannot use the spool {root} ({e}): make it writable, "
                        "or use writer='thread'"
                    ) from e
                log.warning("steadyhand spool %s unusable (%s): spans are kept in memory only", root, e)
                root = None
        self._writer: Writer | None = None
        self._process: ProcessWriter | None = None
        if url is not None and self._spool is not None and root is not None:
            self._process = ProcessWriter(
                url=url,
                spool=self._spool,
                root=root,
                batch_size=batch_size,
                interval=flush_interval,
                drain_seconds=drain_seconds,
            )
        else:
            self._writer = Writer(
                state=self._state,
                store=cast("SpanWriter | None", store),
                exporters=exporters,
                spool=self._spool,
                spool_root=root,
                batch_size=batch_size,
                interval=flush_interval,
            )
            self._writer.start()
        self._exit_timeout = exit_timeout
        if exit_timeout is not None:
            atexit.register(self._at_exit)

    # -- the hot path -----------------------------------------------------------------------------

    def record(self, span: SpanRecord) -> None:
        """Accept a finished span; durable against a crash of this process once this returns.

        Never raises and never waits on the store. The Tracer takes ownership of ``span``: it fills
        ``cost_usd``/``price_version`` on LLM spans and redacts it in place.
        """
        try:
            if span.kind in _PRICED_KINDS and span.cost_usd is None:
                self.prices.apply(span)
            line: bytes | None = None
            if self._spool is not None or self.redactor is not None:
                line = redacted_line(span, self.redactor)  # redacts span in place when it must
            if self._spool is None:
                line = None
        except Exception as e:
            self._state.dropped += 1
            self._state.last_error = f"record: {type(e).__name__}: {e}"
            return
        self._enqueue(span, line)

    def _enqueue(self, span: SpanRecord, line: bytes | None) -> None:
        st = self._state
        if self._process is not None:
            self._append_only(line)
            return
        wake = False
        with st.lock:
            if self._closed:
                st.dropped += 1
                return
            start = end = None
            spool = self._spool
            if line is not None and spool is not None:
                if self._max_spool is None or spool.live_bytes + len(line) <= self._max_spool:
                    try:
                        start, end = spool.append(line)
                        st.spooled += 1
                    except OSError as e:
                        st.spool_errors += 1
                        st.last_error = f"spool: {e}"
                else:
                    st.spool_errors += 1
            if len(st.queue) < self._max_queue:
                st.queue.append(Item(span, start, end))
                wake = len(st.queue) >= self._batch_size
            elif start is None:
                st.dropped += 1
                return
            else:
                st.spool_only += 1
            st.accepted += 1
        writer = self._writer
        if wake and writer is not None and not writer.wake.is_set():
            writer.wake.set()

    def _append_only(self, line: bytes | None) -> None:
        """Process mode: the spool is the only copy (nothing in memory); a span it cannot take is lost."""
        st, spool = self._state, self._spool
        with st.lock:
            if self._closed or line is None or spool is None:
                st.dropped += 1
                return
            if self._max_spool is not None and spool.live_bytes + len(line) > self._max_spool:
                st.spool_errors += 1
                st.dropped += 1
                return
            try:
                spool.append(line)
            except OSError as e:
                st.spool_errors += 1
                st.dropped += 1
                st.last_error = f"spool: {e}"
                return
            st.spooled += 1
            st.accepted += 1

    # -- spans for application code ---------------------------------------------------------------

    def span(
        self,
        name: str,
        *,
        kind: SpanKind = "custom",
        tags: Mapping[str, str] | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> Span:
        """A span to use as ``with`` / ``async with``; calls inside it (client calls too) become children."""
        return Span(self, name, kind=kind, tags=tags, attributes=attributes)

    def trace(
        self, name: str | None = None, *, kind: SpanKind = "custom", tags: Mapping[str, str] | None = None
    ) -> Callable[[_F], _F]:
        """Decorate a function (sync or async) so each call runs inside a span named ``name``."""

        def decorate(fn: _F) -> _F:
            span_name = name or fn.__qualname__
            if inspect.iscoroutinefunction(fn):

                @functools.wraps(fn)
                async def traced_async(*args: Any, **kwargs: Any) -> Any:
                    async with self.span(span_name, kind=kind, tags=tags):
                        return await fn(*args, **kwargs)

                return cast(_F, traced_async)

            @functools.wraps(fn)
            def traced(*args: Any, **kwargs: Any) -> Any:
                with self.span(span_name, kind=kind, tags=tags):
                    return fn(*args, **kwargs)

            return cast(_F, traced)

        return decorate

    # -- lifecycle --------------------------------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait at most ``timeout`` s for every span accepted so far (and any dead process's spool) to
        reach the store; returns whether they all did. Spans not yet stored stay in the spool; spans
        the store refused since the last flush (dead letters, see ``stats()``) make it return False."""
        ok = self._flush(timeout)
        dead = self.stats().dead_lettered
        if dead != self._dead_seen:
            log.warning(
                "steadyhand put %d span(s) aside as dead letters: run `steadyhand traces doctor`",
                dead - self._dead_seen,
            )
            self._dead_seen = dead
            return False
        return ok

    def _flush(self, timeout: float) -> bool:
        deadline = time.monotonic() + max(timeout, 0.0)
        st, writer = self._state, self._writer
        if self._process is not None and self._spool is not None:
            with st.lock:
                target = self._spool.end
            return self._process.flush(target, deadline)
        assert writer is not None
        with st.lock:
            accepted = st.accepted
        with writer.progress:
            writer.urgent += 1
            writer.wake.set()
            try:
                while not (st.delivered >= accepted and st.orphans_done):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not writer.is_alive():
                        return False
                    writer.progress.wait(remaining)
            finally:
                writer.urgent -= 1
        return True

    def close(self, timeout: float = 5.0) -> bool:
        """Flush (at most ``timeout`` s) and stop; returns whether everything reached the store.

        Whatever did not stays in the spool, unlocked, for the next Tracer on the same ``spool_dir``.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        ok = self.flush(timeout)
        with self._state.lock:
            self._closed = True
        if self._process is not None:
            drained = self._process.stop(deadline)
            if self._spool is not None:
                self._spool.close(remove=False)  # a drained spool was deleted by the writer process
            ok = ok and drained
        elif self._writer is not None:
            self._writer.stop.set()
            self._writer.wake.set()
            self._writer.join(max(deadline - time.monotonic(), 0.0))
            if self._spool is not None:
                with self._state.lock:
                    self._spool.close(remove=ok and not self._writer.is_alive())
        if self._exit_timeout is not None:
            atexit.unregister(self._at_exit)
        return ok

    def _at_exit(self) -> None:
        if not self._closed:
            self.close(self._exit_timeout or 0.0)

    def __enter__(self) -> Tracer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stats(self) -> TracerStats:
        """Counters; in process mode ``written``/``replayed``/``store_errors`` are the writer process's."""
        st = self._state
        child = self._process.status() if self._process is not None else None
        if self._process is not None:
            alive, restarts = self._process.alive, self._process.restarts
        else:
            alive, restarts = self._writer is not None and self._writer.is_alive(), 0
        return TracerStats(
            enqueued=st.accepted,
            written=st.written if child is None else int(child.get("written", 0)),
            spooled=st.spooled,
            replayed=st.replayed if child is None else int(child.get("replayed", 0)),
            dropped=st.dropped,
            queued=len(st.queue),
            store_errors=st.store_errors if child is None else int(child.get("store_errors", 0)),
            spool_errors=st.spool_errors + (0 if child is None else int(child.get("spool_errors", 0))),
            export_failed=st.export_failed,
            last_error=st.last_error if child is None else child.get("last_error") or st.last_error,
            dead_lettered=st.dead_lettered if child is None else int(child.get("dead_lettered", 0)),
            writer_alive=alive or self._closed,
            writer_restarts=restarts,
        )

    @property
    def writer_pid(self) -> int | None:
        """The writer subprocess's pid (``writer="process"``), else ``None``."""
        return self._process.pid if self._process is not None else None

    @property
    def spool_path(self) -> Path | None:
        """This Tracer's own spool directory (``None`` when spooling is off or failed)."""
        return self._spool.path if self._spool is not None else None

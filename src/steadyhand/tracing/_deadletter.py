"""Dead letters: what the store refused, or the spool could not read back, put aside so the rest flows on.

A batch the store rejects (``StoreRejected``, or a value of the wrong type) is bisected until the
spans it refuses are alone; each goes, with the reason, to ``<spool root>/dead-letters.jsonl`` (one
JSON object a line: ``time``, ``pid``, ``source``, ``reason``, ``line``: the span's spool line, or the
unreadable line itself), shared by every process on that root and appended with one ``os.write``.
``steadyhand traces doctor`` lists them. An error that is not a rejection (the store is down) is
raised as before: the writer retries the whole batch with backoff, and nothing is put aside.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import StoreRejected
from ._serialize import encode, span_to_line
from .records import SpanRecord

__all__ = ["DEAD_LETTERS", "DeadLetters", "is_rejection", "write_or_isolate"]

log = logging.getLogger("steadyhand.tracing")

DEAD_LETTERS = "dead-letters.jsonl"
_REJECTIONS = (StoreRejected, TypeError, ValueError, AttributeError, KeyError, OverflowError)


def is_rejection(error: BaseException) -> bool:
    """The store refused the records themselves: sending them again cannot succeed."""
    return isinstance(error, _REJECTIONS)


def write_or_isolate(
    write: Callable[[Sequence[SpanRecord]], object], spans: Sequence[SpanRecord]
) -> list[tuple[SpanRecord, str]]:
    """Write ``spans``; on a rejection, write each half on its own, down to the spans refused alone.

    Returns the refused spans with their reasons. Raises what is not a rejection (the store is down):
    the caller then retries the whole batch (the store is idempotent, so halves written stay once).
    """
    try:
        write(spans)
        return []
    except Exception as e:
        if not is_rejection(e):
            raise
        if len(spans) == 1:
            return [(spans[0], f"{type(e).__name__}: {e}")]
    mid = len(spans) // 2
    return write_or_isolate(write, spans[:mid]) + write_or_isolate(write, spans[mid:])


def _line_of(span: SpanRecord) -> str:
    try:
        return span_to_line(span).decode("utf-8", "replace").rstrip("\n")
    except Exception:  # a span even JSON cannot hold: keep what repr shows
        return repr(span)


class DeadLetters:
    """Appends to ``root/dead-letters.jsonl`` (``root`` ``None``: logged and counted only)."""

    def __init__(self, root: Path | None) -> None:
        self.path = None if root is None else root / DEAD_LETTERS
        self.count = 0
        """Spans or lines put aside by this process."""
        self.last_reason: str | None = None

    def span(self, span: SpanRecord, reason: str, *, source: str = "store") -> None:
        self.line(_line_of(span), reason, source=source)

    def line(self, line: str | bytes | None, reason: str, *, source: str) -> None:
        """Put one record (or, with ``line`` ``None``, a note about the spool) aside, with why."""
        text = line.decode("utf-8", "replace").rstrip("\n") if isinstance(line, bytes) else line
        if text is not None:
            self.count += 1
        self.last_reason = reason
        entry = {"time": time.time(), "pid": os.getpid(), "source": source, "reason": reason, "line": text}
        if self.count <= 1 or self.count % 100 == 0:
            log.error("steadyhand trace record put aside (%s): %s; see %s", source, reason, self.path)
        if self.path is None:
            return
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, encode(entry) + b"\n")
            finally:
                os.close(fd)
        except OSError as e:
            log.error("steadyhand cannot write the dead-letter file %s (%s): %s", self.path, e, reason)

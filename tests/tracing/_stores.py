"""Test stores: in-memory, switchable failure/hang, and a stdlib-sqlite3 one a subprocess can share."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from steadyhand.errors import StoreError
from steadyhand.tracing import SpanRecord


class MemoryStore:
    """Keeps spans by id (idempotent); ``down`` makes writes fail, ``hang`` makes them block."""

    def __init__(self) -> None:
        self.spans: dict[str, SpanRecord] = {}
        self.writes = 0
        self.down = False
        self.hang = threading.Event()
        self.release = threading.Event()

    def write_spans(self, spans: Sequence[SpanRecord]) -> int:
        if self.hang.is_set():
            self.release.wait(30)
        if self.down:
            raise StoreError("store is down (test)")
        self.writes += 1
        for s in spans:
            self.spans[s.span_id] = s
        return len(spans)


class SqliteStore:
    """Idempotent by span_id, like the real store; safe to open from several processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS spans (span_id TEXT PRIMARY KEY, body TEXT)")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def write_spans(self, spans: Sequence[SpanRecord]) -> int:
        try:
            with self._connect() as db:
                db.executemany(
                    "INSERT OR IGNORE INTO spans VALUES (?, ?)",
                    [(s.span_id, json.dumps({"name": s.name, "request": s.request})) for s in spans],
                )
            return len(spans)
        except sqlite3.Error as e:
            raise StoreError(str(e)) from e

    def span_ids(self) -> list[str]:
        with self._connect() as db:
            return [r[0] for r in db.execute("SELECT span_id FROM spans")]

"""The trace store: ``open_store`` and :class:`Store`, the one object the tracer and the CLI use."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from ..errors import ConfigurationError, StoreError, StoreRejected
from ..records import CostUpdate, SpanRecord
from . import _configs, _costs, _keys, _migrate, _read, _retention
from ._engine import create_engine, deadline, map_errors, mask_password, normalize_url, write_transaction
from ._prompts import PromptTables
from ._write import write_batch
from ._write_pg import Raced
from .views import ApiKeyView, ConfigView, PruneResult, SpanView, TailPage, TraceDetail, TracePage

__all__ = ["DEFAULT_QUERY_TIMEOUT", "Store", "open_store"]

DEFAULT_QUERY_TIMEOUT = 10.0
_RACES = 5
"""Attempts at a batch that concurrent writers of the same spans keep getting in first (PostgreSQL)."""


def open_store(
    url: str | None = None,
    *,
    migrate: bool = True,
    query_timeout: float = DEFAULT_QUERY_TIMEOUT,
    create: bool = True,
) -> Store:
    """Open the store at ``url`` (``None``: ``.steadyhand/steadyhand.db``, created on demand).

    ``migrate`` runs the migrations to head first (a no-op when already there); turn it off where a
    deployment runs ``steadyhand db upgrade`` itself. ``query_timeout`` bounds every read, in seconds.
    ``create=False`` is for readers: a missing SQLite file, or a database without steadyhand's tables,
    is a ``StoreError`` instead of a new empty store (an existing one is still migrated to head).
    """
    store = Store(url, query_timeout=query_timeout, create=create)
    try:
        if not create:
            store.require_tables()
        if migrate:
            store.upgrade()
    except BaseException:
        store.close()
        raise
    return store


class Store:
    """Spans and traces in SQLite or PostgreSQL. Thread-safe; every failure is a ``StoreError``."""

    def __init__(
        self, url: str | None = None, *, query_timeout: float = DEFAULT_QUERY_TIMEOUT, create: bool = True
    ) -> None:
        self.url = normalize_url(url)
        self.query_timeout = query_timeout
        with map_errors(self.url):
            self._engine = create_engine(self.url, create=create)

    def __repr__(self) -> str:
        return f"Store({self.safe_url!r})"

    @property
    def safe_url(self) -> str:
        """The URL with its password hidden: what messages and command output show."""
        return mask_password(self.url)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def prompts(self) -> PromptTables:
        """The prompt registry's tables: versions, labels, label moves, a prompt's calls."""
        return PromptTables(self)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    @property
    def concurrent_writes(self) -> int:
        """How many ``write_spans`` calls the tracer's writer may run at once: 2 on PostgreSQL (one
        batch is sent while the server commits the last, each on its own connection), 1 on SQLite,
        whose writes take turns anyway."""
        return 2 if self.dialect == "postgresql" else 1

    def upgrade(self) -> None:
        """Run the Alembic migrations to head."""
        with map_errors(self.url):
            _migrate.upgrade(self._engine)

    def require_tables(self) -> None:
        """Raise ``StoreError`` unless steadyhand's tables exist here (at any migration revision)."""
        with map_errors(self.url), self._engine.connect() as conn:
            present = _migrate.current_revision(conn) is not None
        if not present:
            raise StoreError(
                f"the database at {mask_password(self.url)} has no steadyhand tables: check the URL, or "
                "create them with `steadyhand db upgrade`"
            )

    def close(self) -> None:
        self._engine.dispose()

    def at_head(self) -> bool:
        """Whether the schema is at the latest migration (``StoreError`` if the database is unreachable)."""
        with map_errors(self.url), self._engine.connect() as conn:
            return _migrate.is_at_head(conn)

    def write_spans(self, spans: Sequence[SpanRecord]) -> int:
        """Write a batch in one transaction, idempotent by span id; returns how many spans were new.

        Raises ``StoreRejected`` when the records themselves cannot be stored (a value of the wrong
        type), ``StoreError`` when the database cannot be reached.
        """
        if not spans:
            return 0
        for _ in range(_RACES):
            try:
                with map_errors(self.url), write_transaction(self._engine) as conn:
                    return write_batch(conn, spans)
            except Raced:  # another writer stored some of them meanwhile: look again
                continue
            except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as e:
                raise StoreRejected(f"a span cannot be stored ({type(e).__name__}: {e})") from e
        raise StoreError(
            f"other writers stored some of these spans first {_RACES} times in a row; retry later"
        )

    # -- the gateway's API keys ----------------------------------------------------------------------
    def create_key(self, key: ApiKeyView) -> None:
        """Store a new key (its hash, never the key)."""
        with map_errors(self.url), write_transaction(self._engine) as conn:
            _keys.insert_key(conn, key)

    def list_keys(self, *, project: str | None = None, include_revoked: bool = True) -> list[ApiKeyView]:
        with self._reading() as conn:
            return _keys.list_keys(conn, project=project, include_revoked=include_revoked)

    def revoke_key(self, key_id: str) -> bool:
        """Revoke a key; False when there is no such active key."""
        with map_errors(self.url), write_transaction(self._engine) as conn:
            return _keys.revoke_key(conn, key_id)

    def add_key_spend(self, entries: Sequence[tuple[str, float, float]]) -> None:
        """Add ``(key_id, period_start, usd)`` amounts to the keys' spend."""
        if entries:
            with map_errors(self.url), write_transaction(self._engine) as conn:
                _keys.add_spend(conn, entries)

    def key_spend(self, key_id: str, period_start: float) -> float:
        with self._reading() as conn:
            return _keys.spend(conn, key_id, period_start)

    # -- the configurations gateways served ------------------------------------------------------------
    def save_config(self, config_hash: str, document: Mapping[str, Any]) -> bool:
        """Keep a configuration once per hash (idempotent, safe from several replicas at once); True
        when this call stored it. ``document`` must hold no secrets: it is stored as given."""
        with map_errors(self.url), write_transaction(self._engine) as conn:
            return _configs.save_config(conn, config_hash, document)

    def get_config(self, config_hash: str) -> ConfigView | None:
        with self._reading() as conn:
            return _configs.get_config(conn, config_hash)

    def list_configs(self, *, limit: int = 50) -> list[ConfigView]:
        """Stored configurations, the most recently first seen first."""
        with self._reading() as conn:
            return _configs.list_configs(conn, limit=limit)

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with (
            map_errors(self.url, timeout=self.query_timeout),
            self._engine.begin() as conn,
            deadline(conn, self.query_timeout),
        ):
            yield conn

    def list_traces(
        self,
        *,
        limit: int = 50,
        cursor: str | None = None,
        project: str | None = None,
        since: float | datetime | None = None,
        until: float | datetime | None = None,
        model: str | None = None,
        status: str | None = None,
        kind: str | None = None,
        tags: Mapping[str, str] | None = None,
        search: str | None = None,
    ) -> TracePage:
        """Traces newest first, filtered; every filter narrows (AND).

        ``model`` matches a span's pinned model or alias, ``kind`` a span kind, ``tags`` span tags
        (``key=value``), ``search`` text in requests and responses (case-insensitive substring).
        """
        with self._reading() as conn:
            return _read.list_traces(
                conn,
                limit=limit,
                cursor=cursor,
                project=project,
                since=_read.to_seconds(since),
                until=_read.to_seconds(until),
                model=model,
                status=status,
                kind=kind,
                tags=tags or {},
                search=search,
            )

    def get_trace(self, trace_id: str) -> TraceDetail | None:
        """The trace and its span tree, or ``None`` when unknown."""
        with self._reading() as conn:
            return _read.get_trace(conn, trace_id)

    def get_span(self, span_id: str) -> SpanView | None:
        """One span with its full request (blobs resolved), or ``None`` when unknown."""
        with self._reading() as conn:
            return _read.get_span(conn, span_id)

    def tail(self, *, since: int | None = None, limit: int = 200) -> TailPage:
        """Spans ingested after cursor ``since``; ``None`` starts at the current end (no spans)."""
        with self._reading() as conn:
            return _read.tail(conn, since=since, limit=limit)

    def count_llm_spans(
        self,
        *,
        since: float | datetime | None = None,
        until: float | datetime | None = None,
        model: str | None = None,
    ) -> int:
        """How many spans ``iter_llm_spans`` would yield with the same filters (for progress bars)."""
        with self._reading() as conn:
            return _costs.count_llm_spans(
                conn, since=_read.to_seconds(since), until=_read.to_seconds(until), model=model
            )

    def iter_llm_spans(
        self,
        *,
        since: float | datetime | None = None,
        until: float | datetime | None = None,
        model: str | None = None,
        page_size: int = 1000,
    ) -> Iterator[SpanRecord]:
        """LLM spans (kinds llm, attempt, shadow) in ingestion order, read ``page_size`` at a time.

        Each page is read in its own short transaction and nothing is held between pages, so this can
        stream a whole store while the tracer writes and the caller updates. The records carry what
        pricing needs (ids, kind, model, usage, cost, price version), not requests or responses.
        ``since``/``until`` bound the span's start time; ``model`` matches its pinned model or alias.
        """
        if page_size < 1:
            raise ConfigurationError(f"page_size must be at least 1, got {page_size}")
        after = 0
        start, end = _read.to_seconds(since), _read.to_seconds(until)
        while True:
            with self._reading() as conn:
                spans, after = _costs.llm_spans_page(
                    conn, after=after, limit=page_size, since=start, until=end, model=model
                )
            yield from spans
            if len(spans) < page_size:
                return

    def update_span_costs(self, updates: Sequence[CostUpdate]) -> int:
        """Write new costs and price versions in one transaction, with the affected traces' cost totals
        recomputed from their spans; returns how many spans were updated (unknown ids are skipped)."""
        if not updates:
            return 0
        with map_errors(self.url), write_transaction(self._engine) as conn:
            return _costs.update_span_costs(conn, updates)

    def prune(self, older_than: timedelta, *, archive_to: Path | None = None) -> PruneResult:
        """Delete traces that started more than ``older_than`` ago (archived first as JSONL to
        ``archive_to`` when given), then the blobs nothing references any more."""
        with map_errors(self.url):
            return _retention.prune(
                self._engine, cutoff=time.time() - older_than.total_seconds(), archive_to=archive_to
            )

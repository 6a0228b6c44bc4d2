"""A ready Tracer from a :class:`~steadyhand.Config`: ``Client(config, tracer=tracer_from_config(config))``.

The config says where traces go (``database_url``, ``None``: ``.steadyhand/steadyhand.db``), which price
table costs them (``prices``, ``None``: the bundled one) and the project of new traces (``project``);
``Config.load()`` fills them from ``steadyhand.toml`` and ``STEADYHAND_DATABASE_URL`` /
``STEADYHAND_PRICES`` / ``STEADYHAND_PROJECT``. This module only wires those into a Tracer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StoreError, StoreRejected
from .cost import load_prices
from .records import SpanRecord
from .tracer import DEFAULT_SPOOL_DIR, Tracer

if TYPE_CHECKING:
    from .._config import Config
    from ..store import Store

__all__ = ["tracer_from_config"]

log = logging.getLogger("steadyhand.tracing")


class _MigratingStore:
    """The store, migrated before its first write: a database that is down when the app starts must not
    stop it from starting; its spans wait in the spool and the writer migrates once it is reachable."""

    def __init__(self, store: Store, *, migrated: bool) -> None:
        self.store = store
        self._migrated = migrated
        self._lock = threading.Lock()

    def write_spans(self, spans: Sequence[SpanRecord]) -> int:
        if not self._migrated:
            with self._lock:
                if not self._migrated:
                    try:
                        self.store.upgrade()
                    except StoreRejected as e:  # the schema, not these spans: wait and retry
                        raise StoreError(str(e)) from e
                    self._migrated = True
        return self.store.write_spans(spans)


class _StoreOwningTracer(Tracer):
    """A Tracer that closes the store it was built with when it closes."""

    def __init__(self, store: _MigratingStore, **kwargs: Any) -> None:
        super().__init__(store, **kwargs)
        self._owned_store = store.store

    def close(self, timeout: float = 5.0) -> bool:
        try:
            return super().close(timeout)
        finally:
            self._owned_store.close()


def tracer_from_config(
    config: Config, *, spool_dir: str | Path | None = DEFAULT_SPOOL_DIR, **tracer_kwargs: Any
) -> Tracer:
    """A Tracer writing to the store at ``config.database_url``, pricing with ``config.prices``, and
    starting traces in ``config.project``; it closes that store when it closes.

    ``tracer_kwargs`` are any other :class:`Tracer` options (``redact``, ``exporters``, ``fsync``, ...);
    ``prices`` and ``project`` given here win over the config's. A bad URL or price table raises
    (``StoreError``/``ConfigurationError``) at once; a database that cannot be reached only logs a
    warning: spans are spooled and written once it is back.
    """
    from ..store import Store  # SQLAlchemy loads only for a tracer that writes to a store

    options: dict[str, Any] = {"prices": config.prices, "project": config.project, **tracer_kwargs}
    options["prices"] = load_prices(options["prices"])  # a bad table fails before any connection attempt
    store = Store(config.database_url)
    migrated = True
    try:
        store.upgrade()
    except StoreError as e:
        migrated = False
        log.warning("steadyhand traces are spooled until the store is reachable: %s", e)
    try:
        return _StoreOwningTracer(_MigratingStore(store, migrated=migrated), spool_dir=spool_dir, **options)
    except BaseException:
        store.close()
        raise

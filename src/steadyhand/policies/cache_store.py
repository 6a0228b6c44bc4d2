"""Where the exact cache keeps its entries: a small byte store with a TTL, in memory, SQLite or Redis.

The cache policy speaks only :class:`CacheStore`: ``get`` and ``set`` of opaque bytes under a key
with a time to live, sync and async. A store must never break a call: a store that is down or slow
makes a lookup a miss and a write a no-op (bounded timeouts; the failure is counted on
:attr:`CacheStore.errors` and logged once), because a cache is an optimisation, not a dependency.

:func:`open_cache_store` picks one from a URL: ``memory://`` (this process only), ``sqlite:///PATH``
or ``postgresql://...`` (through the trace store's engine: :mod:`steadyhand.store._cache`), or
``redis://...`` (shared by every process pointed at it). SQLAlchemy and redis are imported only
when such a store is opened, so ``import steadyhand`` stays light.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..errors import ConfigurationError

__all__ = [
    "DEFAULT_CACHE_PATH",
    "ByteState",
    "CacheStore",
    "MemoryCacheStore",
    "StateCacheStore",
    "open_cache_store",
]

DEFAULT_CACHE_PATH = Path(".steadyhand") / "cache.db"
"""The SQLite file the cache uses when nothing else is configured."""

log = logging.getLogger("steadyhand.cache")


@runtime_checkable
class CacheStore(Protocol):
    """Opaque bytes under string keys, each kept for ``ttl`` seconds; never raises into a call."""

    errors: int
    """How many operations failed (and were treated as a miss or skipped)."""

    def get(self, key: str) -> bytes | None:
        """The bytes stored under ``key`` that have not expired, else ``None``."""
        ...

    def set(self, key: str, value: bytes, ttl: float) -> None:
        """Keep ``value`` under ``key`` for ``ttl`` seconds (replacing what was there)."""
        ...

    async def aget(self, key: str) -> bytes | None: ...

    async def aset(self, key: str, value: bytes, ttl: float) -> None: ...

    def close(self) -> None: ...


class MemoryCacheStore:
    """This process's cache: a thread-safe LRU of at most ``max_entries`` entries."""

    def __init__(self, *, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self.errors = 0
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def get(self, key: str) -> bytes | None:
        if key not in self._items:
            return None  # a miss reads without the lock: one dict lookup is atomic
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] <= time.time():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return item[1]

    def set(self, key: str, value: bytes, ttl: float) -> None:
        kept = bytes(memoryview(value))  # right_sized inline
        items = self._items
        with self._lock:
            if key in items:
                items.move_to_end(key)  # a new key is inserted last already
            items[key] = (time.time() + ttl, kept)
            if len(items) > self.max_entries:
                while len(items) > self.max_entries:
                    items.popitem(last=False)

    async def aget(self, key: str) -> bytes | None:
        return self.get(key)

    async def aset(self, key: str, value: bytes, ttl: float) -> None:
        self.set(key, value, ttl)

    def close(self) -> None:
        pass

    def __len__(self) -> int:
        return len(self._items)


@runtime_checkable
class ByteState(Protocol):
    """The byte store of a shared state (in memory, or Redis with ``state_url``)."""

    def get_bytes(self, key: str) -> bytes | None: ...

    def set_bytes(self, key: str, value: bytes, ttl: float | None = None) -> None: ...

    async def aget_bytes(self, key: str) -> bytes | None: ...

    async def aset_bytes(self, key: str, value: bytes, ttl: float | None = None) -> None: ...


class StateCacheStore:
    """The cache in the client's shared state: with ``state_url = "redis://..."`` the same Redis (and
    the same connection, timeouts and failure counting) as the limits and the breakers."""

    PREFIX = "steadyhand:cache:"

    def __init__(self, state: ByteState) -> None:
        self.state = state
        self.errors = 0

    def get(self, key: str) -> bytes | None:
        try:
            return self.state.get_bytes(self.PREFIX + key)
        except Exception as error:
            note_failure(self, "read", error)
            return None

    def set(self, key: str, value: bytes, ttl: float) -> None:
        try:
            self.state.set_bytes(self.PREFIX + key, value, ttl)
        except Exception as error:
            note_failure(self, "write", error)

    async def aget(self, key: str) -> bytes | None:
        try:
            return await self.state.aget_bytes(self.PREFIX + key)
        except Exception as error:
            note_failure(self, "read", error)
            return None

    async def aset(self, key: str, value: bytes, ttl: float) -> None:
        try:
            await self.state.aset_bytes(self.PREFIX + key, value, ttl)
        except Exception as error:
            note_failure(self, "write", error)

    def close(self) -> None:
        pass  # the state is the client's to close


def right_sized(value: bytes) -> bytes:
    """A copy of ``value`` in an allocation of its own size, for a store that keeps it in memory.

    orjson's output keeps the buffer it wrote into: a 0.9 kB entry holds 4 kB, so a memory cache
    that keeps one per call faulted in a fresh page per call (CPU the instruction count never showed)."""
    return bytes(memoryview(value))


def open_cache_store(url: str | None) -> CacheStore:
    """The store ``url`` names; ``None`` is the SQLite file :data:`DEFAULT_CACHE_PATH`."""
    if url is None:
        url = f"sqlite:///{DEFAULT_CACHE_PATH}"
    if url.startswith("memory:"):
        return MemoryCacheStore()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from .cache_redis import RedisCacheStore

        return RedisCacheStore(url)
    if url.startswith(("sqlite:", "postgresql", "postgres:")):
        from ..store._cache import SqlCacheStore

        return SqlCacheStore(url)
    raise ConfigurationError(
        f"cache_url {url!r} is not a cache store: use sqlite:///PATH, postgresql://..., redis://HOST:PORT/DB "
        "or memory://"
    )


def note_failure(store: CacheStore, what: str, error: BaseException) -> None:
    """Count a failed store operation; log the first one (and every hundredth) so it is seen once."""
    store.errors += 1
    if store.errors == 1 or store.errors % 100 == 0:
        log.warning(
            "the cache store failed to %s (%s: %s); calls go to the provider meanwhile (%d failures so far)",
            what,
            type(error).__name__,
            error,
            store.errors,
        )

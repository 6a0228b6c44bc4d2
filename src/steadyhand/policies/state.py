"""Shared state: what the policies keep between calls (breakers, rate-limit windows, cache entries).

:class:`SharedState` keeps it in this process's memory (the default; thread-safe).
:class:`~steadyhand.policies.redis_state.RedisState` has the same methods and keeps it in Redis so
several processes share their limits, breakers and cache (``state_url = "redis://..."``); when
Redis cannot be reached it falls back to this in-memory behaviour or refuses, and counts it in
:attr:`SharedState.stats` either way.

Three kinds of state, each with the small API its users need:

- ``get(key, factory)``: an in-process object (the breakers built by :meth:`breaker`);
- ``reserve`` / ``settle`` / ``release``: one sliding window of reservations per key
  (:mod:`~steadyhand.policies.limits`);
- ``get_bytes`` / ``set_bytes`` / ``delete``: opaque values with an optional TTL, for caches.

Every method has an ``a``-prefixed async twin, so an async caller never blocks its loop on Redis.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .._config import Config
    from .breaker import Breaker, BreakerState
    from .limits import Admission, Caps, Window

__all__ = ["SharedState", "StateStats", "open_state"]

_T = TypeVar("_T")


@dataclass(slots=True)
class StateStats:
    """How often the shared store could not be used (always 0 for the in-memory state)."""

    unreachable: int = 0
    """Operations that failed or were skipped because Redis could not be reached."""
    local: int = 0
    """Rate-limit decisions taken in this process instead (``fail_open_local``)."""
    refused: int = 0
    """Calls refused because the limits could not be checked (``fail_closed``)."""


class SharedState:
    """State that outlives one client, in this process's memory; thread-safe.

    Inject one object into several clients (``Client(state=...)``) so they share it; each client
    otherwise gets its own.
    """

    backend = "memory"
    clock: Callable[[], float] = staticmethod(time.monotonic)
    """Times the TTLs of :meth:`set_bytes` (an attribute so tests can move it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, Any] = {}
        self._windows: dict[str, Window] = {}
        self._bytes: dict[str, tuple[bytes, float | None]] = {}
        self.stats = StateStats()

    # -- in-process objects ---------------------------------------------------------------------------

    def get(self, key: str, factory: Callable[[], _T]) -> _T:
        """The object stored under ``key``, created by ``factory`` the first time it is asked for."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                item = self._items[key] = factory()
            return item

    def breaker(self, key: str, settings: Breaker) -> BreakerState:
        """The circuit breaker stored under ``key`` (one per target)."""
        from .breaker import BreakerState

        return self.get(key, lambda: BreakerState(settings))

    # -- rate-limit windows ---------------------------------------------------------------------------

    def _window(self, key: str) -> Window:
        window = self._windows.get(key)
        if window is None:
            from .limits import Window  # on first use: an app without rate limits never loads it

            with self._lock:
                window = self._windows.setdefault(key, Window())
        return window

    def reserve(
        self, key: str, rid: str, *, now: float, window: float, caps: Caps, need: int, traffic: str
    ) -> Admission:
        """Reserve ``need`` tokens and one request in ``key``'s window at ``now`` (wall-clock seconds)."""
        found = self._windows.get(key) or self._window(key)  # the kept window read inline: every call
        return found.admit(rid, now, window, caps, need, traffic)

    def settle(self, key: str, rid: str, tokens: int) -> None:
        """Set reservation ``rid`` to the tokens the call really used."""
        (self._windows.get(key) or self._window(key)).settle(rid, tokens)

    def release(self, key: str, rid: str) -> None:
        """Remove reservation ``rid`` (its call failed or was cancelled)."""
        self._window(key).release(rid)

    async def areserve(
        self, key: str, rid: str, *, now: float, window: float, caps: Caps, need: int, traffic: str
    ) -> Admission:
        return self.reserve(key, rid, now=now, window=window, caps=caps, need=need, traffic=traffic)

    async def asettle(self, key: str, rid: str, tokens: int) -> None:
        self.settle(key, rid, tokens)

    async def arelease(self, key: str, rid: str) -> None:
        self.release(key, rid)

    # -- bytes with a TTL ----------------------------------------------------------------------------

    def get_bytes(self, key: str) -> bytes | None:
        """The value stored under ``key``, or ``None`` (never stored, expired, or the store is down)."""
        with self._lock:
            item = self._bytes.get(key)
            if item is None:
                return None
            value, expires = item
            if expires is not None and self.clock() >= expires:
                del self._bytes[key]
                return None
            return value

    def set_bytes(self, key: str, value: bytes, ttl: float | None = None) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (``None``: until deleted)."""
        expires = None if ttl is None else self.clock() + ttl
        kept = bytes(memoryview(value))  # right-sized: see cache_store.right_sized
        with self._lock:
            self._bytes[key] = (kept, expires)

    def delete(self, key: str) -> None:
        """Forget ``key``'s value."""
        with self._lock:
            self._bytes.pop(key, None)

    async def aget_bytes(self, key: str) -> bytes | None:
        return self.get_bytes(key)

    async def aset_bytes(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self.set_bytes(key, value, ttl)

    async def adelete(self, key: str) -> None:
        self.delete(key)

    def close(self) -> None:
        """Release connections: those of the objects kept here (a cache's store) included."""
        with self._lock:
            items = list(self._items.values())
        for item in items:
            close = getattr(item, "close", None)
            if callable(close):
                close()

    async def aclose(self) -> None:
        """The async twin of :meth:`close`."""
        SharedState.close(self)


def open_state(config: Config) -> SharedState:
    """The state a client keeps when none is injected: Redis when ``state_url`` is set, else memory."""
    if config.state_url is None:
        return SharedState()
    from .redis_state import RedisState  # only then: importing steadyhand must not import redis

    return RedisState(config.state_url, failure=config.state_failure, timeout=config.state_timeout)

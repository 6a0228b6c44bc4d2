"""The exact cache in Redis: shared by every process (and gateway replica) pointed at one server.

Entries are plain ``SET key value PX ttl`` under a ``steadyhand:cache:`` prefix, so Redis expires
them itself. Every command has a short socket timeout: a Redis that is down or slow makes a lookup
a miss and a write a no-op, never a hung call (counted on ``errors``, logged once).
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigurationError
from .cache_store import note_failure

__all__ = ["PREFIX", "RedisCacheStore"]

PREFIX = "steadyhand:cache:"
TIMEOUT = 0.25
"""Seconds a cache command may take (connect or reply) before it counts as a miss."""


class RedisCacheStore:
    """A :class:`~steadyhand.policies.cache_store.CacheStore` on a Redis server."""

    def __init__(self, url: str, *, timeout: float = TIMEOUT) -> None:
        try:
            import redis
            import redis.asyncio
        except ImportError:
            raise ConfigurationError(
                "a redis:// cache needs the redis client: pip install 'steadyhand[redis]'"
            ) from None
        self.url = url
        self.errors = 0
        options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        self._sync = redis.Redis.from_url(url, **options)
        self._async_options = options
        self._async: dict[int, Any] = {}  # one asyncio client per event loop (a client is bound to its loop)

    def _aclient(self) -> Any:
        import asyncio

        import redis.asyncio

        loop = id(asyncio.get_running_loop())
        client = self._async.get(loop)
        if client is None:
            client = self._async[loop] = redis.asyncio.Redis.from_url(self.url, **self._async_options)
        return client

    def get(self, key: str) -> bytes | None:
        try:
            value = self._sync.get(PREFIX + key)
        except Exception as error:
            note_failure(self, "read", error)
            return None
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes, ttl: float) -> None:
        try:
            self._sync.set(PREFIX + key, value, px=max(1, int(ttl * 1000)))
        except Exception as error:
            note_failure(self, "write", error)

    async def aget(self, key: str) -> bytes | None:
        try:
            value = await self._aclient().get(PREFIX + key)
        except Exception as error:
            note_failure(self, "read", error)
            return None
        return value if isinstance(value, bytes) else None

    async def aset(self, key: str, value: bytes, ttl: float) -> None:
        try:
            await self._aclient().set(PREFIX + key, value, px=max(1, int(ttl * 1000)))
        except Exception as error:
            note_failure(self, "write", error)

    def close(self) -> None:
        self._sync.close()

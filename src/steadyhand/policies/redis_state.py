"""Shared state in Redis: several processes share their rate-limit windows, breakers and cache.

:class:`RedisState` has :class:`~steadyhand.policies.SharedState`'s methods. A window is a sorted
set of reservation ids scored by admission time, a hash of their tokens and traffic class, and a
hash of running totals (so admitting costs O(1) plus the entries that left);
admission, settling and release are each one Lua script, so concurrent processes never interleave
inside a decision (the rules are :mod:`~steadyhand.policies.limits`' own). Keys expire after the
window (plus a second), and each reservation leaves the window ``window`` seconds after it was
admitted, so a crashed process's reservations free themselves.

Redis is never allowed to hang a call: every operation has connect and read timeouts
(``state_timeout``, 0.25 s by default) and no retries, and after a failure Redis is not asked again
for ``retry_interval`` seconds. Meanwhile rate limits are decided in this process
(``fail_open_local``, the default) or the calls that need one are refused (``fail_closed``);
breakers always fall back to this process; ``get_bytes`` misses and ``set_bytes`` is dropped. Each
case is counted in :attr:`stats`. Importing this module imports ``redis``: only a client whose
config sets ``state_url`` does.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

from .breaker import Breaker, BreakerState, State, counts_against
from .limits import Admission, Caps
from .retry import retry_after
from .state import SharedState

__all__ = ["RedisBreaker", "RedisState"]

log = logging.getLogger("steadyhand.policies")

_T = TypeVar("_T")
Failure = Literal["fail_open_local", "fail_closed"]

_TOTALS = """
local function count(t, meta, sign)
  local sep = string.find(meta, '|', 1, true)
  local tk, c = tonumber(string.sub(meta, 1, sep - 1)), string.sub(meta, sep + 1)
  redis.call('HINCRBY', t, 'n', sign)
  redis.call('HINCRBY', t, 'n:' .. c, sign)
  if tk ~= 0 then  -- (-1 * 0 is -0 in Lua, which HINCRBY refuses)
    redis.call('HINCRBY', t, 'tok', sign * tk)
    redis.call('HINCRBY', t, 'tok:' .. c, sign * tk)
  end
end
"""

_RESERVE = (
    _TOTALS
    + """
local z, h, t = KEYS[1], KEYS[2], KEYS[3]
local rid, now, window = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local cr, ct, ccr, cct = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local need, traffic, ttl = tonumber(ARGV[8]), ARGV[9], tonumber(ARGV[10])
local old = redis.call('ZRANGEBYSCORE', z, '-inf', now - window)
for _, id in ipairs(old) do
  local meta = redis.call('HGET', h, id)
  if meta then count(t, meta, -1); redis.call('HDEL', h, id) end
end
if #old > 0 then redis.call('ZREMRANGEBYSCORE', z, '-inf', now - window) end
local function fits(n, tok, cn, ctok)
  return (cr < 0 or n + 1 <= cr) and (ct < 0 or tok + need <= ct)
    and (ccr < 0 or cn + 1 <= ccr) and (cct < 0 or ctok + need <= cct)
end
local v = redis.call('HMGET', t, 'n', 'tok', 'n:' .. traffic, 'tok:' .. traffic)
local n, tok, cn, ctok = tonumber(v[1] or 0), tonumber(v[2] or 0), tonumber(v[3] or 0), tonumber(v[4] or 0)
if fits(n, tok, cn, ctok) then
  local meta = tostring(need) .. '|' .. traffic
  redis.call('ZADD', z, now, rid)
  redis.call('HSET', h, rid, meta)
  count(t, meta, 1)
  for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, ttl) end
  return {1, ''}
end
if not fits(0, 0, 0, 0) then return {0, 'never'} end
local start = 0
while true do  -- oldest first, a hundred at a time: when does enough of the window leave?
  local batch = redis.call('ZRANGE', z, start, start + 99, 'WITHSCORES')
  if #batch == 0 then return {0, string.format('%.17g', window)} end
  for i = 1, #batch, 2 do
    local meta = redis.call('HGET', h, batch[i]) or '0|'
    local sep = string.find(meta, '|', 1, true)
    local tk, c = tonumber(string.sub(meta, 1, sep - 1)), string.sub(meta, sep + 1)
    n, tok = n - 1, tok - tk
    if c == traffic then cn, ctok = cn - 1, ctok - tk end
    if fits(n, tok, cn, ctok) then
      return {0, string.format('%.17g', math.max(0, tonumber(batch[i + 1]) + window - now))}
    end
  end
  start = start + 100
end
"""
)

_SETTLE = (
    _TOTALS
    + """
local meta = redis.call('HGET', KEYS[2], ARGV[1])
if not meta then return 0 end
local sep = string.find(meta, '|', 1, true)
local updated = ARGV[2] .. '|' .. string.sub(meta, sep + 1)
count(KEYS[3], meta, -1)
count(KEYS[3], updated, 1)
redis.call('HSET', KEYS[2], ARGV[1], updated)
return 1
"""
)

_RELEASE = (
    _TOTALS
    + """
local meta = redis.call('HGET', KEYS[2], ARGV[1])
if not meta then return 0 end
count(KEYS[3], meta, -1)
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('HDEL', KEYS[2], ARGV[1])
"""
)


def _cap(value: float | None) -> float:
    return -1.0 if value is None else value


def _keys(key: str) -> list[str]:
    # entries by time, their tokens and class, running totals; one hash slot per window (Redis Cluster)
    return [f"{{{key}}}:z", f"{{{key}}}:h", f"{{{key}}}:t"]


def _admission(reply: Any) -> Admission:
    admitted, wait = int(reply[0]), reply[1]
    wait = wait.decode() if isinstance(wait, bytes) else str(wait)
    if admitted:
        return Admission(True, source="redis")
    return Admission(False, wait=None if wait == "never" else float(wait), source="redis")


class RedisState(SharedState):
    """:class:`SharedState` kept in Redis at ``url`` (see the module docstring)."""

    backend = "redis"

    def __init__(
        self,
        url: str,
        *,
        failure: Failure = "fail_open_local",
        timeout: float = 0.25,
        retry_interval: float = 1.0,
    ) -> None:
        super().__init__()
        if failure not in ("fail_open_local", "fail_closed"):
            raise ValueError(f"failure must be 'fail_open_local' or 'fail_closed', not {failure!r}")
        self.url = url
        self.failure: Failure = failure
        self.timeout = timeout
        self.retry_interval = retry_interval
        """Seconds Redis is left alone after a failure (calls meanwhile take the fallback at once)."""
        self._options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "retry_on_timeout": False,
            "health_check_interval": 0,
        }
        self._sync = redis.Redis.from_url(url, retry=Retry(NoBackoff(), 0), **self._options)
        self._scripts = [self._sync.register_script(s) for s in (_RESERVE, _SETTLE, _RELEASE)]
        self._async: dict[asyncio.AbstractEventLoop, tuple[redis.asyncio.Redis, list[Any]]] = {}
        self._down_until = 0.0
        self._state_lock = threading.Lock()

    # -- reaching Redis, boundedly ---------------------------------------------------------------------

    def _up(self) -> bool:
        if time.monotonic() >= self._down_until:
            return True
        self.stats.unreachable += 1
        return False

    def _failed(self, exc: BaseException) -> None:
        with self._state_lock:
            self.stats.unreachable += 1
            first = time.monotonic() >= self._down_until
            self._down_until = time.monotonic() + self.retry_interval
        if first:
            log.warning(
                "Redis at %s is unreachable (%s): %s for %.1fs",
                self.url,
                type(exc).__name__,
                "limits are decided in this process"
                if self.failure == "fail_open_local"
                else "rate-limited calls are refused",
                self.retry_interval,
            )

    def _call(self, work: Callable[[], _T]) -> tuple[bool, _T | None]:
        if not self._up():
            return False, None
        try:
            return True, work()
        except (redis.RedisError, OSError) as exc:
            self._failed(exc)
            return False, None

    def _aclient(self) -> tuple[redis.asyncio.Redis, list[Any]]:
        """This event loop's client and scripts (an asyncio connection belongs to one loop)."""
        loop = asyncio.get_running_loop()
        found = self._async.get(loop)
        if found is None:
            for old in [k for k in self._async if k.is_closed()]:
                del self._async[old]  # a finished asyncio.run(): its connections died with it
            client = redis.asyncio.Redis.from_url(
                self.url, retry=redis.asyncio.retry.Retry(NoBackoff(), 0), **self._options
            )
            found = self._async[loop] = (
                client,
                [client.register_script(s) for s in (_RESERVE, _SETTLE, _RELEASE)],
            )
        return found

    async def _acall(
        self, work: Callable[[redis.asyncio.Redis, list[Any]], Awaitable[_T]]
    ) -> tuple[bool, _T | None]:
        if not self._up():
            return False, None
        try:
            async with asyncio.timeout(self.timeout * 2):  # connect + read, whatever the socket does
                return True, await work(*self._aclient())
        except (redis.RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            return False, None

    def _fallback(self, key: str, rid: str, **kwargs: Any) -> Admission:
        if self.failure == "fail_closed":
            self.stats.refused += 1
            return Admission(False, source="refused")
        self.stats.local += 1
        local = super().reserve(key, rid, **kwargs)
        return Admission(local.admitted, local.id, local.wait, source="local")

    # -- rate-limit windows ---------------------------------------------------------------------------

    @staticmethod
    def _argv(rid: str, now: float, window: float, caps: Caps, need: int, traffic: str) -> list[Any]:
        ttl = int((window + 1.0) * 1000)
        return [
            rid, repr(now), repr(window), _cap(caps.requests), _cap(caps.tokens), _cap(caps.class_requests),
            _cap(caps.class_tokens), need, traffic, ttl,
        ]  # fmt: skip

    def reserve(
        self, key: str, rid: str, *, now: float, window: float, caps: Caps, need: int, traffic: str
    ) -> Admission:
        argv = self._argv(rid, now, window, caps, need, traffic)
        ok, reply = self._call(lambda: self._scripts[0](keys=_keys(key), args=argv))
        if not ok:
            return self._fallback(key, rid, now=now, window=window, caps=caps, need=need, traffic=traffic)
        admission = _admission(reply)
        return Admission(True, rid, source="redis") if admission.admitted else admission

    def settle(self, key: str, rid: str, tokens: int) -> None:
        ok, _ = self._call(lambda: self._scripts[1](keys=_keys(key), args=[rid, tokens]))
        super().settle(key, rid, tokens)  # a reservation taken locally while Redis was down

    def release(self, key: str, rid: str) -> None:
        self._call(lambda: self._scripts[2](keys=_keys(key), args=[rid]))
        super().release(key, rid)

    async def areserve(
        self, key: str, rid: str, *, now: float, window: float, caps: Caps, need: int, traffic: str
    ) -> Admission:
        argv = self._argv(rid, now, window, caps, need, traffic)
        ok, reply = await self._acall(lambda c, s: s[0](keys=_keys(key), args=argv))
        if not ok:
            return self._fallback(key, rid, now=now, window=window, caps=caps, need=need, traffic=traffic)
        admission = _admission(reply)
        return Admission(True, rid, source="redis") if admission.admitted else admission

    async def asettle(self, key: str, rid: str, tokens: int) -> None:
        await self._acall(lambda c, s: s[1](keys=_keys(key), args=[rid, tokens]))
        super().settle(key, rid, tokens)

    async def arelease(self, key: str, rid: str) -> None:
        await self._acall(lambda c, s: s[2](keys=_keys(key), args=[rid]))
        super().release(key, rid)

    # -- breakers ------------------------------------------------------------------------------------

    def breaker(self, key: str, settings: Breaker) -> BreakerState:
        """The breaker of ``key`` as every process sharing this Redis sees it."""
        return self.get(key, lambda: RedisBreaker(settings, self, key))

    # -- bytes with a TTL ----------------------------------------------------------------------------

    def get_bytes(self, key: str) -> bytes | None:
        ok, value = self._call(lambda: self._sync.get(key))
        return value if ok and isinstance(value, bytes) else None

    def set_bytes(self, key: str, value: bytes, ttl: float | None = None) -> None:
        px = None if ttl is None else max(1, int(ttl * 1000))
        self._call(lambda: self._sync.set(key, value, px=px))

    def delete(self, key: str) -> None:
        self._call(lambda: self._sync.delete(key))

    async def aget_bytes(self, key: str) -> bytes | None:
        ok, value = await self._acall(lambda c, s: c.get(key))
        return value if ok and isinstance(value, bytes) else None

    async def aset_bytes(self, key: str, value: bytes, ttl: float | None = None) -> None:
        px = None if ttl is None else max(1, int(ttl * 1000))
        await self._acall(lambda c, s: c.set(key, value, px=px))

    async def adelete(self, key: str) -> None:
        await self._acall(lambda c, s: c.delete(key))

    def close(self) -> None:
        SharedState.close(self)
        self._sync.close()

    async def aclose(self) -> None:
        SharedState.close(self)
        for client, _ in self._async.values():
            await client.aclose()
        self._async.clear()
        self._sync.close()


_BREAKER = """
local b, f = KEYS[1], KEYS[2]
local op, now = ARGV[1], tonumber(ARGV[2])
local failures, window = tonumber(ARGV[3]), tonumber(ARGV[4])
local cooldown, probes = tonumber(ARGV[5]), tonumber(ARGV[6])
local ttl = tonumber(ARGV[7])
local st = redis.call('HGET', b, 'state') or 'closed'
local opened_until = tonumber(redis.call('HGET', b, 'until') or '0')
local out = tonumber(redis.call('HGET', b, 'probes') or '0')
if st == 'open' and now >= opened_until then
  st, out = 'half_open', 0
  redis.call('HSET', b, 'state', st, 'probes', 0)
end
local function open(extra)
  local reopen = string.format('%.17g', now + math.max(cooldown, extra))  -- tostring keeps 14 digits
  redis.call('HSET', b, 'state', 'open', 'until', reopen, 'probes', 0)
  redis.call('DEL', f)
end
local result = st
if op == 'state' then
  result = st
elseif op == 'retry_in' then
  result = st == 'open' and string.format('%.17g', math.max(0, opened_until - now)) or '0'
elseif op == 'admit' then
  if st == 'open' then result = 'skip'
  elseif st == 'half_open' then
    if out >= probes then result = 'skip' else redis.call('HSET', b, 'probes', out + 1) end
  end
elseif op == 'release' then
  redis.call('HSET', b, 'probes', math.max(0, out - 1))
elseif op == 'ok' then
  if st == 'half_open' then redis.call('HSET', b, 'state', 'closed') end
  redis.call('DEL', f)
elseif op == 'neutral' then
  if st == 'half_open' then redis.call('HSET', b, 'probes', math.max(0, out - 1)) end
elseif op == 'failure' then
  local asked = tonumber(ARGV[8])
  if st == 'half_open' then open(asked)
  else
    redis.call('ZADD', f, now, ARGV[9])
    redis.call('ZREMRANGEBYSCORE', f, '-inf', now - window)
    if redis.call('ZCARD', f) >= failures then open(asked) end
  end
end
redis.call('PEXPIRE', b, ttl)
if redis.call('EXISTS', f) == 1 then redis.call('PEXPIRE', f, ttl) end
return result
"""


class RedisBreaker(BreakerState):
    """A target's circuit breaker kept in Redis, so every process sees it open and close.

    Each method is one Lua script; when Redis cannot be reached the breaker decides in this process
    (the inherited in-memory state), whatever ``state_failure`` says: a breaker only ever saves
    requests. The policy's clock is monotonic, so readings are moved to wall time for Redis.
    Called from the policies' decision step, it talks to Redis synchronously (bounded by
    ``state_timeout``) under the async client too.
    """

    def __init__(self, settings: Breaker, state: RedisState, key: str) -> None:
        super().__init__(settings)
        self._shared = state
        self._keys = [f"{{{key}}}:b", f"{{{key}}}:f"]
        self._script = state._sync.register_script(_BREAKER)
        self._offset = time.time() - time.monotonic()
        self._ttl = int((max(settings.window, settings.cooldown) * 2 + 60) * 1000)

    def _run(self, op: str, now: float, *extra: Any) -> str | None:
        s = self.settings
        args = [op, repr(now + self._offset), s.failures, s.window, s.cooldown, s.probes, self._ttl, *extra]
        ok, reply = self._shared._call(lambda: self._script(keys=self._keys, args=args))
        if not ok:
            return None
        return reply.decode() if isinstance(reply, bytes) else str(reply)

    def state(self, now: float) -> State:
        shared = self._run("state", now)
        return super().state(now) if shared is None else shared  # type: ignore[return-value]

    def retry_in(self, now: float) -> float:
        shared = self._run("retry_in", now)
        return super().retry_in(now) if shared is None else float(shared)

    def admit(self, now: float) -> State | None:
        shared = self._run("admit", now)
        if shared is None:
            return super().admit(now)
        return None if shared == "skip" else shared  # type: ignore[return-value]

    def release(self) -> None:
        if self._run("release", time.monotonic()) is None:
            super().release()

    def record(self, error: BaseException | None, now: float) -> None:
        extra: list[Any] = []
        if error is None:
            op = "ok"
        elif not counts_against(error):
            op = "neutral"
        else:
            op, extra = "failure", [retry_after(error) or 0.0, f"{now}:{secrets.token_hex(4)}"]
        if self._run(op, now, *extra) is None:
            super().record(error, now)

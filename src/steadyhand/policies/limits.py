"""Rate limits, the pure part: the settings and one target's sliding window of reservations.

A call is admitted when, over the last ``window`` seconds, the requests admitted plus this one stay
within ``rpm`` (scaled to the window) and their tokens plus this call's reservation (estimated input
plus ``max_tokens``) within ``tpm``. A traffic class with a share (``shares = {test = 0.2}``) is
also held to that fraction of both, so test or eval traffic can use at most its share while
production may use everything left: an eval run cannot starve production. A reservation is settled
to the call's real usage when it ends, removed when the call fails or is cancelled, and leaves the
window ``window`` seconds after it was admitted whatever happens to its process (its TTL).

Nothing here reads a clock or does I/O: ``now`` is an argument, so the logic is tested with plain
numbers, and :mod:`~steadyhand.policies.redis_state` runs the same rules in a Lua script.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from ..context import TrafficClass
from ..errors import ConfigurationError

__all__ = ["Admission", "Caps", "RateLimit", "Rid", "Window"]

_CLASSES = frozenset(get_args(TrafficClass))


@dataclass(frozen=True, slots=True)
class Caps:
    """What one window admits: requests and tokens in total and for the call's traffic class."""

    requests: float | None
    tokens: float | None
    class_requests: float | None = None
    class_tokens: float | None = None


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``rpm`` requests and ``tpm`` tokens per minute for one target, measured over ``window`` s.

    ``window`` below 60 spreads the minute's budget evenly (``window = 1`` admits ``rpm / 60`` per
    second), as providers that enforce per-minute limits over shorter periods do; a call that needs
    more tokens than one window's share can then never be admitted. ``shares`` caps a traffic class
    at a fraction of both limits. ``output_tokens`` is reserved for the answer of a call that sets
    no ``max_tokens``.
    """

    rpm: int | None = None
    tpm: int | None = None
    window: float = 60.0
    shares: Mapping[str, float] = field(default_factory=dict)
    output_tokens: int = 1024

    def __post_init__(self) -> None:
        for key in ("rpm", "tpm"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigurationError(f"rate_limit {key} must be a whole number >= 1, not {value!r}")
        if self.rpm is None and self.tpm is None:
            raise ConfigurationError("rate_limit needs rpm, tpm or both, e.g. { rpm = 600, tpm = 200000 }")
        if isinstance(self.window, bool) or not self.window > 0:
            raise ConfigurationError(
                f"rate_limit window must be a positive number of seconds, not {self.window!r}"
            )
        if self.rpm is not None and self.rpm * self.window / 60.0 < 1:
            raise ConfigurationError(
                f"rate_limit rpm = {self.rpm} over window = {self.window}s admits less than one request per "
                "window: raise rpm or lengthen the window"
            )
        for name, share in self.shares.items():
            if name not in _CLASSES:
                raise ConfigurationError(
                    f"rate_limit shares: unknown traffic class {name!r}; "
                    f"use some of {', '.join(sorted(_CLASSES))}"
                )
            if isinstance(share, bool) or not 0 < share <= 1:
                raise ConfigurationError(f"rate_limit shares.{name} must be in (0, 1], not {share!r}")
            if self.rpm is not None and share * self.rpm * self.window / 60.0 < 1:
                raise ConfigurationError(
                    f"rate_limit shares.{name} = {share} of rpm = {self.rpm} admits less than one request "
                    "per window: raise the share or rpm"
                )
        if isinstance(self.output_tokens, bool) or self.output_tokens < 0:
            raise ConfigurationError(f"rate_limit output_tokens must be >= 0, not {self.output_tokens!r}")

    @classmethod
    def from_table(cls, table: Any) -> RateLimit:
        """The settings of a ``rate_limit = {...}`` table of steadyhand.toml (``RateLimitTable``)."""
        return cls(
            rpm=table.rpm, tpm=table.tpm, window=table.window, shares=dict(table.shares),
            output_tokens=table.output_tokens,
        )  # fmt: skip

    def caps(self, traffic: str) -> Caps:
        """The caps per window for a call of ``traffic``."""
        scale = self.window / 60.0
        requests = None if self.rpm is None else self.rpm * scale
        tokens = None if self.tpm is None else self.tpm * scale
        share = self.shares.get(traffic)
        if share is None:
            return Caps(requests, tokens)
        return Caps(
            requests,
            tokens,
            None if requests is None else requests * share,
            None if tokens is None else tokens * share,
        )


@dataclass(slots=True)
class Admission:
    """The answer to a reservation: admitted (with its id), or the seconds to wait first.

    Not frozen: a frozen dataclass sets each field through ``object.__setattr__`` (a third of an
    in-memory reservation's cost), and every limited call gets one; nothing mutates or hashes it."""

    admitted: bool
    id: str | None = None
    wait: float | None = None
    """Seconds until the call would fit; ``None`` when it never can (it needs more than the caps)."""
    source: str = "memory"
    """Who decided: ``memory`` (this process), ``redis`` (shared), ``local`` (this process because
    Redis was unreachable, ``fail_open_local``) or ``refused`` (Redis unreachable, ``fail_closed``)."""


Rid = str | int
"""A reservation's id: a string shared across processes, or an int from this process's own counter
(the rate limiter on the in-memory state: unique in the process, and no string to format and hash)."""

_Entry = tuple[float, int, str]
"""A reservation: when it was admitted, its tokens, its traffic class. A tuple, not an object: a
window holds one per call for a whole window, and the collector stops tracking tuples of plain
values, so a busy window adds nothing to every full collection's walk."""


def _fits(caps: Caps, n: int, tok: int, cn: int, ctok: int, need: int) -> bool:
    return (
        (caps.requests is None or n + 1 <= caps.requests)
        and (caps.tokens is None or tok + need <= caps.tokens)
        and (caps.class_requests is None or cn + 1 <= caps.class_requests)
        and (caps.class_tokens is None or ctok + need <= caps.class_tokens)
    )


class Window:
    """One target's reservations over the last ``window`` seconds, in memory; thread-safe.

    Totals are kept up to date on every change, so an admission costs O(1) plus the expired entries;
    only a refusal walks the entries (oldest first) to find when the call would fit.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[Rid, _Entry] = OrderedDict()
        self._n = 0
        self._tokens = 0
        self._class_n: dict[str, int] = {}
        self._class_tokens: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def _remove(self, entry: _Entry) -> None:
        _, tokens, traffic = entry
        self._n -= 1
        self._tokens -= tokens
        self._class_n[traffic] -= 1
        self._class_tokens[traffic] -= tokens

    def _expire(self, now: float, window: float) -> None:
        entries, oldest = self._entries, now - window
        while entries:
            key = next(iter(entries))
            entry = entries[key]
            if entry[0] > oldest:
                break
            del entries[key]
            self._remove(entry)

    def admit(self, rid: str, now: float, window: float, caps: Caps, need: int, traffic: str) -> Admission:
        """Admit a call needing ``need`` tokens at ``now`` under ``rid``, or say how long to wait."""
        refused = self.take(rid, now, window, caps, need, traffic)
        return Admission(True, rid) if refused is None else refused

    def take(
        self, rid: Rid, now: float, window: float, caps: Caps, need: int, traffic: str
    ) -> Admission | None:
        """:meth:`admit` that builds no admission when the call fits (``None``): the rate limiter's
        every call on the in-memory state, which reads nothing from an admitted one."""
        with self._lock:
            entries = self._entries
            if entries and entries[next(iter(entries))][0] <= now - window:
                self._expire(now, window)
            class_n, class_tokens = self._class_n, self._class_tokens
            cn, ctok = class_n.get(traffic, 0), class_tokens.get(traffic, 0)
            n, tok = self._n, self._tokens
            cap = caps.requests  # _fits inline: every call admits
            if (
                (cap is None or n + 1 <= cap)
                and ((cap := caps.tokens) is None or tok + need <= cap)
                and ((cap := caps.class_requests) is None or cn + 1 <= cap)
                and ((cap := caps.class_tokens) is None or ctok + need <= cap)
            ):
                entries[rid] = (now, need, traffic)
                self._n = n + 1
                self._tokens = tok + need
                class_n[traffic] = cn + 1
                class_tokens[traffic] = ctok + need
                return None
            if not _fits(caps, 0, 0, 0, 0, need):
                return Admission(False, wait=None)
            n, tok = self._n, self._tokens
            for at, tokens, owner in entries.values():  # oldest first: when does enough of it leave?
                n, tok = n - 1, tok - tokens
                if owner == traffic:
                    cn, ctok = cn - 1, ctok - tokens
                if _fits(caps, n, tok, cn, ctok, need):
                    return Admission(False, wait=max(0.0, at + window - now))
            return Admission(False, wait=window)  # unreachable: an empty window fits

    def settle(self, rid: Rid, tokens: int) -> None:
        """Replace a reservation's tokens by the call's real usage (no-op once it left the window)."""
        with self._lock:
            entry = self._entries.get(rid)
            if entry is not None:
                at, reserved, traffic = entry
                self._tokens += tokens - reserved
                self._class_tokens[traffic] += tokens - reserved
                self._entries[rid] = (at, tokens, traffic)  # an existing key keeps its place

    def release(self, rid: Rid) -> None:
        """Forget a reservation whose call failed or was cancelled."""
        with self._lock:
            entry = self._entries.pop(rid, None)
            if entry is not None:
                self._remove(entry)

"""Admission for keys with limits: requests per minute and a spend budget per period.

The rate is a sliding 60-second window per key; a refusal is the gateway's own 429 with
``retry-after`` and ``x-ratelimit-*`` headers. A budget admits a call by reserving its worst case
(``max_tokens`` of output plus the prompt's estimated tokens, at the target's price), settles it with
the real usage when the call ends, and releases it on error. A call is admitted while the spend
plus the reservations in flight stays within the budget, or when nothing else is in flight and
budget is left: so the budget is never exceeded by more than one in-flight request per replica.
Spend is written to the store (``api_key_spend``), so it survives restarts and is shared by replicas
at settle time. Rate windows live in this process (shared limits across replicas: ``state_url``).
"""

from __future__ import annotations

import asyncio
import calendar
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._config import Target
from ..providers.ratelimit_headers import format_duration
from ..tracing.cost import PriceTable, load_prices
from ..types import ModelRequest, Usage
from .auth import Caller, Refused
from .replies import error_reply

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["DEFAULT_RESERVED_OUTPUT", "KeyAdmission", "period_start"]

log = logging.getLogger("steadyhand.server")
DEFAULT_RESERVED_OUTPUT = 4096
"""Output tokens reserved for a call that sets no ``max_tokens``."""
WINDOW = 60.0


def period_start(period: str | None, now: float) -> float:
    """The UTC start of the budget period holding ``now`` (``total``: 0)."""
    if period in (None, "total"):
        return 0.0
    t = time.gmtime(now)
    if period == "day":
        return float(calendar.timegm((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0)))
    if period == "week":
        day = calendar.timegm((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0))
        return float(day - t.tm_wday * 86400)
    return float(calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0)))


@dataclass(slots=True)
class Ticket:
    caller: Caller
    model: str
    reserved: float
    start: float


@dataclass(slots=True)
class _Ledger:
    start: float
    spent: float
    reserved: float = 0.0
    in_flight: int = 0


class KeyAdmission:
    """Rate and budget admission for :class:`~steadyhand.server.auth.Caller` keys."""

    def __init__(self, store: Store | None, *, prices: PriceTable | str | None = None) -> None:
        self.store = store
        self.prices = load_prices(prices)
        self._windows: dict[str, deque[float]] = {}
        self._ledgers: dict[str, _Ledger] = {}
        self._lock = threading.Lock()

    # rate -------------------------------------------------------------------------------------------
    def _rate(self, caller: Caller, protocol: str, now: float) -> None:
        if caller.rpm is None or caller.key_id is None:
            return
        window = self._windows.setdefault(caller.key_id, deque())
        while window and window[0] <= now - WINDOW:
            window.popleft()
        if len(window) >= caller.rpm:
            wait = max(window[0] + WINDOW - now, 0.001)
            reply = error_reply(
                "anthropic" if protocol == "anthropic" else "openai", 429,
                f"Rate limit reached for key {caller.key_id}: {caller.rpm} requests per minute. "
                f"Try again in {wait:.1f}s.", code="rate_limit_exceeded",
            )  # fmt: skip
            reply.headers += [
                ("retry-after", str(max(1, math.ceil(wait)))),
                ("x-ratelimit-limit-requests", str(caller.rpm)),
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", format_duration(wait)),
            ]
            raise Refused(reply, "rate")
        window.append(now)

    # budget -----------------------------------------------------------------------------------------
    def estimate(self, request: ModelRequest, target: Target) -> float:
        """The worst-case cost of a call: its prompt (~4 characters a token) and all of ``max_tokens``."""
        chars = sum(len(m.text) for m in request.messages)
        cost = self.prices.cost(
            target.model,
            input_tokens=chars // 4 + 8 * len(request.messages),
            output_tokens=(request.max_tokens or DEFAULT_RESERVED_OUTPUT) * (request.n or 1),
        )
        return cost or 0.0

    def _ledger(self, caller: Caller, now: float) -> _Ledger:
        assert caller.key_id is not None
        start = period_start(caller.period, now)
        ledger = self._ledgers.get(caller.key_id)
        if ledger is None or ledger.start != start:
            spent = self.store.key_spend(caller.key_id, start) if self.store is not None else 0.0
            ledger = self._ledgers[caller.key_id] = _Ledger(start, spent)
        return ledger

    def admit(self, caller: Caller, request: ModelRequest, target: Target, protocol: str, state: Any) -> Any:
        now = time.time()
        self._rate(caller, protocol, time.monotonic())
        if caller.budget_usd is None or caller.key_id is None:
            return None
        cost = self.estimate(request, target)
        with self._lock:
            ledger = self._ledger(caller, now)
            used = ledger.spent + ledger.reserved
            fits = used + cost <= caller.budget_usd
            last_one = ledger.in_flight == 0 and ledger.spent < caller.budget_usd
            if not (fits or last_one):
                reply = error_reply(
                    "anthropic" if protocol == "anthropic" else "openai", 429,
                    f"Budget exhausted for key {caller.key_id}: ${ledger.spent:.4f} spent and "
                    f"${ledger.reserved:.4f} reserved of ${caller.budget_usd:g} per {caller.period}; "
                    f"this call may cost up to ${cost:.4f}. Raise the budget or wait for the next period.",
                    code="insufficient_quota",
                )  # fmt: skip
                if caller.period not in (None, "total"):
                    wait = _next_period(caller.period, now) - now
                    reply.headers.append(("retry-after", str(max(1, math.ceil(wait)))))
                raise Refused(reply, "budget")
            ledger.reserved += cost
            ledger.in_flight += 1
        return Ticket(caller, target.model, cost, ledger.start)

    def settle(self, ticket: Any, usage: Usage | None, *, failed: bool) -> None:
        if not isinstance(ticket, Ticket):
            return
        cost = 0.0
        if usage is not None:
            cost = self.prices.cost(
                ticket.model, input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                cached_input_tokens=usage.cached_input_tokens, cache_write_tokens=usage.cache_write_tokens,
                reasoning_tokens=usage.reasoning_tokens,
            ) or 0.0  # fmt: skip
        key_id = ticket.caller.key_id
        assert key_id is not None
        with self._lock:
            ledger = self._ledgers.get(key_id)
            if ledger is not None and ledger.start == ticket.start:
                ledger.reserved = max(ledger.reserved - ticket.reserved, 0.0)
                ledger.in_flight -= 1
                ledger.spent += cost
        if cost and self.store is not None:
            self._persist(key_id, ticket.start, cost)

    def _persist(self, key_id: str, start: float, cost: float) -> None:
        store = self.store
        assert store is not None

        def write() -> None:
            try:
                store.add_key_spend([(key_id, start, cost)])
            except Exception:  # the ledger in memory still holds it; the next start re-reads the store
                log.exception("could not record a key's spend in the store")

        try:
            asyncio.get_running_loop().run_in_executor(None, write)
        except RuntimeError:
            write()

    def ready(self) -> dict[str, str]:
        """For ``/readyz``: whether the key store answers."""
        if self.store is None:
            return {}
        try:
            self.store.at_head()
        except Exception as exc:
            return {"store": f"unreachable: {type(exc).__name__}"}
        return {"store": "ok"}


def _next_period(period: str, now: float) -> float:
    start = period_start(period, now)
    if period == "day":
        return start + 86400
    if period == "week":
        return start + 7 * 86400
    t = time.gmtime(start)
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    return float(calendar.timegm((year, month, 1, 0, 0, 0)))

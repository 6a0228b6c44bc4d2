"""Background work that gives the core away between steps, while it keeps up.

The tracer's writer thread often shares a core with the application (a gateway is pinned to one), and
Linux does not preempt a running thread for one that wakes: measured through the gateway, a request
that arrived while the writer built or inserted a batch of 256 spans waited for the next scheduler
tick, 3.5 to 4.4 ms, one request in ten at one connection. Work cut into steps of ``STEP`` items with
``offer_core()`` between them keeps that wait under a step. ``os.sched_yield`` releases the GIL and
returns at once when nothing else is runnable (a system call, well under a microsecond).

Giving way costs the writer a scheduler slice per step whenever the application is busy, so at full
load it would fall behind and never catch up: the trace writers turn it on (``give_way``) only while
less than a batch is waiting, and otherwise take their fair share of the core. Other threads never
give way (an application's own ``Store.write_spans`` of a million spans keeps its core).
"""

from __future__ import annotations

import os
import threading

__all__ = ["STEP", "give_way", "offer_core"]

STEP = 32
"""Spans (or rows) of work between two offers of the core."""

_sched_yield = getattr(os, "sched_yield", lambda: None)


class _Giving(threading.local):
    on = False


_giving = _Giving()


def give_way(on: bool) -> None:
    """Whether this thread's ``offer_core()`` calls give the core away (off until turned on)."""
    _giving.on = on


def offer_core() -> None:
    if _giving.on:
        _sched_yield()

"""Decides each request's fate: which rule applies, whether a fault fires, rate limits, latency.

All state (counters, seeded RNGs, rate windows) lives here, touched only from the server's loop thread.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TypeVar

from .faults import STREAM_ONLY, builtin_rule
from .ratelimit import UNLIMITED, RateSnapshot, SlidingWindow
from .scenario import Fault, Latency, Respond, Rule, Scenario

V = TypeVar("V")
MAX_TRACKED_MODELS = 4096
"""Per-model state (fault counters of ``sim-*`` names, rate windows) kept for at most this many model
names; the oldest is forgotten first, so clients inventing names cannot grow the simulator forever."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one request; ``limits.retry_after`` is set when the rate limiter refused it."""

    fault: Fault | None
    respond: Respond | None
    latency: Latency
    limits: RateSnapshot
    request_number: int


@dataclass(slots=True)
class _RuleState:
    rngs: list[random.Random]
    fired: list[int]
    seen: int = 0
    first_seen: float | None = None


@dataclass(slots=True)
class _Compiled:
    rule: Rule
    regex: re.Pattern[str] | None = field(default=None)


class Engine:
    """Scenario rules first, then the ``sim-*`` model-name table, then the default answer."""

    def __init__(self, scenario: Scenario, *, seed: int, started: float) -> None:
        self.scenario = scenario
        self.seed = seed
        self.started = started
        self._rules = [
            _Compiled(r, re.compile(r.match.prompt_regex) if r.match.prompt_regex else None)
            for r in scenario.rules
        ]
        self._states: dict[str, _RuleState] = {}
        self._model_states: dict[str, _RuleState] = {}
        self._windows: dict[str, SlidingWindow] = {}
        self._count = 0

    def _match(
        self, model: str, last_user: str, last_role: str | None, tool_results: tuple[str, ...]
    ) -> tuple[str, Rule] | None:
        for index, compiled in enumerate(self._rules):
            match = compiled.rule.match
            if match.model is not None and not fnmatchcase(model, match.model):
                continue
            if match.prompt_contains is not None and match.prompt_contains not in last_user:
                continue
            if compiled.regex is not None and not compiled.regex.search(last_user):
                continue
            if match.last_role is not None and match.last_role != last_role:
                continue
            if match.tool_result is not None and match.tool_result != bool(tool_results):
                continue
            needle = match.tool_result_contains
            if needle is not None and not any(needle in result for result in tool_results):
                continue
            return f"rule/{index}", compiled.rule
        builtin = builtin_rule(model)
        return (f"model/{model}", builtin) if builtin is not None else None

    def _window(self, model: str) -> SlidingWindow | None:
        window = self._windows.get(model)
        if window is None and self.scenario.rate_limits:
            spec = next((r for r in self.scenario.rate_limits if fnmatchcase(model, r.model)), None)
            if spec is not None:
                window = _bounded_put(self._windows, model, SlidingWindow(rpm=spec.rpm, tpm=spec.tpm))
        return window

    def _state(self, key: str, rule: Rule) -> _RuleState:
        states = self._model_states if key.startswith("model/") else self._states
        state = states.get(key)
        if state is None:
            rngs = [random.Random(f"{self.seed}/{key}/{i}") for i in range(len(rule.faults))]
            state = _bounded_put(states, key, _RuleState(rngs=rngs, fired=[0] * len(rule.faults)))
        return state

    def decide(
        self,
        *,
        model: str,
        last_user: str,
        last_role: str | None,
        prompt_tokens: int,
        stream: bool,
        now: float,
        tool_results: tuple[str, ...] = (),
    ) -> Decision:
        """Pick the rule, apply the rate limit, then try each of the rule's faults in order."""
        self._count += 1
        window = self._window(model)
        limits = window.acquire(prompt_tokens, now) if window is not None else UNLIMITED
        found = self._match(model, last_user, last_role, tool_results)
        latency = self.scenario.latency
        if found is None:
            return Decision(None, None, latency, limits, self._count)
        key, rule = found
        latency = rule.latency or latency
        if limits.retry_after is not None:
            return Decision(None, rule.respond, latency, limits, self._count)
        state = self._state(key, rule)
        state.seen += 1
        if state.first_seen is None:
            state.first_seen = now
        for index, fault in enumerate(rule.faults):
            if self._fires(fault, index, state, last_role=last_role, stream=stream, now=now):
                return Decision(fault, rule.respond, latency, limits, self._count)
        return Decision(None, rule.respond, latency, limits, self._count)

    def _fires(
        self, fault: Fault, index: int, state: _RuleState, *, last_role: str | None, stream: bool, now: float
    ) -> bool:
        if fault.kind == "no-prefill" and last_role != "assistant":
            return False
        if fault.kind in STREAM_ONLY and not stream:
            return False
        if fault.down_for is not None:
            origin = self.started if fault.down_from == "start" else (state.first_seen or now)
            if now - origin >= fault.down_for:
                return False
        if state.seen <= fault.after:
            return False
        if fault.times is not None and state.fired[index] >= fault.times:
            return False
        if fault.rate < 1.0 and state.rngs[index].random() >= fault.rate:
            return False
        state.fired[index] += 1
        return True


def _bounded_put(table: dict[str, V], key: str, value: V) -> V:
    """Insert, forgetting the oldest entry past ``MAX_TRACKED_MODELS``."""
    if len(table) >= MAX_TRACKED_MODELS:
        del table[next(iter(table))]
    table[key] = value
    return value

"""The provider simulator: a fault-injecting OpenAI/Anthropic look-alike for tests, demos and benchmarks."""

from __future__ import annotations

from .recording import RecordedRequest
from .scenario import Fault, Latency, Match, RateLimit, Respond, Rule, Scenario, ToolCallSpec, load_scenario
from .simserver import SimServer

__all__ = [
    "Fault",
    "Latency",
    "Match",
    "RateLimit",
    "RecordedRequest",
    "Respond",
    "Rule",
    "Scenario",
    "SimServer",
    "ToolCallSpec",
    "load_scenario",
]

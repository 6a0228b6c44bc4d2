"""Policies: providers that wrap providers so the LLM is never a single point of failure.

Each policy's decision logic is a sans-I/O generator (:mod:`steadyhand.policies.driver`) run by one
sync and one async driver; the client applies them through its provider stack (``policies=``).
"""

from __future__ import annotations

from .deadline import DeadlineGuard
from .driver import Attempt, Decisions, Outcome, PolicyProvider, adrive, adrive_stream, drive, drive_stream
from .stack import Policy, Resolver, SharedState, StackInfo

__all__ = [
    "Attempt",
    "DeadlineGuard",
    "Decisions",
    "Outcome",
    "Policy",
    "PolicyProvider",
    "Resolver",
    "SharedState",
    "StackInfo",
    "adrive",
    "adrive_stream",
    "drive",
    "drive_stream",
]

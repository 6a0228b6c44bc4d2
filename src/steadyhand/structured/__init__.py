"""Structured output: cleanup, validation and re-asks for answers that must be machine-readable.

``clean(text, schema)`` and ``loads(text, schema)`` are pure functions with no model call;
``client.structured(messages, schema=...)`` uses exactly them. See docs/structured.md.
"""

from __future__ import annotations

from ._loop import HARD_MAX_REASKS
from ._parse import Repair
from .cleanup import ACCEPT, Cleaned, Outcome, clean, loads
from .modes import MODES, Mode, mode_for, strict_schema
from .result import Attempt, Partial, Structured

__all__ = [
    "ACCEPT",
    "HARD_MAX_REASKS",
    "MODES",
    "Attempt",
    "Cleaned",
    "Mode",
    "Outcome",
    "Partial",
    "Repair",
    "Structured",
    "clean",
    "loads",
    "mode_for",
    "strict_schema",
]

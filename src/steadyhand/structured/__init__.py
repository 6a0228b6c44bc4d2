"""Structured output: cleanup, validation and re-asks for answers that must be machine-readable.

``clean(text, schema)`` and ``loads(text, schema)`` are pure functions with no model call;
``client.structured(messages, schema=...)`` uses exactly them. See docs/structured.md.
"""

from __future__ import annotations

from ._parse import Repair
from .cleanup import ACCEPT, Cleaned, Outcome, clean, loads

__all__ = ["ACCEPT", "Cleaned", "Outcome", "Repair", "clean", "loads"]

"""The JSON shape a prompt asks for, for ``json_object`` requests that describe it only in words.

Clients commonly put a JSON Schema (or an example object) in the system or user message and set
``response_format: {"type": "json_object"}``. The first JSON object found in those texts decides: a
schema (it has ``properties``, ``$schema`` or ``type: object``) yields a minimal instance of it, any
other object is taken as the example to imitate. The scan is bounded so hostile prompts stay cheap.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .schema_instance import instance_of

SCAN_CHARS = 65_536
"""Only this many characters of each text are searched."""
MAX_ATTEMPTS = 64
"""At most this many ``{`` positions are tried per text."""
_DECODER = json.JSONDecoder()


def looks_like_schema(value: dict[str, Any]) -> bool:
    """True for a JSON Schema of an object rather than an example value."""
    return "properties" in value or "$schema" in value or value.get("type") == "object"


def shape_in(texts: Iterable[str]) -> Any:
    """A value shaped like the first schema or example object in ``texts``, else None."""
    for text in texts:
        found = _first_object(text[:SCAN_CHARS])
        if found is not None:
            inner = found.get("schema")  # OpenAI's json_schema wrapper pasted whole
            if isinstance(inner, dict) and looks_like_schema(inner):
                return instance_of(inner)
            return instance_of(found) if looks_like_schema(found) else found
    return None


def _first_object(text: str) -> dict[str, Any] | None:
    start = text.find("{")
    for _ in range(MAX_ATTEMPTS):
        if start < 0:
            return None
        try:
            value, end = _DECODER.raw_decode(text, start)
        except (ValueError, RecursionError):
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict) and value:
            return value
        start = text.find("{", end)
    return None

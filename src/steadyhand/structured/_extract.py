"""Extraction: find the JSON in a model's answer (a code fence, prose around it, several values).

Bounded like the simulator's prompt scan: at most :data:`MAX_STARTS` candidate starts are tried, each
with ``json``'s own C decoder, so extraction stays linear in the input.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

__all__ = ["MAX_STARTS", "Span", "fenced", "later_values", "starts"]

MAX_STARTS = 16
"""Candidate ``{``/``[`` positions tried for a value, and for a second value after it."""
_FENCE = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\r?\n?(.*?)(?:```|\Z)", re.S | re.M)
"""A Markdown code fence: it opens at the start of a line (a ``` inside a JSON string is not one)."""
_DECODER = json.JSONDecoder()


@dataclass(frozen=True, slots=True)
class Span:
    """Where the JSON was found: ``text[start:end]`` and whether a fence was closed."""

    start: int
    end: int
    closed: bool = True


def fenced(text: str) -> Span | None:
    """The body of the first code fence (preferring one tagged json, or whose body starts a value)."""
    first: Span | None = None
    for count, m in enumerate(_FENCE.finditer(text)):
        if count >= MAX_STARTS:
            break
        lang, body = m.group(1).lower(), m.group(2)
        if not body.strip():
            continue  # a lone closing fence after the JSON, or an empty block
        closed = m.group(0).endswith("```") and m.end() - m.start() > 3
        span = Span(m.start(2), m.start(2) + len(body), closed)
        if lang in ("json", "json5", "jsonc", "javascript", "js") or body.lstrip()[:1] in ("{", "["):
            return span
        if first is None:
            first = span
    return first


def starts(text: str, begin: int, end: int, opener: str = "{[") -> list[int]:
    """Up to :data:`MAX_STARTS` positions of ``{`` or ``[`` in ``text[begin:end]``, in order."""
    found: list[int] = []
    i = begin
    while len(found) < MAX_STARTS:
        best = -1
        for ch in opener:
            j = text.find(ch, i, end)
            if j >= 0 and (best < 0 or j < best):
                best = j
        if best < 0:
            break
        found.append(best)
        i = best + 1
    return found


def later_values(text: str, begin: int, end: int) -> list[tuple[object, int, int]]:
    """Complete JSON containers after ``begin`` (strictly decoded): (value, start, end), bounded."""
    out: list[tuple[object, int, int]] = []
    i = begin
    tries = 0
    while tries < MAX_STARTS:
        cands = starts(text, i, end)
        if not cands:
            break
        at = cands[0]
        tries += 1
        try:
            value, stop = _DECODER.raw_decode(text, at)
        except (ValueError, RecursionError):
            i = at + 1
            continue
        if stop > end:
            break
        out.append((value, at, stop))
        i = stop
    return out

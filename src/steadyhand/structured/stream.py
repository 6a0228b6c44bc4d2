"""Streaming partial objects: after each piece of a streamed answer, the value so far, made of closed
sub-trees only (a string still being written, a number that may grow, an unfinished member are left
out), checked against the schema with ``required`` relaxed; then the final validated value.

The text so far is read again only when a piece holds a character that can close something
(``,`` ``]`` ``}`` ``"``), and, past :data:`REREAD_EVERY` characters, at most once per that many new
ones, so a long stream costs a bounded number of reads.
"""

from __future__ import annotations

from typing import Any

from ._extract import fenced, starts
from ._parse import ParseFailed, Truncated, read_value
from ._schema import Shape
from ._validator import validate

__all__ = ["PartialReader"]

REREAD_EVERY = 16 * 1024
_NOTHING: Any = object()


class PartialReader:
    """Feed it pieces of text; :meth:`feed` returns a new partial value, or ``None`` when there is none."""

    def __init__(self, shape: Shape) -> None:
        self.shape = shape
        self.pieces: list[str] = []
        self.size = 0
        self.read_at = 0
        self.last: Any = _NOTHING
        self.reads = 0

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def feed(self, piece: str) -> Any | None:
        self.pieces.append(piece)
        self.size += len(piece)
        if not any(c in piece for c in ',]}"'):
            return None
        if self.size > REREAD_EVERY and self.size - self.read_at < REREAD_EVERY:
            return None
        self.read_at = self.size
        value = self._partial(self.text)
        if value is _NOTHING or value == self.last:
            return None
        self.last = value
        return value

    def _partial(self, text: str) -> Any:
        self.reads += 1
        span = fenced(text)
        begin, end = (span.start, span.end) if span is not None else (0, len(text))
        opener = {"object": "{", "array": "["}.get(self.shape.top_type or "", "{[")
        found = starts(text, begin, end, opener)
        if not found:
            return _NOTHING
        try:
            value, _, _ = read_value(text[:end], found[0], close_truncated=True)
        except (ParseFailed, Truncated):
            return _NOTHING
        if value is None or (
            self.shape.json_schema and validate(value, self.shape.json_schema, partial=True)
        ):
            return _NOTHING
        return value

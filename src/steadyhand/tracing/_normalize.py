"""Text as the redaction detectors see it: zero-width characters removed, look-alikes made ASCII.

A secret split by a zero-width space (``sk-proj-\\u200bA1b2...``), written in full-width letters
(``ｓｋ－ｐｒｏｊ``), with Cyrillic or Greek look-alikes (``АKIA`` with a Cyrillic ``А``), Unicode dashes,
spaces or other scripts' digits must still be found. Every detector runs on the normalized text, and
findings are mapped back to the original characters, so what is not a finding is stored as it was.

The table never produces ``"``, ``\\`` or a control character and never removes one: normalizing a
JSON text therefore gives the JSON text of the normalized strings, which the pre-check relies on.
"""

from __future__ import annotations

import re

__all__ = ["CONFUSABLE", "normalize", "normalize_with_map"]

_ZERO_WIDTH = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062"
    "\u2063\u2064\ufeff"
)
"""Invisible characters (soft hyphen, zero-width space/joiners, marks, word joiner, BOM): removed."""
_SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63"
_HOMOGLYPHS = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "һ": "h", "і": "i", "ј": "j", "к": "k", "м": "m", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ү": "y",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S", "Ԛ": "Q", "Ԝ": "W",
    # Greek
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "ο": "o", "ι": "i", "κ": "k", "ν": "v", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x",
    # letterlike symbols and long s, which case-insensitive matching would otherwise equate with ASCII
    "K": "K", "Å": "A", "ſ": "s", "ı": "i", "İ": "I",
    # at signs and dots
    "\ufe6b": "@", "\u2024": ".", "\u3002": ".", "\uff61": ".",
}  # fmt: skip
_DIGIT_ZEROS: tuple[int, ...] = (
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0E50,
    0x0ED0, 0x0F20, 0x1040, 0x17E0, 0x1810, 0xFF10, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6,
)  # fmt: skip
"""The zero of decimal digit blocks in other scripts (Arabic-Indic, Devanagari, full-width, math...)."""


def _table() -> dict[int, str | None]:
    table: dict[int, str | None] = {ord(c): None for c in _ZERO_WIDTH}
    table.update({ord(c): " " for c in _SPACES})
    table.update({ord(c): "-" for c in _DASHES})
    table.update({ord(k): v for k, v in _HOMOGLYPHS.items()})
    for zero in _DIGIT_ZEROS:
        table.update({zero + d: str(d) for d in range(10)})
    for cp in range(0xFF01, 0xFF5F):  # full-width ASCII, but never a quote or backslash (JSON escapes)
        if chr(cp - 0xFEE0) not in '"\\':
            table[cp] = chr(cp - 0xFEE0)
    return table


_TABLE = _table()
CONFUSABLE = re.compile("[" + "".join(re.escape(chr(cp)) for cp in sorted(_TABLE)) + "]")
"""Any character the table changes: text without one is already normalized."""


def normalize(text: str) -> str:
    """``text`` with invisible characters removed and look-alikes replaced by their ASCII twins."""
    if text.isascii() or CONFUSABLE.search(text) is None:
        return text
    return text.translate(_TABLE)


def normalize_with_map(text: str) -> tuple[str, list[int] | None]:
    """``normalize(text)`` and, when it differs, the index in ``text`` of each normalized character
    (plus ``len(text)`` at the end), to map a finding back onto the original."""
    if text.isascii() or CONFUSABLE.search(text) is None:
        return text, None
    table = _TABLE
    out: list[str] = []
    where: list[int] = []
    for i, c in enumerate(text):
        r = table.get(ord(c), c)
        if r is None:
            continue
        out.append(r)
        where.append(i)
    where.append(len(text))
    return "".join(out), where

"""A pre-check over the JSON text of a span's redactable fields: can any detector match in them at all?

``record()`` serializes the span anyway (for the spool), so one pass of C-level substring and regex
searches over that text replaces a Python walk of every string in the common case of nothing to find.
It must never say no when the exact walk would find something; why each piece is a superset:

- JSON, as ``orjson`` and ``json.dumps(ensure_ascii=False)`` write it, changes a string only by escaping
  ``"``, ``\\`` and control characters (``\\n``, ``\\t``, ``\\u001f``...); every other character,
  non-ASCII included, appears as it is.
- ``email``, ``card``, ``phone`` and the literal ``secret`` forms only match characters JSON never
  escapes, so a match in a string appears verbatim in the text; each is reduced to a part every match
  contains (``@`` plus a domain; a run of digits and separators; ``sk-`` plus 16 key characters...).
- ``Bearer <token>`` and ``api_key = value`` allow whitespace and quotes, which JSON may escape: their
  pre-checks accept the escaped forms too. The keyword is searched in the case-folded text (``re``'s
  IGNORECASE equivalences for these letters, ``K`` and ``ſ`` included, all fold to ASCII).
- User patterns are searched in the text itself when that is exact: the text holds no backslash (so
  every string appears verbatim, between ``"`` quotes, which ``\\b`` treats like a string's edge) and
  the pattern has no anchor or lookaround (which could see past a string's edge). Otherwise, and
  whenever user functions are configured (nothing can be known about them), the caller must walk.

Matching keys, numbers or text across two strings only costs a needless walk.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["Precheck"]

_WS = r"(?:\s|\\[tnrfb]|\\u[0-9a-fA-F]{4})"
"""Whitespace, as it appears in JSON text."""
_EMAIL = re.compile(r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_NUMERIC = re.compile(r"\d[\d ().-]{7,}\d")
"""What every card and phone match contains (a digit, 7+ digits or separators, a digit)."""
_CARD_PHONE = re.compile(r"\d(?:[ -]?\d){12}|\d{10}|\d{2,4}(?:\)[ .-]?|[ .-])\d{3,4}[ .-]\d{3,4}")
"""What every card and phone match contains from its first digit on; searched within ``_NUMERIC`` runs."""
_SECRET = re.compile(
    r"sk-[A-Za-z0-9_-]{16}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30}|xox[abposr]-[A-Za-z0-9-]{10}"
    rf"|Bearer{_WS}+[A-Za-z0-9._~+/=-]{{16}}"
)
_KEYWORDS = ("key", "secret", "token", "password", "passwd")
"""``api_key``, ``access-key``... all end in ``key``; searched in the case-folded text."""
_KEYWORD_TAIL = re.compile(rf"(?:\\\"|')?{_WS}*[:=]")
"""What follows a keyword in ``api_key=...``, ``"token": "..."``, as JSON text."""
_ASCII_SECRET = re.compile(_SECRET.pattern.encode())
_ASCII_KEYWORDS = tuple(k.encode() for k in _KEYWORDS)
_ASCII_KEYWORD_TAIL = re.compile(_KEYWORD_TAIL.pattern.encode())
_DIGITS_SEPS = bytes.maketrans(b"0123456789 .-()", b"0000000000---))")
"""ASCII text with every digit as ``0`` and ``[ .-]`` as ``-``: each phone match then holds ``000-000``
(three or four digits, a separator, three or four digits) or ten zeros (``+`` and ten digits)."""
_DIGITS = bytes.maketrans(b"0123456789", b"0000000000")
"""With ``[ -]`` deleted too, each card match is thirteen zeros in a row."""
_CONTEXT = ("^", "$", "\\A", "\\Z", "(?=", "(?!", "(?<")
"""Anchors and lookarounds: a pattern holding one may match differently inside the JSON text."""


class Precheck:
    """Built from the Redactor's configuration; ``may_find(data)`` answers for one span's JSON text."""

    __slots__ = ("_always", "_builtin", "_patterns")

    def __init__(
        self, *, builtin: frozenset[str], patterns: Sequence[re.Pattern[str]], functions: bool
    ) -> None:
        self._builtin = builtin
        self._patterns = tuple(patterns)
        context_free = all(
            not (p.flags & re.VERBOSE or any(c in p.pattern for c in _CONTEXT)) for p in patterns
        )
        self._always = functions or not context_free

    def may_find(self, data: bytes) -> bool:
        """False only when no configured detector can match any string inside ``data`` (UTF-8 JSON).

        ASCII text is checked with byte-level translations and substring searches (C speed); other
        text with the ``str`` regexes, since ``\\d``, ``\\s`` and case folding reach beyond ASCII.
        """
        if self._always:
            return True
        if not data.isascii():
            return self._may_find_text(data.decode())
        b = self._builtin
        if "email" in b and b"@" in data and _EMAIL.search(data.decode()):
            return True
        if "card" in b or "phone" in b:
            marked = data.translate(_DIGITS_SEPS)
            if b"000-000" in marked or b"0000000000" in marked or b"0" * 13 in data.translate(_DIGITS, b" -"):
                return True
        if "secret" in b:
            if _ASCII_SECRET.search(data):
                return True
            low = data.lower()
            for k in _ASCII_KEYWORDS:
                i = low.find(k)
                while i >= 0:
                    if _ASCII_KEYWORD_TAIL.match(low, i + len(k)):
                        return True
                    i = low.find(k, i + 1)
        return bool(self._patterns) and self._patterns_may_match(data.decode())

    def _may_find_text(self, text: str) -> bool:
        b = self._builtin
        if "email" in b and "@" in text and _EMAIL.search(text):
            return True
        if ("card" in b or "phone" in b) and any(
            _CARD_PHONE.search(text, m.start(), m.end()) for m in _NUMERIC.finditer(text)
        ):
            return True
        if "secret" in b and (_SECRET.search(text) or _keyword(text.casefold())):
            return True
        return bool(self._patterns) and self._patterns_may_match(text)

    def _patterns_may_match(self, text: str) -> bool:
        return "\\" in text or any(p.search(text) for p in self._patterns)


def _keyword(folded: str) -> bool:
    for k in _KEYWORDS:
        i = folded.find(k)
        while i >= 0:
            if _KEYWORD_TAIL.match(folded, i + len(k)):
                return True
            i = folded.find(k, i + 1)
    return False

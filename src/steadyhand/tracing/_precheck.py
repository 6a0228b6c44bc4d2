"""A pre-check over the JSON text of a span's redactable fields: can any detector match in them at all?

``record()`` serializes the span anyway (for the spool), so one pass of C-level substring and regex
searches over that text replaces a Python walk of every string in the common case of nothing to find.
It must never say no when the exact walk would find something; why each piece is a superset:

- JSON, as ``orjson`` and ``json.dumps(ensure_ascii=False)`` write it, changes a string only by escaping
  ``"``, ``\\`` and control characters (``\\n``, ``\\t``, ``\\u001f``...); every other character,
  non-ASCII included, appears as it is. Normalization (``_normalize``) neither makes nor removes those,
  so the normalized JSON text is the JSON text of the normalized strings the detectors see.
- The detectors are ASCII-only (but e-mail), so their searches behave the same on UTF-8 bytes. Each is
  reduced to a part every match contains, in the characters JSON never escapes: ``@`` plus a domain;
  ``sk-`` plus 20 key characters; ``bearer`` (case-folded) plus escaped or plain whitespace...
- A secret name (``api_key=``, ``"password":``, ``AWS_SECRET_ACCESS_KEY=``, a dict key) ends, case-folded,
  with one of ``KEYWORDS``, then ``[0-9_.-]*``, quotes (escaped or not), whitespace and ``:`` or ``=``.
- Cards and phones hold 13 digits (separated by at most two of `` ./-``), 10 digits in a row, or
  ``ddd-ddd``: searched with digits as ``0`` and separators as ``-``. Such a run found in a number, or in
  the string value of an identifier or timestamp key (``"id"``, ``"created"``, ``"user_id"``), is not
  looked at by the walk either, so it does not count: quotes are counted (escaped ones removed first) to
  tell string from number, and the key before a value is read back.
- User patterns are searched in the text itself when that is exact: the text holds no backslash (so
  every string appears verbatim, between ``"`` quotes, which ``\\b`` treats like a string's edge) and
  the pattern has no anchor or lookaround (which could see past a string's edge). Otherwise, and
  whenever user functions are configured (nothing can be known about them), the caller must walk.

Matching keys, numbers or text across two strings only costs a needless walk.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ._detectors import ID, key_kind
from ._normalize import normalize

__all__ = ["Precheck"]

# The patterns below are searched here and, compiled into one Hyperscan database, by ``_scanner``
# (which imports them): keep them in the syntax both take (no possessive quantifiers but where noted).

_BACKSLASH, _AT, _A, _X, _J = b"\\@AxJ"
"""Bytes searched for as ints: ``b"@" in data`` first tries the needle as an int, and raising and
clearing that TypeError costs about 2,000 instructions; ``64 in data`` is one memchr (longer needles:
``find``)."""
_WS = rb"(?:\s|\\[tnrfb]|\\u[0-9a-fA-F]{4})"
"""Whitespace, as it appears in JSON text."""
_EMAIL_DOMAIN = r"@[^\W_][\w-]*(?:\.[^\W_][\w-]*)*\.[^\W\d_]{2,}"
_EMAIL_ASCII = _EMAIL_DOMAIN.encode()
_EMAIL_B = re.compile(_EMAIL_ASCII)
_EMAIL_S = re.compile(_EMAIL_DOMAIN)
_TAIL = rb"[0-9_.-]*(?:\\\\|\\\"|\"|')*" + _WS + rb"*[:=]"
"""What follows a secret name's last word, as JSON text, lower-cased."""
_KEY_PATTERNS = (
    rb"k(?:-[A-Za-z0-9_-]{20}|_(?:live|test)_[A-Za-z0-9]{16})",
    rb"A(?:(?:KIA|SIA)[0-9A-Z]{16}|Iza[0-9A-Za-z_-]{35})",
    rb"gh[pousr]_[A-Za-z0-9]{30}",
    rb"xox[abposr]-[A-Za-z0-9-]{10}",
    rb"eyJ[A-Za-z0-9_-]{8}",
)
_KEYS = tuple(re.compile(rx) for rx in _KEY_PATTERNS)
"""Every provider key the exact detector finds holds one of these (``sk-``, ``[rs]k_live_`` from their
``k``; AWS and Google keys from their ``A``; ``github_pat_`` is a substring search)."""
_NAMES = tuple(
    re.compile(word + _TAIL) for word in (rb"key", rb"p(?:ass(?:word|wd|phrase)?|wd)", rb"auth(?:orization)?")
)
_RARE_NAMES = tuple(
    (word, re.compile(rx + _TAIL))
    for word, rx in ((b"secret", rb"secret"), (b"credential", rb"credentials?"), (b"cookie", rb"cookie"))
)
"""A secret name's last word (each of ``KEYWORDS``) and what follows it, over lower-cased text: one
regex per word, each starting with a literal, so each is one fast scan and a hit that fails
(``max_tokens``) fails in C. Longer, rarer words are found by substring search first (skipping ahead
by their length, several times faster than a scan), their regex run only when they are there.
``pass...`` and ``pwd`` share one regex, with the prefix ``p``: its hits that fail cost less than a
second pass (about 12,400 instructions against 17,400 on the chat span). The trick does not carry
over to words with a frequent first letter or a longer shared prefix: ``k(?:e|E)y`` and
``a(?:u|U)th`` measured slower than ``key`` and ``auth``."""
_TOKEN = re.compile(rb"token" + _TAIL)
"""Searched in text where ``tokens`` (token counts: every usage block names a dozen) was made
``tokns``: ``tokens`` cannot start a match (``s`` is no part of the tail), but each would be a hit of
the ``token`` prefix, tried against the whole tail (about 1,000 instructions each); ``tokns`` holds no
``token``, and the replacement cannot make one. When every ``token`` is a ``tokens`` (equal counts:
the usual span) nothing can match, and neither the copy nor the scan is made."""
_SCHEMES = (
    (b"bearer", re.compile(rb"bearer" + _WS + rb"+[a-z0-9._~+/=-]{16}")),
    (b"basic", re.compile(rb"basic" + _WS + rb"+[a-z0-9+/]{6}")),
)
_NAME_PATTERNS = (
    *(rx.pattern for rx in _NAMES),
    *(rx.pattern for _, rx in _RARE_NAMES),
    _TOKEN.pattern,
    *(rx.pattern for _, rx in _SCHEMES),
)
"""Every pattern searched in lower-cased text (``_scanner`` searches them case-insensitively)."""
_URL_PATTERN = rb'://(?:[^\s/:@"\\]|\\.)+:(?:[^\s/@"\\]|\\.)+@'
_URL = re.compile(_URL_PATTERN)
_MARK = bytes.maketrans(b"0123456789 ./-", b"0000000000----")
_CANDIDATES = (re.compile(rb"000(?:0{7}|-000|(?:-{0,2}+0){10})"), re.compile(rb"0--?+0(?:-{0,2}+0){10}"))
"""In text with digits as ``0`` and `` ./-`` as ``-``, every card and phone match holds a match of one of
these: ten digits in a row or ``ddd-ddd`` (phones), or 13 digits with at most two separators between
any two whose first group has three digits or more (cards); a card whose first group has one or two
digits holds the second from its last digit of that group on. Each starts with a literal, so each is
one fast scan; one regex with the alternatives would try every digit. The separators are taken
possessively (``-`` and ``0`` are disjoint, so no match is lost): a date in a model name
(``gpt-4o-2024-08-06``, in every span several times) then fails without backtracking."""
_CANDIDATE_PATTERNS = (
    rb"[0-9]{3}(?:[0-9]{7}|[ ./-][0-9]{3}|(?:[ ./-]{0,2}[0-9]){10})",
    rb"[0-9][ ./-]{1,2}[0-9](?:[ ./-]{0,2}[0-9]){10}",
)
"""``_CANDIDATES`` over the text itself (possessive quantifiers dropped: with ``-`` and ``0`` disjoint
they change no match, only how fast one fails)."""
_CONTEXT = ("^", "$", "\\A", "\\Z", "(?=", "(?!", "(?<")
"""Anchors and lookarounds: a pattern holding one may match differently inside the JSON text."""


class Precheck:
    """Built from the Redactor's configuration; ``may_find(data)`` answers for one span's JSON text."""

    __slots__ = ("_always", "_builtin", "_patterns", "_scan")

    def __init__(
        self, *, builtin: frozenset[str], patterns: Sequence[re.Pattern[str]], functions: bool
    ) -> None:
        from ._scanner import compiled  # it imports this module's patterns

        self._builtin = builtin
        self._patterns = tuple(patterns)
        context_free = all(
            not (p.flags & re.VERBOSE or any(c in p.pattern for c in _CONTEXT)) for p in patterns
        )
        self._always = functions or not context_free
        self._scan = None if self._always else compiled(builtin)

    def may_find(self, data: bytes) -> bool:
        """False only when no configured detector can match any string inside ``data`` (UTF-8 JSON).

        ASCII text is checked by one Hyperscan pass (``_scanner``) or, without it, with byte-level
        translations and substring searches (C speed); other text is normalized first, and e-mail
        addresses are searched in it as ``str`` (any script).
        """
        if self._always:
            return True
        text: str | None = None
        b = self._builtin
        if not data.isascii():
            text = normalize(data.decode())
            data = text.encode()
            if "email" in b and "@" in text and _EMAIL_S.search(text):
                return True
        if self._scan is not None:
            if self._scan(data):
                return True
        elif self._python_scan(data, text is None):
            return True
        if self._patterns:
            return _patterns_may_match(self._patterns, data.decode() if text is None else text)
        return False

    def _python_scan(self, data: bytes, ascii: bool) -> bool:
        """What ``_scanner`` answers, searched pattern by pattern (e-mail in ASCII text only)."""
        b = self._builtin
        return bool(
            ("email" in b and ascii and _AT in data and _EMAIL_B.search(data))
            or ("secret" in b and _secret(data))
            or (("card" in b or "phone" in b) and _numbers_in_text(data))
        )


_k, _a, _gh, _xox, _jwt = (rx.search for rx in _KEYS)
_key, _pass, _auth = (rx.search for rx in _NAMES)
(_secret_w, _secret_s), (_cred_w, _cred_s), (_cookie_w, _cookie_s) = ((w, rx.search) for w, rx in _RARE_NAMES)
(_bearer_w, _bearer_s), (_basic_w, _basic_s) = ((w, rx.search) for w, rx in _SCHEMES)
_token = _TOKEN.search
"""Bound searches, called in one flat expression: a generator over the regexes costs as much Python
as the scans cost C on a span this size."""


def _secret(data: bytes) -> bool:
    if (
        _k(data)
        or (_A in data and _a(data))  # a one-byte search (memchr) is cheaper than a regex's scan
        or _gh(data)
        or (_X in data and _xox(data))
        or (_J in data and _jwt(data))
        or data.find(b"github_pat_") >= 0
        or data.find(b"PRIVATE KEY-----") >= 0
        or (_AT in data and _URL.search(data))  # user:password@ in a URL
    ):
        return True
    low = data.lower()
    return bool(
        _key(low)
        or _pass(low)
        or _auth(low)
        or (low.find(_secret_w) >= 0 and _secret_s(low))
        or (low.find(_cred_w) >= 0 and _cred_s(low))
        or (low.find(_cookie_w) >= 0 and _cookie_s(low))
        or (low.find(_bearer_w) >= 0 and _bearer_s(low))
        or (low.find(_basic_w) >= 0 and _basic_s(low))
        or (low.count(b"token") > low.count(b"tokens") and _token(low.replace(b"tokens", b"tokns")))
    )


_STRUCTURAL = frozenset(b":,[{ \t\n\r")
"""What precedes an opening quote in JSON text; a closing quote is preceded by a string's content."""


def _numbers_in_text(data: bytes) -> bool:
    """Whether a card- or phone-like run of digits sits in a string the walk scans for them.

    Runs in numbers and in identifier values are common (every response's ``id`` and ``created``):
    once one is ruled out, the search goes on past that number or string.
    """
    marked = data.translate(_MARK)
    text: JsonText | None = None
    for rx in _CANDIDATES:
        pos = 0
        while (m := rx.search(marked, pos)) is not None:
            if text is None:
                text = JsonText(data)
            skip_to = text.not_scanned(m.start(), m.end())
            if skip_to is None:
                return True
            pos = skip_to
    return False


class JsonText:
    """One JSON text, read back at the places a digit run was found in it.

    Its quotes are counted once, left to right, as the places come (they come in order: each scan
    goes forward): counting from the start at each place made a text of many numbers quadratic
    (an array of 20,000 ten-digit numbers took seconds).
    """

    __slots__ = ("_count", "_counted_to", "cleaned", "data")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.cleaned = data.replace(b"\\\\", b"__").replace(b'\\"', b"__") if _BACKSLASH in data else data
        """``data`` with escaped backslashes and quotes blanked out: its quotes delimit strings."""
        self._counted_to = self._count = 0

    def in_string(self, pos: int) -> bool:
        if pos < self._counted_to:
            self._counted_to = self._count = 0
        self._count += self.cleaned.count(b'"', self._counted_to, pos)
        self._counted_to = pos
        return self._count % 2 == 1

    def not_scanned(self, pos: int, end: int) -> int | None:
        """Where to search on when ``pos`` is in a number, or in the value of an identifier or
        timestamp key (the walk does not look for cards or phones there); ``None`` when the walk
        scans it."""
        cleaned = self.cleaned
        if pos >= 3 and cleaned[pos - 2 : pos] == b'":' and cleaned[pos - 3] not in _STRUCTURAL:
            return end  # just after a key's closing quote and its colon: a number
        if not self.in_string(pos):
            return end  # outside every string: a number
        start = cleaned.rfind(b'"', 0, pos)
        close = cleaned.find(b'"', pos)
        if close < 0 or cleaned[close + 1 : close + 2] == b":":
            return None  # a key
        if start >= 2 and cleaned[start - 1 : start] == b":" and cleaned[start - 2 : start - 1] == b'"':
            key = self.data[cleaned.rfind(b'"', 0, start - 2) + 1 : start - 2]
            if _BACKSLASH not in key and key_kind(key.decode()) == ID:
                return close
        return None


def _patterns_may_match(patterns: Sequence[re.Pattern[str]], text: str) -> bool:
    return "\\" in text or any(p.search(text) for p in patterns)

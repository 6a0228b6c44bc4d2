"""The built-in detectors and the key-name rules, over normalized text (see ``_normalize``).

Every regex is ASCII-only (``re.ASCII``; e-mail addresses are the exception, they may be written in any
script), so the pre-check can run the same searches over UTF-8 bytes. Each detector has a cheap C-level
gate that must pass before its regex runs, and a Python check that turns a regex match into the spans
to redact: Luhn and consistent separators for cards, a plausible number for bare phone digits, a
random-looking body for a key glued to a word, a secret-looking name for ``NAME=value``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ._normalize import normalize

__all__ = [
    "BUILTIN_DETECTORS",
    "ID",
    "KEYWORDS",
    "PLAIN",
    "SECRET",
    "Detector",
    "Gates",
    "key_kind",
]

Span = tuple[int, int]
Check = Callable[[str, "re.Match[str]"], Iterable[Span]]

PLAIN, ID, SECRET = 0, 1, 2
"""What a dict key (or ``NAME=`` name) says about its value: scan it; an identifier or timestamp (no card
or phone scan); a secret (redacted whatever it looks like)."""

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", re.ASCII)
"""Words of a name: ``AWS_SECRET_ACCESS_KEY``, ``apiKey``, ``X-Api-Key``, ``APIKey`` all split right."""
SECRET_WORDS = frozenset({
    "password", "passwd", "pwd", "pass", "passphrase", "secret", "token", "apikey", "auth", "oauth",
    "authorization", "credential", "credentials", "cookie", "privatekey", "secretkey", "accesskey",
})  # fmt: skip
"""A name whose last word is one of these holds a secret (``max_tokens`` ends in ``tokens``: it does not)."""
KEY_QUALIFIERS = frozenset({
    "api", "access", "secret", "private", "signing", "encryption", "master", "auth", "client", "license",
    "ssh", "subscription", "service", "account", "app", "session",
})  # fmt: skip
"""``<qualifier> key`` is a secret name (``api_key``, ``AWS_SECRET_ACCESS_KEY``); ``key`` alone is not."""
_COUNTED_TOKENS = frozenset({
    "first", "last", "next", "prev", "per", "max", "min", "num", "start", "end", "stop", "bos", "eos",
    "pad", "unk", "sep", "cls", "mask", "special", "input", "output", "prompt", "completion", "total",
    "cached", "reasoning", "each", "new",
})  # fmt: skip
"""``first_token``, ``per_token``, ``eos_token``: a language model's tokens, not credentials."""
KEYWORDS = (
    "key", "password", "passwd", "pwd", "pass", "passphrase", "secret", "token", "auth", "authorization",
    "credential", "credentials", "cookie",
)  # fmt: skip
"""Every secret name, case-folded and stripped of trailing ``[0-9_.-]``, ends with one of these."""
_ID_NAME = re.compile(
    r"(?:id|ID|ids|uuid|created|timestamp|time|date|.*(?:_id|Id|ID|_ids|Ids|_uuid|_at|At|_time|Time|_ts"
    r"|_timestamp|Timestamp|_date|_fingerprint))",
    re.ASCII,
)


@functools.lru_cache(maxsize=4096)
def key_kind(key: str) -> int:
    """``PLAIN``, ``ID`` or ``SECRET`` for a dict key or an assignment's name (after normalization)."""
    key = normalize(key)
    stripped = key.rstrip("0123456789_.-")
    if stripped and stripped[-1].isascii() and stripped[-1].isalpha():
        found = list(_WORDS.finditer(stripped))
        low = stripped.lower()
        if any(low[m.start() :] in SECRET_WORDS for m in found[-3:]) and not (
            low.endswith("token") and len(found) > 1 and found[-2].group().lower() in _COUNTED_TOKENS
        ):
            return SECRET  # the last word, or the last words run together (PassWord, ApiKey)
        if low.endswith("key") and len(found) > 1 and found[-2].group().lower() in KEY_QUALIFIERS:
            return SECRET
    return ID if _ID_NAME.fullmatch(key) else PLAIN


class Gates:
    """Cheap tests on one string, each computed at most once; a detector's regex runs only if its passes."""

    __slots__ = ("_low", "_memo", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._low: str | None = None
        self._memo: dict[str, bool] = {}

    @property
    def low(self) -> str:
        if self._low is None:
            self._low = self.text.lower()
        return self._low

    def passes(self, name: str) -> bool:
        open_ = self._memo.get(name)
        if open_ is None:
            open_ = self._memo[name] = _GATES[name](self)
        return open_


def _literal_gate(g: Gates) -> bool:
    s = g.text
    return (
        "sk-" in s
        or "k_live_" in s
        or "k_test_" in s
        or "AKIA" in s
        or "ASIA" in s
        or "_" in s
        and ("ghp_" in s or "gho_" in s or "ghu_" in s or "ghs_" in s or "ghr_" in s or "github_pat_" in s)
        or "xox" in s
        or "AIza" in s
        or "eyJ" in s
    )


def _assign_gate(g: Gates) -> bool:
    if "=" not in g.text and ":" not in g.text:
        return False
    low = g.low
    return any(k in low for k in KEYWORDS)


_GATES: dict[str, Callable[[Gates], bool]] = {
    "at": lambda g: "@" in g.text,
    "literal": _literal_gate,
    "scheme": lambda g: "bearer" in g.low or "basic" in g.low,
    "pem": lambda g: "PRIVATE KEY-----" in g.text,
    "url": lambda g: "://" in g.text,
    "assign": _assign_gate,
}


@dataclass(frozen=True, slots=True)
class Detector:
    """A regex behind a gate; ``check`` turns a match into the spans to redact (default: the match)."""

    label: str
    rx: re.Pattern[str]
    gate: str | None = None
    numeric: bool = False
    """Card and phone numbers: not looked for in identifier and timestamp values."""
    check: Check | None = None

    def spans(self, text: str) -> Iterable[Span]:
        check = self.check
        for m in self.rx.finditer(text):
            if check is None:
                if m.end() > m.start():
                    yield m.span()
            else:
                yield from check(text, m)


def _word(c: str) -> bool:
    return c.isalnum() or c == "_"


# -- secrets ----------------------------------------------------------------------------------------

_KEY = re.compile(
    r"sk-(?:ant-|proj-|svcacct-|admin-|live-|test-)?[A-Za-z0-9_-]{20,}|[rs]k_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
    re.ASCII,
)
"""Provider keys by their prefixes (OpenAI, Anthropic, Stripe, AWS, GitHub, Slack, Google) and JWTs."""


def _classes(s: str) -> int:
    digit = any(c.isdigit() for c in s)
    return digit + any(c.isupper() for c in s) + any(c.islower() for c in s)


def _key_check(text: str, m: re.Match[str]) -> Iterable[Span]:
    start, end = m.span()
    key = m.group()
    if key[:4] in ("AKIA", "ASIA") and end < len(text) and (text[end].isdigit() or text[end].isupper()):
        return ()  # an AWS key id is exactly 20 characters
    if start and (_word(text[start - 1]) or text[start - 1] == "-"):
        # glued to a word (token_ghp_..., mysk-proj-...): only when it looks random, not like risk-free-...
        needed = 2 if key[:4] in ("AKIA", "ASIA") or key[:3] in ("xox", "eyJ") else 3
        if _classes(key) < needed:
            return ()
    return (m.span(),)


_BEARER = re.compile(r"(?i:bearer)\s+[A-Za-z0-9._~+/=-]{16,}", re.ASCII)
_BASIC = re.compile(r"(?i:basic)\s+([A-Za-z0-9+/]{6,}={0,2})", re.ASCII)


def _scheme_check(text: str, m: re.Match[str]) -> Iterable[Span]:
    start = m.start()
    if start and _word(text[start - 1]):
        return ()
    if m.re is _BASIC:
        token = m.group(1)
        try:
            decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return ()
        if ":" not in decoded or not decoded.isprintable():
            return ()  # "Basic Introduction" is not user:password
    return (m.span(),)


_PEM = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?:.*?-----END [A-Z ]*PRIVATE KEY-----|.*)", re.ASCII | re.DOTALL
)
_URL_CREDENTIALS = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]+:([^\s/@]+)@", re.ASCII)


def _group_check(text: str, m: re.Match[str]) -> Iterable[Span]:
    return (m.span(1),)


_NAME = re.compile(r"(?:[A-Za-z0-9]+ )?[A-Za-z_][A-Za-z0-9_.-]*(?:\\?[\"'])?\s*[:=]", re.ASCII)
"""``NAME:`` / ``NAME=`` (optionally quoted, optionally two words: ``API key:``); the value is read after."""
_VALUE = re.compile(
    r"\s*(?:\"([^\"\n]+)\"|'([^'\n]+)'|[\"']?((?i:(?:basic|bearer|token|digest)[ ]+)?[^\s\"',;&})\]]+))",
    re.ASCII,
)


def _assign_check(text: str, m: re.Match[str]) -> Iterable[Span]:
    name = m.group().rstrip(":= \t\r\n\f\v\"'\\")
    if key_kind(name) != SECRET:
        return ()
    v = _VALUE.match(text, m.end())
    if v is None:
        return ()
    group = next(i for i in (1, 2, 3) if v.group(i) is not None)
    return (v.span(group),)


# -- numbers ----------------------------------------------------------------------------------------

_CARD = re.compile(r"[0-9](?:(?:  ?|[./-])?[0-9]){12,}", re.ASCII)
"""Thirteen or more digits, separated by nothing, one space, two spaces, ``.``, ``/`` or ``-``."""
_GROUPS = re.compile(r"[0-9]+|[^0-9]+")


def luhn_ok(digits: str) -> bool:
    """A card number: 13 to 19 ASCII digits that pass Luhn, from a card network's range (2 to 6, 13 digits
    only for Visa's 4; a millisecond Unix time starts with 1)."""
    if not 13 <= len(digits) <= 19 or digits[0] not in "23456" or (len(digits) == 13 and digits[0] != "4"):
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = ord(c) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_check(text: str, m: re.Match[str]) -> Iterable[Span]:
    """Cards inside a run of digit groups: consecutive groups with one separator, 13-19 digits, Luhn."""
    parts = _GROUPS.findall(m.group())
    groups, seps = parts[::2], parts[1::2]
    offsets = [m.start()]
    for p in parts:
        offsets.append(offsets[-1] + len(p))
    found: list[Span] = []
    i = 0
    while i < len(groups):
        best = -1
        digits = ""
        for j in range(i, len(groups)):
            if j > i and seps[j - 1] != seps[i]:
                break
            digits += groups[j]
            if len(digits) > 19:
                break
            if luhn_ok(digits):
                best = j
        if best >= 0:
            found.append((offsets[2 * i], offsets[2 * best + 1]))
            i = best + 1
        else:
            i += 1
    return found


_PHONE = re.compile(
    r"\+[0-9]{10,14}|(?:\+[0-9]{1,3}[ .-]?)?(?:\([0-9]{2,4}\)[ .-]?|[0-9]{2,4}[ .-])[0-9]{3,4}[ .-][0-9]{3,4}"
    r"|[0-9]{10,11}",
    re.ASCII,
)


def _plausible_bare(digits: str) -> bool:
    """Ten or eleven digits with no separator: a North American number (``4155550132``, ``14155550132``)
    or a UK mobile (``07700900123``); Unix times (``1796165534``) and most ids are neither."""
    if len(digits) == 11:
        if digits[:2] == "07":
            return True
        if digits[0] != "1":
            return False
        digits = digits[1:]
    return digits[0] in "23456789" and digits[3] in "23456789"


def _phone_check(text: str, m: re.Match[str]) -> Iterable[Span]:
    start, end = m.span()
    if start and (text[start - 1] in ".+-" or _word(text[start - 1])):
        return ()
    if end < len(text) and (
        _word(text[end]) or text[end] == "." and end + 1 < len(text) and text[end + 1].isdigit()
    ):
        return ()
    s = m.group()
    if s.isdigit() and not _plausible_bare(s):
        return ()
    return (m.span(),)


_EMAIL = re.compile(r"[\w.%+-]+@[^\W_][\w-]*(?:\.[^\W_][\w-]*)*\.[^\W\d_]{2,}")
"""Any script (``jürgen@bücher.de``, ``用户@例子.广告``); the one detector that is not ASCII-only."""

BUILTIN_DETECTORS: dict[str, tuple[Detector, ...]] = {
    "email": (Detector("email", _EMAIL, gate="at"),),
    "secret": (
        Detector("secret", _PEM, gate="pem"),
        Detector("secret", _KEY, gate="literal", check=_key_check),
        Detector("secret", _BEARER, gate="scheme", check=_scheme_check),
        Detector("secret", _BASIC, gate="scheme", check=_scheme_check),
        Detector("secret", _URL_CREDENTIALS, gate="url", check=_group_check),
        Detector("secret", _NAME, gate="assign", check=_assign_check),
    ),
    "card": (Detector("card", _CARD, numeric=True, check=_card_check),),
    "phone": (Detector("phone", _PHONE, numeric=True, check=_phone_check),),
}
"""Built-in detectors, by label. Earlier ones win where two overlap."""

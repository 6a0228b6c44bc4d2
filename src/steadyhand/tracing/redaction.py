"""Redaction of secrets and personal data, applied in ``record()`` before a span touches disk.

Each detector is a compiled regex behind a cheap C-level gate (``"@" in s`` for e-mail, a few literal
markers for keys, three digits in a row for cards and phones), so a string with nothing suspicious costs
a handful of substring checks. Card numbers are Luhn-checked, so a 16-digit order number that is not a
valid card is left alone.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ConfigurationError
from ._precheck import Precheck
from .records import SpanRecord

__all__ = ["BUILTIN_DETECTORS", "Policy", "Redactor"]

Policy = Literal["mask", "hash", "drop"]
"""``mask``: ``[REDACTED:email]``; ``hash``: ``[email:sha256-1a2b3c4d]`` (stable, so equal values can
still be correlated); ``drop``: the whole field (or attribute) is removed when anything is found in it."""

_NUMERIC = re.compile(r"[+(]?\d[\d ().-]{7,}\d")
"""Runs of digits and separators long enough to hold a phone or card number: where those detectors look."""


def _secret_gate(s: str) -> bool:
    if (
        "sk-" in s
        or "AKIA" in s
        or "gh" in s
        and ("ghp_" in s or "gho_" in s or "ghu_" in s or "ghs_" in s or "ghr_" in s)
        or "xox" in s
        or "Bearer" in s
    ):
        return True
    if "=" in s or ":" in s:
        low = s.lower()
        return "key" in low or "secret" in low or "token" in low or "passw" in low
    return False


@dataclass(frozen=True, slots=True)
class _Detector:
    """A regex, a cheap C-level gate that must pass before it runs, and boundary characters.

    Boundaries are checked in Python after a match rather than with lookbehinds, which would make the
    regex engine try every position of every string.
    """

    label: str
    rx: re.Pattern[str]
    gate: str | None = None
    """A key into ``_GATES``; each gate is evaluated at most once per string."""
    not_before: str = ""
    not_after: str = ""
    word_boundary: bool = False

    def matches(self, s: str, pos: int = 0, endpos: int = sys.maxsize) -> Iterator[re.Match[str]]:
        for m in self.rx.finditer(s, pos, endpos):
            start, end = m.span()
            if start and (s[start - 1] in self.not_before or (self.word_boundary and _word(s[start - 1]))):
                continue
            if end < len(s) and (s[end] in self.not_after or (self.word_boundary and _word(s[end]))):
                continue
            yield m


def _word(c: str) -> bool:
    return c.isalnum() or c == "_"


_GATES: dict[str, Callable[[str], bool]] = {
    "at": lambda s: "@" in s,
    "secret": _secret_gate,
}
BUILTIN_DETECTORS: dict[str, tuple[_Detector, ...]] = {
    "email": (
        _Detector(
            "email",
            re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
            gate="at",
        ),
    ),
    "secret": (
        _Detector(
            "secret",
            re.compile(
                r"sk-ant-[A-Za-z0-9_-]{16,}|sk-(?:proj-|live-|test-)?[A-Za-z0-9_-]{20,}|AKIA[0-9A-Z]{16}"
                r"|gh[pousr]_[A-Za-z0-9]{30,}|xox[abposr]-[A-Za-z0-9-]{10,}|Bearer\s+[A-Za-z0-9._~+/=-]{16,}"
                r"|(?i:(?:api[_-]?key|secret|token|password|passwd|access[_-]?key)[\"']?\s*[:=]\s*[\"']?)"
                r"[^\s\"',;&]{6,}"
            ),
            gate="secret",
            not_before="-",
            word_boundary=True,
        ),
    ),
    "card": (
        _Detector(
            "card",
            re.compile(r"\d(?:[ -]?\d){12,18}"),
            gate="numeric",
            not_before="0123456789-",
            not_after="0123456789-",
        ),
    ),
    "phone": (
        _Detector(
            "phone",
            re.compile(
                r"\+\d{10,14}|(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]\d{3,4}"
            ),
            gate="numeric",
            not_before=".+-",
            not_after=".",
            word_boundary=True,
        ),
    ),
}
"""Built-in detectors, by label. Earlier ones win where two overlap."""

_WHOLE = [(0, sys.maxsize)]
_Hit = tuple[int, int, int, str]
"""(start, detector rank, end, label)."""
_Found = dict[str, None]
"""Labels found in the field being redacted (an ordered set)."""


def _luhn_ok(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


class Redactor:
    """Finds secrets and personal data in span text and masks, hashes or drops them.

    Args:
        detectors: built-in detector labels to use (see ``BUILTIN_DETECTORS``); default all.
        patterns: extra detectors, ``{label: regex}``; each runs on every string (no gate).
        functions: ``str -> str`` callables run on every string after the regexes (a changed string
            counts as a finding, labelled ``custom``); keep them cheap, they run on the hot path.
        policy: what to do with a finding by default.
        field_policies: per-field overrides; fields are ``request``, ``response``, ``error_message``,
            ``attributes`` and ``attributes.<key>`` (the more specific wins).
        salt: mixed into ``hash`` digests so they cannot be reversed by hashing guesses.
        skip_prefixes: strings starting with one of these are not scanned (inline images, by default).
    """

    def __init__(
        self,
        *,
        detectors: Iterable[str] | None = None,
        patterns: Mapping[str, str | re.Pattern[str]] | None = None,
        functions: Sequence[Callable[[str], str]] = (),
        policy: Policy = "mask",
        field_policies: Mapping[str, Policy] | None = None,
        salt: str = "",
        skip_prefixes: tuple[str, ...] = ("data:",),
    ) -> None:
        chosen = list(BUILTIN_DETECTORS) if detectors is None else list(detectors)
        unknown = [d for d in chosen if d not in BUILTIN_DETECTORS]
        if unknown:
            raise ConfigurationError(f"unknown detectors {unknown}; choose from {sorted(BUILTIN_DETECTORS)}")
        detectors_: list[_Detector] = [d for label in chosen for d in BUILTIN_DETECTORS[label]]
        user: list[re.Pattern[str]] = []
        for label, rx in (patterns or {}).items():
            try:
                compiled = rx if isinstance(rx, re.Pattern) else re.compile(rx)
            except re.error as e:
                raise ConfigurationError(f"redaction pattern {label!r} is not a valid regex: {e}") from e
            detectors_.append(_Detector(label, compiled))
            user.append(compiled)
        self._detectors = tuple(detectors_)
        self._gated_only = all(d.gate is not None for d in self._detectors)
        self._functions = tuple(functions)
        self._precheck = Precheck(builtin=frozenset(chosen), patterns=user, functions=bool(functions))
        for p in (policy, *(field_policies or {}).values()):
            if p not in ("mask", "hash", "drop"):
                raise ConfigurationError(f"redaction policy {p!r} is not one of mask, hash, drop")
        self._policy: Policy = policy
        self._field_policies = dict(field_policies or {})
        self._salt = salt.encode()
        self._skip = skip_prefixes

    def policy_for(self, field: str) -> Policy:
        """The policy that applies to ``field`` (``attributes.<key>`` falls back to ``attributes``)."""
        fp = self._field_policies
        if field in fp:
            return fp[field]
        head = field.partition(".")[0]
        return fp.get(head, self._policy)

    def may_find(self, json_utf8: bytes) -> bool:
        """Whether anything could be found in the values inside ``json_utf8`` (their JSON encoding,
        non-ASCII unescaped); ``False`` is exact (nothing to redact), ``True`` may be a false alarm."""
        return self._precheck.may_find(json_utf8)

    def redact_text(self, text: str, *, field: str = "request") -> str | None:
        """``text`` with findings replaced; ``None`` when the field's policy is ``drop`` and it had any."""
        found: _Found = {}
        out = self._scan(text, self.policy_for(field), found)
        return None if found and self.policy_for(field) == "drop" else out

    def redact_value(self, value: Any, *, field: str) -> tuple[Any, bool]:
        """Redact every string inside ``value`` (dicts, lists); returns ``(new_value, dropped)``.

        Containers are copied only where something changed, so the caller's objects are never mutated.
        """
        policy = self.policy_for(field)
        found: _Found = {}
        new = self._walk(value, policy, found)
        if found and policy == "drop":
            return None, True
        return new, False

    def apply(self, span: SpanRecord) -> None:
        """Redact ``span`` in place (its fields are replaced, never the objects they pointed to)."""
        if span.request is not None:
            span.request = self.redact_value(span.request, field="request")[0]
        if span.response is not None:
            span.response = self.redact_value(span.response, field="response")[0]
        if span.error_message is not None:
            span.error_message = self.redact_value(span.error_message, field="error_message")[0]
        if span.attributes:
            attrs: dict[str, Any] | None = None
            for key, value in span.attributes.items():
                new, dropped = self.redact_value(value, field=f"attributes.{key}")
                if dropped or new is not value:
                    if attrs is None:
                        attrs = dict(span.attributes)
                    if dropped:
                        del attrs[key]
                    else:
                        attrs[key] = new
            if attrs is not None:
                span.attributes = attrs

    def _walk(self, value: Any, policy: Policy, found: _Found) -> Any:
        if isinstance(value, str):
            return self._scan(value, policy, found)
        if isinstance(value, dict):
            out: dict[Any, Any] | None = None
            for k, v in value.items():
                nv = self._walk(v, policy, found)
                if nv is not v:
                    if out is None:
                        out = dict(value)
                    out[k] = nv
            return value if out is None else out
        if isinstance(value, list | tuple):
            items = [self._walk(v, policy, found) for v in value]
            return value if all(a is b for a, b in zip(items, value, strict=True)) else items
        return value

    def _scan(self, text: str, policy: Policy, found: _Found) -> str:
        if len(text) < 6 or text.startswith(self._skip):
            return text
        if self._gated_only and not ("@" in text or _secret_gate(text) or _NUMERIC.search(text)):
            return self._run_functions(text, found)  # the common case: nothing suspicious at all
        hits: list[_Hit] = []
        gates: dict[str, bool] = {}
        numeric: list[tuple[int, int]] | None = None
        for rank, det in enumerate(self._detectors):
            if det.gate == "numeric":
                if numeric is None:
                    numeric = [m.span() for m in _NUMERIC.finditer(text)]
                ranges = numeric
            elif det.gate is not None:
                open_ = gates.get(det.gate)
                if open_ is None:
                    open_ = gates[det.gate] = _GATES[det.gate](text)
                ranges = _WHOLE if open_ else []
            else:
                ranges = _WHOLE
            for start, end in ranges:
                for m in det.matches(text, start, end):
                    if det.label == "card" and not _luhn_ok(m.group()):
                        continue
                    hits.append((m.start(), rank, m.end(), det.label))
        out = self._rewrite(text, hits, policy, found) if hits else text
        return self._run_functions(out, found)

    def _run_functions(self, out: str, found: _Found) -> str:
        for fn in self._functions:
            new = fn(out)
            if new != out:
                found["custom"] = None
                out = new
        return out

    def _rewrite(self, text: str, hits: list[_Hit], policy: Policy, found: _Found) -> str:
        """Replace non-overlapping hits, leftmost first (the earlier detector on a tie)."""
        hits.sort()
        parts: list[str] = []
        pos = 0
        for start, _, end, label in hits:
            if start < pos:
                continue
            found[label] = None
            parts.append(text[pos:start])
            if policy == "hash":
                digest = hashlib.sha256(self._salt + text[start:end].encode()).hexdigest()[:8]
                parts.append(f"[{label}:sha256-{digest}]")
            else:
                parts.append(f"[REDACTED:{label}]")
            pos = end
        parts.append(text[pos:])
        return "".join(parts)

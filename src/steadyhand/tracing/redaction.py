"""Redaction of secrets and personal data, applied in ``record()`` before a span touches disk.

One combined compiled regex scans each string of a span's request, response, attributes and error
message; a string with no match costs one C-level ``search``. Card numbers are Luhn-checked, so a
16-digit order number that is not a valid card is left alone.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from ..errors import ConfigurationError
from .records import SpanRecord

__all__ = ["BUILTIN_DETECTORS", "Policy", "Redactor"]

Policy = Literal["mask", "hash", "drop"]
"""``mask``: ``[REDACTED:email]``; ``hash``: ``[email:sha256-1a2b3c4d]`` (stable, so equal values can
still be correlated); ``drop``: the whole field (or attribute) is removed when anything is found in it."""

BUILTIN_DETECTORS: dict[str, str] = {
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "secret": (
        r"\bsk-ant-[A-Za-z0-9_-]{16,}"
        r"|\bsk-(?:proj-|live-|test-)?[A-Za-z0-9_-]{20,}"
        r"|\bAKIA[0-9A-Z]{16}\b"
        r"|\bgh[pousr]_[A-Za-z0-9]{30,}"
        r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"
        r"|\bBearer\s+[A-Za-z0-9._~+/=-]{16,}"
        r"|(?i:\b(?:api[_-]?key|secret|token|password|passwd|access[_-]?key)\b[\"']?\s*[:=]\s*[\"']?)"
        r"[^\s\"',;&]{6,}"
    ),
    "card": r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])",
    "phone": (
        r"(?<![\w.+-])(?:\+\d{10,14}"
        r"|(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]\d{3,4})(?![\w.])"
    ),
}
"""Built-in detectors, by label. Order matters: earlier ones win where two match at one place."""

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
        patterns: extra detectors, ``{label: regex}``; they join the one combined regex.
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
        sources = [(label, BUILTIN_DETECTORS[label]) for label in chosen]
        for label, rx in (patterns or {}).items():
            source = rx.pattern if isinstance(rx, re.Pattern) else rx
            try:
                re.compile(source)
            except re.error as e:
                raise ConfigurationError(f"redaction pattern {label!r} is not a valid regex: {e}") from e
            sources.append((label, source))
        self._labels = [label for label, _ in sources]
        combined = "|".join(f"(?P<g{i}>{source})" for i, (_, source) in enumerate(sources))
        self._rx: re.Pattern[str] | None = re.compile(combined) if sources else None
        self._functions = tuple(functions)
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
        if text.startswith(self._skip):
            return text
        out = text
        rx = self._rx
        if rx is not None and rx.search(out) is not None:
            out = rx.sub(lambda m: self._replace(m, policy, found), out)
        for fn in self._functions:
            new = fn(out)
            if new != out:
                found["custom"] = None
                out = new
        return out

    def _replace(self, m: re.Match[str], policy: Policy, found: _Found) -> str:
        group = m.lastgroup or "g0"
        label = self._labels[int(group[1:])]
        text = m.group()
        if label == "card" and not _luhn_ok(text):
            return text
        found[label] = None
        if policy == "hash":
            digest = hashlib.sha256(self._salt + text.encode()).hexdigest()[:8]
            return f"[{label}:sha256-{digest}]"
        return f"[REDACTED:{label}]"

"""Redaction of secrets and personal data, applied in ``record()`` before a span touches disk.

Every stored text is scanned: the span's name, model fields, tags, attributes, request, response,
usage and error texts, dict keys included. Identifiers and numbers are not (a response ``id``, a
``created`` Unix time, token counts): card and phone numbers are not looked for under id and timestamp
keys, and numbers are never text. A value under a secret-looking key (``api_key``, ``password``,
``Authorization``...) is redacted whatever it looks like. Text is normalized first (zero-width
characters removed, look-alikes made ASCII: see ``_normalize``); detectors are in ``_detectors``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from ..errors import ConfigurationError
from ._detectors import BUILTIN_DETECTORS, ID, SECRET, Detector, Gates, key_kind
from ._normalize import normalize_with_map
from ._precheck import Precheck
from .records import SpanRecord

__all__ = ["BUILTIN_DETECTORS", "TEXT_FIELDS", "TREE_FIELDS", "Policy", "Redactor"]

Policy = Literal["mask", "hash", "drop"]
"""``mask``: ``[REDACTED:email]``; ``hash``: ``[email:sha256-1a2b3c4d]`` (stable, so equal values can
still be correlated); ``drop``: the whole field (or attribute, or tag) is removed when anything is found
in it (``name`` and ``project``, which a span must have, are masked instead)."""

TEXT_FIELDS = (
    "name", "project", "error_type", "error_message", "model_alias", "provider", "model", "response_model",
    "prompt_version", "finish_reason",
)  # fmt: skip
"""Span fields holding one string."""
TREE_FIELDS = ("request", "response", "usage_raw")
"""Span fields holding JSON values (``attributes`` and ``tags`` are redacted key by key)."""
_REQUIRED = frozenset({"name", "project"})
_Hit = tuple[int, int, int, str]
"""(start, detector rank, end, label)."""
_Found = dict[str, None]
"""Labels found in the field being redacted (an ordered set)."""


class Redactor:
    """Finds secrets and personal data in span text and masks, hashes or drops them.

    Args:
        detectors: built-in detector labels to use (see ``BUILTIN_DETECTORS``); default all.
        patterns: extra detectors, ``{label: regex}``; each runs on every string (no gate).
        functions: ``str -> str`` callables run on every string after the regexes (a changed string
            counts as a finding, labelled ``custom``); keep them cheap, they run on the hot path.
        policy: what to do with a finding by default.
        field_policies: per-field overrides; fields are the span's field names (``request``,
            ``response``, ``error_message``, ``name``...), plus ``attributes.<key>`` and ``tags.<key>``
            (the more specific wins).
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
        detectors_: list[Detector] = [d for label in chosen for d in BUILTIN_DETECTORS[label]]
        user: list[re.Pattern[str]] = []
        for label, rx in (patterns or {}).items():
            try:
                compiled = rx if isinstance(rx, re.Pattern) else re.compile(rx)
            except re.error as e:
                raise ConfigurationError(f"redaction pattern {label!r} is not a valid regex: {e}") from e
            detectors_.append(Detector(label, compiled))
            user.append(compiled)
        self._detectors = tuple(detectors_)
        self._keys = "secret" in chosen
        """Key-name rules belong to the ``secret`` detector."""
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
        out = self._scan(text, self.policy_for(field), found, True)
        return None if found and self.policy_for(field) == "drop" else out

    def redact_value(self, value: Any, *, field: str) -> tuple[Any, bool]:
        """Redact every string inside ``value`` (dicts, lists, keys too); returns ``(new_value, dropped)``.

        Containers are copied only where something changed, so the caller's objects are never mutated.
        """
        policy = self.policy_for(field)
        found: _Found = {}
        new = self._walk(value, policy, found, True)
        if found and policy == "drop":
            return None, True
        return new, False

    def apply(self, span: SpanRecord) -> None:
        """Redact ``span`` in place (its fields are replaced, never the objects they pointed to)."""
        for name in TEXT_FIELDS:
            value = getattr(span, name)
            if value is None:
                continue
            new, dropped = self.redact_value(value, field=name)
            if dropped and name in _REQUIRED:
                new = self._walk(value, "mask", {}, True)
            if new is not value:
                setattr(span, name, new)
        for name in TREE_FIELDS:
            value = getattr(span, name)
            if value is not None:
                new = self.redact_value(value, field=name)[0]
                if new is not value:
                    setattr(span, name, new)
        if span.attributes:
            span.attributes = self._keyed(span.attributes, "attributes")
        if span.tags:
            span.tags = self._keyed(span.tags, "tags")

    def _keyed(self, mapping: dict[str, Any], field: str) -> dict[str, Any]:
        """Attributes and tags, entry by entry: each has its own policy (``attributes.<key>``)."""
        out: dict[str, Any] | None = None
        for key, value in mapping.items():
            policy = self.policy_for(f"{field}.{key}")
            found: _Found = {}
            new_key, new = self._entry(key, value, policy, found)
            if found and policy == "drop":
                if out is None:
                    out = dict(mapping)
                del out[key]
            elif new_key is not key or new is not value:
                if out is None:
                    out = dict(mapping)
                if new_key is not key:
                    del out[key]
                    new_key = _unique(new_key, out)
                out[new_key] = new
        return mapping if out is None else out

    def _entry(self, key: Any, value: Any, policy: Policy, found: _Found) -> tuple[Any, Any]:
        """One dict entry: the key is scanned as text; its kind says how to treat the value."""
        if not isinstance(key, str):
            return key, self._walk(value, policy, found, True)
        kind = key_kind(key)
        if kind == SECRET and self._keys:
            new = self._secret_value(value, policy, found)
        else:
            new = self._walk(value, policy, found, kind != ID)
        return self._scan(key, policy, found, True), new

    def _secret_value(self, value: Any, policy: Policy, found: _Found) -> Any:
        if value is None or isinstance(value, bool) or value == "":
            return value
        found["secret"] = None
        if policy == "hash":
            text = value if isinstance(value, str) else repr(value)
            return f"[secret:sha256-{self._digest(text)}]"
        return "[REDACTED:secret]"

    def _walk(self, value: Any, policy: Policy, found: _Found, numeric: bool) -> Any:
        if isinstance(value, str):
            return self._scan(value, policy, found, numeric)
        if isinstance(value, dict):
            out: dict[Any, Any] | None = None
            for k, v in value.items():
                nk, nv = self._entry(k, v, policy, found)
                if nk is not k or nv is not v:
                    if out is None:
                        out = dict(value)
                    if nk is not k:
                        del out[k]
                        nk = _unique(nk, out)
                    out[nk] = nv
            return value if out is None else out
        if isinstance(value, list | tuple):
            items = [self._walk(v, policy, found, numeric) for v in value]
            return value if all(a is b for a, b in zip(items, value, strict=True)) else items
        return value

    def _scan(self, text: str, policy: Policy, found: _Found, numeric: bool) -> str:
        if len(text) < 5 or text.startswith(self._skip):
            return self._run_functions(text, found)
        norm, where = normalize_with_map(text)
        gates = Gates(norm)
        hits: list[_Hit] = []
        for rank, det in enumerate(self._detectors):
            if (det.numeric and not numeric) or (det.gate is not None and not gates.passes(det.gate)):
                continue
            for start, end in det.spans(norm):
                hits.append((start, rank, end, det.label))
        out = self._rewrite(text, norm, where, hits, policy, found) if hits else text
        return self._run_functions(out, found)

    def _run_functions(self, out: str, found: _Found) -> str:
        for fn in self._functions:
            new = fn(out)
            if new != out:
                found["custom"] = None
                out = new
        return out

    def _digest(self, text: str) -> str:
        return hashlib.sha256(self._salt + text.encode()).hexdigest()[:8]

    def _rewrite(
        self, text: str, norm: str, where: list[int] | None, hits: list[_Hit], policy: Policy, found: _Found
    ) -> str:
        """Replace hits; overlapping ones are merged (a phone inside a card must not leave the card's
        rest), labelled by the longest. ``where`` maps normalized positions back to ``text``."""
        hits.sort()
        merged: list[tuple[int, int, str]] = []
        for start, _, end, label in hits:
            if merged and start < merged[-1][1]:
                m_start, m_end, m_label = merged[-1]
                longest = label if end - start > m_end - m_start else m_label
                merged[-1] = (m_start, max(end, m_end), longest)
            else:
                merged.append((start, end, label))
        parts: list[str] = []
        pos = 0
        for start, end, label in merged:
            found[label] = None
            o_start, o_end = (start, end) if where is None else (where[start], where[end - 1] + 1)
            parts.append(text[pos:o_start])
            if policy == "hash":
                parts.append(f"[{label}:sha256-{self._digest(norm[start:end])}]")
            else:
                parts.append(f"[REDACTED:{label}]")
            pos = o_end
        parts.append(text[pos:])
        return "".join(parts)


def _unique(key: Any, taken: Mapping[Any, Any]) -> Any:
    """A rewritten key that does not overwrite another entry (``[REDACTED:email]#2``)."""
    if key not in taken:
        return key
    n = 2
    while f"{key}#{n}" in taken:
        n += 1
    return f"{key}#{n}"

"""Canonical forms: what a prompt's version hashes, and what its templates render from.

A version must change with every edit that changes behaviour and with no other. Comments and layout
are not behaviour, so templates are canonicalized *before* they are compiled: the model is sent the
canonical text, and two files with one version always send the same request. The rules:

- line endings become ``\\n``; a Jinja comment (``{# ... #}``) alone on its lines is removed with
  them, an inline one in place;
- in the text between tags, a run of spaces or tabs after a non-blank character becomes one space,
  and trailing blanks go; leading indentation stays (it can mean something: code, YAML, lists);
- runs of blank lines become one blank line; whitespace at the start and end of a message goes;
- inside ``{{ }}`` and ``{% %}`` tags whitespace outside string literals becomes one space.

TOML comments, key order, quoting style and table layout never reach here: the parsed data is hashed
as canonical JSON (sorted keys, no insignificant whitespace).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["VERSION_CHARS", "canonical_json", "canonical_template", "content_hash"]

VERSION_CHARS = 12
"""Hex digits of SHA-256 kept as the version: 48 bits, collision-free at any realistic number of edits."""

_COMMENT_LINES = re.compile(r"^[ \t]*\{#.*?#\}[ \t]*(?:\n|\Z)", re.S | re.M)
_COMMENT = re.compile(r"\{#.*?#\}", re.S)
_TAG = re.compile(r"(\{\{.*?\}\}|\{%.*?%\})", re.S)
_TAG_PARTS = re.compile(r"^(\{[{%]-?)(.*?)(-?[}%]\})$", re.S)
_TAG_SPACE = re.compile(r"(\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')|\s+", re.S)
_INNER_BLANKS = re.compile(r"(?<=\S)[ \t]+")
_TRAILING = re.compile(r"[ \t]+(?=\n|\Z)")
_BLANK_RUNS = re.compile(r"\n{3,}")
_HELD = re.compile(r"\x00(\d+)\x00")


def _tag(tag: str) -> str:
    match = _TAG_PARTS.match(tag)
    if match is None:  # pragma: no cover - _TAG only yields whole tags
        return tag
    opening, inner, closing = match.groups()
    inner = _TAG_SPACE.sub(lambda m: m.group(1) or " ", inner).strip()
    return f"{opening} {inner} {closing}"


def _text(text: str) -> str:
    return _TRAILING.sub("", _INNER_BLANKS.sub(" ", text))


def canonical_template(source: str) -> str:
    """The template as steadyhand hashes and renders it (see the module docstring for the rules)."""
    text = source.replace("\r\n", "\n").replace("\r", "\n")
    text = _COMMENT_LINES.sub("", text)
    text = _COMMENT.sub("", text)
    tags: list[str] = []

    def hold(match: re.Match[str]) -> str:  # tags become opaque non-blank tokens while text is spaced
        tags.append(_tag(match.group(0)))
        return f"\x00{len(tags) - 1}\x00"

    text = _text(_TAG.sub(hold, text.replace("\x00", "")))
    text = _BLANK_RUNS.sub("\n\n", text).strip()
    return _HELD.sub(lambda m: tags[int(m.group(1))], text)


def canonical_json(value: Any) -> str:
    """Sorted keys, no insignificant whitespace: equal data, equal text."""
    import json  # here, not at import: this module loads with ``import steadyhand``

    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def content_hash(value: Any) -> str:
    """The version: the first :data:`VERSION_CHARS` hex digits of SHA-256 over the canonical JSON."""
    import hashlib

    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()[:VERSION_CHARS]

"""A deterministic approximate tokenizer: one token per word or punctuation mark.

Usage numbers only need to be stable and plausible, and streamed pieces must join back to the exact
text, so the same regex drives both the count and the split.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"\w+|[^\w\s]")
_PIECE = re.compile(r"\s*(?:\w+|[^\w\s])")
_RUN_START = re.compile(r"(?<=\S)\s")
MESSAGE_OVERHEAD = 3  # per-message framing tokens, like the real chat formats
SLICE = 65_536
"""Long texts are scanned in slices of about this many characters: one regex call holds the GIL, and
a megabyte-long prompt would otherwise stall the simulator's other threads for a noticeable while."""


def _slices(text: str) -> list[str]:
    """``text`` cut just before whitespace runs (no token or piece spans such a cut)."""
    if len(text) <= SLICE:
        return [text]
    out, start = [], 0
    while len(text) - start > SLICE:
        cut = _RUN_START.search(text, start + SLICE)
        if cut is None:
            break
        out.append(text[start : cut.start()])
        start = cut.start()
    out.append(text[start:])
    return out


def count_tokens(text: str) -> int:
    """Number of tokens in ``text``."""
    return sum(len(_TOKEN.findall(part)) for part in _slices(text))


def split_pieces(text: str) -> list[str]:
    """Split ``text`` into one piece per token; ``"".join(pieces) == text`` always holds."""
    # Trailing whitespace is kept out of the regex: at each of its positions ``\s*`` would scan to the
    # end before failing, quadratic in its length (20,000 spaces took a minute).
    body = text.rstrip()
    pieces = [piece for part in _slices(body) for piece in _PIECE.findall(part)]
    rest = len(text) - sum(map(len, pieces))
    if rest:
        if pieces:
            pieces[-1] += text[-rest:]
        else:
            pieces = [text]
    return pieces


def content_text(content: Any) -> str:
    """Text of an OpenAI or Anthropic message ``content`` (a string or a list of content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append(text)
                elif part.get("type") == "tool_result":
                    parts.append(content_text(part.get("content")))
            elif isinstance(part, str):
                parts.append(part)
        return " ".join(parts)
    return ""


def count_messages(messages: list[Any], *, system: Any = None) -> int:
    """Prompt tokens of a message list (plus an optional Anthropic-style ``system``)."""
    total = count_tokens(content_text(system)) + (MESSAGE_OVERHEAD if system else 0)
    for message in messages:
        if isinstance(message, dict):
            total += MESSAGE_OVERHEAD + count_tokens(content_text(message.get("content")))
    return total

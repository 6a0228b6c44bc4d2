"""A deterministic approximate tokenizer: one token per word or punctuation mark.

Usage numbers only need to be stable and plausible, and streamed pieces must join back to the exact
text, so the same regex drives both the count and the split.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"\w+|[^\w\s]")
_PIECE = re.compile(r"\s*(?:\w+|[^\w\s])")
MESSAGE_OVERHEAD = 3  # per-message framing tokens, like the real chat formats


def count_tokens(text: str) -> int:
    """Number of tokens in ``text``."""
    return len(_TOKEN.findall(text))


def split_pieces(text: str) -> list[str]:
    """Split ``text`` into one piece per token; ``"".join(pieces) == text`` always holds."""
    pieces = _PIECE.findall(text)
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

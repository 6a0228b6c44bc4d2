"""Counting tokens locally when a provider sends no usage (llama.cpp streams never do).

The estimator is deliberately simple and documented rather than exact: about four characters per
token (the usual rule of thumb for English text with BPE tokenizers), rounded up, plus a fixed framing
cost per message. Usage built here carries ``estimated=True`` so it is never mistaken for the
provider's own count, and never silently zero.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..types import ModelRequest, Usage

__all__ = ["CHARS_PER_TOKEN", "MESSAGE_OVERHEAD", "estimate_tokens", "estimate_usage"]

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4
"""Tokens of chat framing per message (role markers, separators), as in ChatML-style templates."""


def estimate_tokens(text: str) -> int:
    """About one token per four characters, rounded up; 0 only for empty text."""
    return -(-len(text) // CHARS_PER_TOKEN)


def estimate_usage(request: ModelRequest, output: Iterable[str]) -> Usage:
    """Estimated usage of one call: the prompt's messages (and tool schemas) in, ``output`` out."""
    prompt = sum(MESSAGE_OVERHEAD + estimate_tokens(m.text) for m in request.messages)
    for tool in request.tools or ():
        prompt += estimate_tokens(f"{tool.name} {tool.description or ''} {tool.parameters}")
    return Usage(
        input_tokens=prompt,
        output_tokens=estimate_tokens("".join(output)),
        estimated=True,
    )

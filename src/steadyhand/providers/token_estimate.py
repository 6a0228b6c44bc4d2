"""Counting tokens locally when a provider sends no usage (llama.cpp streams never do).

The estimator is deliberately simple and documented rather than exact: about four characters per
token (the usual rule of thumb for English text with BPE tokenizers), rounded up, plus a fixed framing
cost per message. Usage built here carries ``estimated=True`` so it is never mistaken for the
provider's own count, and never silently zero.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..types import ModelRequest, Usage

__all__ = [
    "CHARS_PER_TOKEN",
    "MESSAGE_OVERHEAD",
    "estimate_output_tokens",
    "estimate_prompt_tokens",
    "estimate_tokens",
    "estimate_usage",
]

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4
"""Tokens of chat framing per message (role markers, separators), as in ChatML-style templates."""


def estimate_tokens(text: str) -> int:
    """About one token per four characters, rounded up; 0 only for empty text."""
    return -(-len(text) // CHARS_PER_TOKEN)


def estimate_output_tokens(request: ModelRequest, output: Iterable[str], *, merged: int = 0) -> int:
    """Output tokens of ``output`` (a stream's pieces, or one text per choice), within what was allowed.

    A streamed piece is at least one token (llama.cpp sends one piece per generated token), so the
    count is never below the number of non-empty pieces (``merged``: pieces a coalesced stream joined
    into others, each one more); and never above ``max_tokens`` per choice, since the server stops there.
    """
    pieces = [piece for piece in output if piece]
    count = max(estimate_tokens("".join(pieces)), len(pieces) + merged)
    if request.max_tokens is not None and request.max_tokens > 0:
        count = min(count, request.max_tokens * max(request.n or 1, 1))
    return count


def estimate_prompt_tokens(request: ModelRequest) -> int:
    """The prompt's messages and tool schemas, by the rule above, before any template overhead."""
    prompt = 0
    for message in request.messages:  # a loop, not sum(...): a rate-limited call runs this every time
        content = message.content  # plain text read directly: the ``text`` property is a call per message
        size = len(content) if type(content) is str else len(message.text)
        prompt += MESSAGE_OVERHEAD - (-size // CHARS_PER_TOKEN)
    for tool in request.tools or ():
        prompt += estimate_tokens(f"{tool.name} {tool.description or ''} {tool.parameters}")
    return prompt


def estimate_usage(
    request: ModelRequest, output: Iterable[str], *, prompt_overhead: int = 0, merged: int = 0
) -> Usage:
    """Estimated usage of one call: the prompt plus the template's ``prompt_overhead`` in, ``output`` out."""
    return Usage(
        input_tokens=estimate_prompt_tokens(request) + prompt_overhead,
        output_tokens=estimate_output_tokens(request, output, merged=merged),
        estimated=True,
    )

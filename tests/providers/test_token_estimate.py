"""Estimated usage (a stream without usage): bounded by max_tokens, at least one token per streamed piece."""

from __future__ import annotations

from steadyhand.providers.token_estimate import estimate_output_tokens, estimate_usage
from steadyhand.types import Message, ModelRequest


def _request(**options: object) -> ModelRequest:
    return ModelRequest.model_validate(
        {"model": "m", "messages": [Message(role="user", content="hi")], **options}
    )


def test_output_never_exceeds_max_tokens() -> None:
    long_pieces = ["a-rather-long-word-piece "] * 10  # 250 characters: 63 by the character rule
    assert estimate_output_tokens(_request(), long_pieces) == 63
    assert estimate_output_tokens(_request(max_tokens=10), long_pieces) == 10
    assert estimate_usage(_request(max_tokens=10), long_pieces).output_tokens == 10


def test_each_streamed_piece_counts_at_least_one_token() -> None:
    pieces = ["I", " am", " a", " bot", "."]  # llama.cpp streams one token per piece
    assert estimate_output_tokens(_request(), pieces) == 5  # the character rule alone says 3
    assert estimate_output_tokens(_request(), ["", "Hello there", ""]) == 3  # empty pieces are no tokens

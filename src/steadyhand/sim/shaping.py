"""Request options that reshape an already-built answer envelope: ``n`` choices and ``logprobs`` on
the OpenAI wire, stop sequences and content-filter refusals on Anthropic's.

They work on the finished JSON documents (whatever builds the envelope), so the envelope builders stay
single-choice and option-free. Log-probabilities are deterministic placeholders with the real shapes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .answers import Answer

MAX_N = 128
MAX_TOP_LOGPROBS = 20
MAX_COMPLETION_LOGPROBS = 5
_ALTERNATIVES = ("the", ",", ".", " and", " of")


@dataclass(frozen=True, slots=True)
class Shape:
    """The reshaping options of one OpenAI request."""

    n: int = 1
    logprobs: bool = False
    top_logprobs: int = 0


def chat_shape(body: dict[str, Any]) -> Shape:
    """``n``, ``logprobs`` and ``top_logprobs`` of a chat request (out-of-range values are ignored)."""
    n, top = body.get("n"), body.get("top_logprobs")
    return Shape(
        n=_int_in(n, 1, MAX_N) or 1,
        logprobs=body.get("logprobs") is True,
        top_logprobs=_int_in(top, 0, MAX_TOP_LOGPROBS) or 0,
    )


def completion_shape(body: dict[str, Any]) -> Shape:
    """``n`` and the integer ``logprobs`` of a legacy completions request."""
    top = _int_in(body.get("logprobs"), 0, MAX_COMPLETION_LOGPROBS)
    return Shape(n=_int_in(body.get("n"), 1, MAX_N) or 1, logprobs=top is not None, top_logprobs=top or 0)


def _int_in(value: Any, low: int, high: int) -> int | None:
    """``value`` when it is an integer (not a bool) from ``low`` to ``high``, else None."""
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    return None


def _logprob(position: int, rank: int = 0) -> float:
    return round(-0.01 * (position % 7 + 1) - 1.5 * rank, 6)


def token_logprobs(pieces: tuple[str, ...] | list[str], top: int, *, start: int = 0) -> list[dict[str, Any]]:
    """Chat ``logprobs.content`` entries, one per piece, each with ``top`` alternatives."""
    out = []
    for offset, piece in enumerate(pieces):
        i = start + offset
        alternatives = [piece, *(a for a in _ALTERNATIVES if a != piece)][:top]
        out.append(
            {
                "token": piece,
                "logprob": _logprob(i),
                "bytes": list(piece.encode()),
                "top_logprobs": [
                    {"token": a, "logprob": _logprob(i, rank), "bytes": list(a.encode())}
                    for rank, a in enumerate(alternatives)
                ],
            }
        )
    return out


def completion_logprobs(pieces: tuple[str, ...], top: int) -> dict[str, Any]:
    """Legacy completions ``logprobs``: tokens, their logprobs, top alternatives and text offsets."""
    offsets, at = [], 0
    for piece in pieces:
        offsets.append(at)
        at += len(piece)
    tops = [
        {a: _logprob(i, rank) for rank, a in enumerate([p, *(a for a in _ALTERNATIVES if a != p)][:top])}
        for i, p in enumerate(pieces)
    ]
    return {
        "tokens": list(pieces),
        "token_logprobs": [_logprob(i) for i in range(len(pieces))],
        "top_logprobs": tops,
        "text_offset": offsets,
    }


def _scale_usage(usage: Any, n: int) -> None:
    if isinstance(usage, dict) and n > 1:
        usage["completion_tokens"] *= n
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]


def _copies(choice: dict[str, Any], n: int) -> list[dict[str, Any]]:
    return [choice] + [{**copy.deepcopy(choice), "index": i} for i in range(1, n)]


def shape_chat(doc: dict[str, Any], answer: Answer, shape: Shape) -> dict[str, Any]:
    """A ``chat.completion`` with ``shape.n`` choices and, when asked, ``logprobs.content``."""
    choice = doc["choices"][0]
    if shape.logprobs and not answer.tool_calls:
        choice["logprobs"] = {"content": token_logprobs(answer.pieces, shape.top_logprobs), "refusal": None}
    doc["choices"] = _copies(choice, shape.n)
    _scale_usage(doc.get("usage"), shape.n)
    return doc


def shape_completion(doc: dict[str, Any], answer: Answer, shape: Shape) -> dict[str, Any]:
    """A ``text_completion`` with ``shape.n`` choices and, when asked, legacy ``logprobs``."""
    choice = doc["choices"][0]
    if shape.logprobs:
        choice["logprobs"] = completion_logprobs(answer.pieces, shape.top_logprobs)
    doc["choices"] = _copies(choice, shape.n)
    _scale_usage(doc.get("usage"), shape.n)
    return doc


def shape_chunks(chunks: list[dict[str, Any]], answer: Answer, shape: Shape, *, chat: bool) -> list[Any]:
    """Streamed chunks: each choice chunk repeated per index (as the real API interleaves them), content
    chunks carrying their token's logprobs; the usage chunk counts every choice."""
    if shape.n == 1 and not shape.logprobs:
        return chunks
    out: list[dict[str, Any]] = []
    position = 0
    for chunk in chunks:
        choices = chunk.get("choices")
        if not choices:
            _scale_usage(chunk.get("usage"), shape.n)
            out.append(chunk)
            continue
        choice = choices[0]
        text = choice.get("delta", {}).get("content") if chat else choice.get("text")
        if shape.logprobs and text:
            pieces = [text]
            if chat:
                choice["logprobs"] = {
                    "content": token_logprobs(pieces, shape.top_logprobs, start=position),
                    "refusal": None,
                }
            else:
                choice["logprobs"] = completion_logprobs(tuple(pieces), shape.top_logprobs)
            position += 1
        for index in range(shape.n):
            out.append({**chunk, "choices": [{**copy.deepcopy(choice), "index": index}]})
    return out


def anthropic_stop(answer: Answer) -> tuple[str, str | None] | None:
    """(stop_reason, stop_sequence) when it differs from the plain finish mapping, else None."""
    if answer.finish == "content_filter":
        return "refusal", None
    if answer.stop_sequence is not None:
        return "stop_sequence", answer.stop_sequence
    return None


def plain_answer_for_anthropic(answer: Answer) -> Answer:
    """``answer`` with a finish the Messages envelope knows (the real reason is patched in after)."""
    if answer.finish == "content_filter":
        return Answer(answer.text, answer.pieces, "stop", answer.prompt_tokens, answer.completion_tokens)
    return answer


def shape_message(doc: dict[str, Any], answer: Answer) -> dict[str, Any]:
    """A ``message`` whose ``stop_reason`` says ``stop_sequence`` or ``refusal`` when that ended it."""
    stop = anthropic_stop(answer)
    if stop is not None:
        doc["stop_reason"], doc["stop_sequence"] = stop
    return doc


def shape_events(events: list[tuple[str, dict[str, Any]]], answer: Answer) -> list[tuple[str, Any]]:
    """The streamed ``message_delta`` carries the same stop reason as :func:`shape_message`."""
    stop = anthropic_stop(answer)
    if stop is not None:
        for name, data in events:
            if name == "message_delta":
                data["delta"]["stop_reason"], data["delta"]["stop_sequence"] = stop
    return events

"""Helpers shared by the wire formats: fast JSON, and assembling streamed chunks into a response.

JSON goes through ``pydantic_core`` (Rust): on these machines it encodes a chat body ~6x and decodes
a response ~2.5x faster than the stdlib ``json`` module, and it is already a dependency.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pydantic_core

from ..types import Choice, Chunk, FinishReason, Message, ModelResponse, ToolCall, Usage

__all__ = ["as_int", "assemble", "json_bytes", "loads"]


def json_bytes(obj: Any) -> bytes:
    """Compact JSON bytes, non-ASCII kept as UTF-8; NaN and infinities as null (as orjson writes)."""
    return pydantic_core.to_json(obj, inf_nan_mode="null")


def loads(data: bytes | str) -> Any:
    """Parse JSON; raises ``ValueError`` on malformed input."""
    return pydantic_core.from_json(data)


def as_int(value: Any) -> int | None:
    """An integer count from a provider's usage field, or None when it is absent or not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


class _ChoiceState:
    __slots__ = ("finish", "raw_finish", "text", "tools")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.tools: dict[int, list[str | None]] = {}  # index -> [id, name, arguments]
        self.finish: FinishReason | None = None
        self.raw_finish: str | None = None


def assemble(
    chunks: Iterable[Chunk], *, provider: str, model: str, response_id: str | None = None
) -> ModelResponse:
    """The complete response that a stream of chunks adds up to.

    Per choice ``index``: texts are concatenated; tool-call fragments are joined by their ``index``
    (``id``/``name`` from the first fragment that has them, ``arguments`` concatenated); the last
    finish reason wins. ``usage`` on a chunk is cumulative, so the last one wins. ``id`` and ``model``
    come from the first chunk that names them, else ``response_id`` / ``model``. A choice with no
    finish reason (a stream that did not finish) gets ``"unknown"``.
    """
    choices: dict[int, _ChoiceState] = {}
    usage: Usage | None = None
    rid = response_id
    answered_by: str | None = None
    for chunk in chunks:
        state = choices.get(chunk.index)
        if state is None:
            state = choices[chunk.index] = _ChoiceState()
        if chunk.text:
            state.text.append(chunk.text)
        for delta in chunk.tool_calls or ():
            call = state.tools.setdefault(delta.index, [None, None, ""])
            if delta.id and not call[0]:
                call[0] = delta.id
            if delta.name and not call[1]:
                call[1] = delta.name
            call[2] = f"{call[2]}{delta.arguments}"
        if chunk.finish_reason is not None:
            state.finish = chunk.finish_reason
            state.raw_finish = chunk.raw_finish_reason
        if chunk.usage is not None:
            usage = chunk.usage
        if rid is None and chunk.id:
            rid = chunk.id
        if answered_by is None and chunk.model:
            answered_by = chunk.model
    if not choices:
        choices[0] = _ChoiceState()
    out = []
    for index in sorted(choices):
        state = choices[index]
        calls = [
            ToolCall(id=c[0] or f"call_{i}", name=c[1] or "", arguments=c[2] or "{}")
            for i, c in sorted(state.tools.items())
        ]
        text = "".join(state.text)
        message = Message(
            role="assistant", content=text if text or not calls else None, tool_calls=calls or None
        )
        out.append(
            Choice(
                index=index,
                message=message,
                finish_reason=state.finish or "unknown",
                raw_finish_reason=state.raw_finish,
            )
        )
    return ModelResponse(
        id=rid or "",
        model=answered_by or model,
        provider=provider,
        choices=out,
        usage=usage or Usage(),
    )

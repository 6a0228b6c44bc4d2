"""A simulated :class:`Answer` as the library's ``ModelResponse`` and ``Chunk`` stream.

The simulator wraps its answers with the same inbound codecs (``steadyhand.providers.inbound_*``)
the gateway uses, so each wire format exists once; this module is the only translation between the
simulator's answer and those codecs. Tool-call ids are the answer's key with the format's prefix
(``call_`` for OpenAI, ``toolu_`` for Anthropic).
"""

from __future__ import annotations

from typing import cast

from ..errors import InvalidRequest
from ..types import Choice, Chunk, FinishReason, Message, ModelResponse, ToolCall, ToolCallDelta, Usage
from .answers import Answer
from .faults import ErrorSpec
from .tokens import split_pieces

__all__ = ["chunks", "refused", "response", "usage"]


def usage(answer: Answer) -> Usage:
    """The answer's token counts (no cache in the simulator)."""
    return Usage(input_tokens=answer.prompt_tokens, output_tokens=answer.completion_tokens)


def _finish(answer: Answer) -> FinishReason:
    return cast(FinishReason, answer.finish)  # the simulator speaks OpenAI's words, all FinishReasons


def response(
    answer: Answer, *, rid: str, model: str, call_prefix: str, created: int | None = None
) -> ModelResponse:
    """The complete answer as one ``ModelResponse``."""
    calls = [ToolCall(id=call_prefix + c.key, name=c.name, arguments=c.arguments) for c in answer.tool_calls]
    message = Message(role="assistant", content=None if calls else answer.text, tool_calls=calls or None)
    return ModelResponse(
        id=rid,
        model=model,
        provider="sim",
        choices=[Choice(message=message, finish_reason=_finish(answer))],
        usage=usage(answer),
        created=created,
    )


def chunks(answer: Answer, *, call_prefix: str) -> list[Chunk]:
    """The answer as a stream: text pieces or tool-call fragments, the finish, then usage."""
    out: list[Chunk] = []
    if answer.tool_calls:
        for index, call in enumerate(answer.tool_calls):
            head = ToolCallDelta(index=index, id=call_prefix + call.key, name=call.name)
            out.append(Chunk(tool_calls=[head]))
            out += [
                Chunk(tool_calls=[ToolCallDelta(index=index, arguments=part)])
                for part in split_pieces(call.arguments)
            ]
    else:
        out += [Chunk(text=piece) for piece in answer.pieces]
    out.append(Chunk(finish_reason=_finish(answer)))
    out.append(Chunk(usage=usage(answer)))
    return out


def refused(error: InvalidRequest, *, anthropic: bool = False) -> ErrorSpec:
    """The error answer for a request the codec refused, in the provider's vocabulary."""
    kind = "request_too_large" if anthropic and error.status_code == 413 else "invalid_request_error"
    return ErrorSpec(error.status_code, kind, error.message, error.code, error.param)

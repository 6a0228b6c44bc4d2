"""Anthropic Messages wire format as pure builders: bodies, the SSE event sequence, errors, headers."""

from __future__ import annotations

import json
import math
import time
from typing import Any

from .answers import Answer
from .ratelimit import RateSnapshot
from .tokens import split_pieces

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
Headers = list[tuple[str, str]]


def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _content(answer: Answer) -> list[dict[str, Any]]:
    if answer.tool_calls:
        return [
            {"type": "tool_use", "id": f"toolu_{c.key}", "name": c.name, "input": json.loads(c.arguments)}
            for c in answer.tool_calls
        ]
    return [{"type": "text", "text": answer.text}]


def message_body(answer: Answer, *, rid: str, model: str) -> dict[str, Any]:
    """A ``message`` object."""
    return {
        "id": rid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": _content(answer),
        "stop_reason": STOP_REASONS[answer.finish],
        "stop_sequence": None,
        "usage": _usage(answer.prompt_tokens, answer.completion_tokens),
    }


def message_events(answer: Answer, *, rid: str, model: str) -> list[tuple[str, dict[str, Any]]]:
    """The streamed event sequence: start, ping, blocks with deltas, cumulative usage, stop."""
    start = {**message_body(answer, rid=rid, model=model), "content": [], "stop_reason": None}
    start["usage"] = _usage(answer.prompt_tokens, 1)
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start})
    ]
    events.append(("ping", {"type": "ping"}))
    blocks = _content(answer)
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            opening: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in answer.pieces]
        else:
            opening = {**block, "input": {}}
            deltas = [
                {"type": "input_json_delta", "partial_json": p}
                for p in split_pieces(answer.tool_calls[index].arguments)
            ]
        events.append(
            ("content_block_start", {"type": "content_block_start", "index": index, "content_block": opening})
        )
        events.extend(
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
            for d in deltas
        )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    delta = {"stop_reason": STOP_REASONS[answer.finish], "stop_sequence": None}
    events.append(
        (
            "message_delta",
            {"type": "message_delta", "delta": delta, "usage": {"output_tokens": answer.completion_tokens}},
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def error_body(
    message: str, *, type: str, request_id: str | None, error_code: str | None = None
) -> dict[str, Any]:
    """The Anthropic error envelope; ``error_code`` goes to ``error.details.error_code``."""
    error: dict[str, Any] = {"type": type, "message": message}
    if error_code is not None:
        error["details"] = {"error_code": error_code}
    doc: dict[str, Any] = {"type": "error", "error": error}
    if request_id is not None:
        doc["request_id"] = request_id
    return doc


def rfc3339(seconds_from_now: float) -> str:
    """A UTC timestamp ``seconds_from_now`` ahead, RFC 3339 with a ``Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + math.ceil(seconds_from_now)))


def headers(*, request_id: str, limits: RateSnapshot) -> Headers:
    """Response headers of every Anthropic answer, success or error."""
    out: Headers = [("request-id", request_id), ("anthropic-organization-id", "steadyhand-sim")]
    out += [
        ("anthropic-ratelimit-requests-limit", str(limits.limit_requests)),
        ("anthropic-ratelimit-requests-remaining", str(max(limits.remaining_requests, 0))),
        ("anthropic-ratelimit-requests-reset", rfc3339(limits.reset_requests)),
    ]
    for kind in ("tokens", "input-tokens", "output-tokens"):
        out += [
            (f"anthropic-ratelimit-{kind}-limit", str(limits.limit_tokens)),
            (f"anthropic-ratelimit-{kind}-remaining", str(max(limits.remaining_tokens, 0))),
            (f"anthropic-ratelimit-{kind}-reset", rfc3339(limits.reset_tokens)),
        ]
    return out


def retry_headers(retry_after: float | None) -> Headers:
    """Anthropic sends ``retry-after`` in whole seconds."""
    return [] if retry_after is None else [("retry-after", str(math.ceil(retry_after)))]

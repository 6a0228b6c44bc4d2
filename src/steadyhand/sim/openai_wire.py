"""OpenAI wire format as pure builders: bodies, stream chunks, embeddings, errors and headers."""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from typing import Any

from .answers import Answer
from .ratelimit import RateSnapshot, duration
from .tokens import split_pieces

FINGERPRINT = "fp_steadyhand"
Headers = list[tuple[str, str]]


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """Chat usage with the detail objects the real API sends."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _tool_calls(answer: Answer) -> list[dict[str, Any]]:
    return [
        {"id": f"call_{c.key}", "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in answer.tool_calls
    ]


def chat_body(answer: Answer, *, rid: str, created: int, model: str) -> dict[str, Any]:
    """A ``chat.completion`` object."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if answer.tool_calls else answer.text,
        "refusal": None,
        "annotations": [],
    }
    if answer.tool_calls:
        message["tool_calls"] = _tool_calls(answer)
    return {
        "id": rid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": answer.finish}],
        "usage": usage(answer.prompt_tokens, answer.completion_tokens),
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }


def chat_chunks(
    answer: Answer, *, rid: str, created: int, model: str, include_usage: bool
) -> list[dict[str, Any]]:
    """Every chunk of a streamed chat answer, in order (``[DONE]`` excluded)."""
    base = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model}
    base["system_fingerprint"] = FINGERPRINT

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        doc = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if include_usage:
            doc["usage"] = None
        return doc

    if answer.tool_calls:
        chunks = [chunk({"role": "assistant", "content": None, "refusal": None})]
        for index, call in enumerate(answer.tool_calls):
            head = {"index": index, "id": f"call_{call.key}", "type": "function"}
            chunks.append(chunk({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]}))
            for part in split_pieces(call.arguments):
                chunks.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]}))
    else:
        chunks = [chunk({"role": "assistant", "content": "", "refusal": None})]
        chunks.extend(chunk({"content": piece}) for piece in answer.pieces)
    chunks.append(chunk({}, answer.finish))
    if include_usage:
        chunks.append({**base, "choices": [], "usage": usage(answer.prompt_tokens, answer.completion_tokens)})
    return chunks


def _completion_usage(answer: Answer) -> dict[str, int]:
    total = answer.prompt_tokens + answer.completion_tokens
    return {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": total,
    }


def completion_body(answer: Answer, *, rid: str, created: int, model: str) -> dict[str, Any]:
    """A legacy ``text_completion`` object."""
    choice = {"text": answer.text, "index": 0, "logprobs": None, "finish_reason": answer.finish}
    return {
        "id": rid,
        "object": "text_completion",
        "created": created,
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [choice],
        "usage": _completion_usage(answer),
    }


def completion_chunks(
    answer: Answer, *, rid: str, created: int, model: str, include_usage: bool
) -> list[dict[str, Any]]:
    """Every chunk of a streamed legacy completion (``[DONE]`` excluded)."""
    base = {"id": rid, "object": "text_completion", "created": created, "model": model}
    base["system_fingerprint"] = FINGERPRINT

    def chunk(text: str, finish: str | None) -> dict[str, Any]:
        doc = {**base, "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}]}
        if include_usage:
            doc["usage"] = None
        return doc

    chunks = [chunk(piece, None) for piece in answer.pieces]
    chunks.append(chunk("", answer.finish))
    if include_usage:
        chunks.append({**base, "choices": [], "usage": _completion_usage(answer)})
    return chunks


def embedding_vector(text: str, *, model: str, dimensions: int) -> list[float]:
    """A deterministic unit vector seeded by a hash of model and text."""
    raw = hashlib.shake_256(f"{model}\x00{text}".encode()).digest(2 * dimensions)
    values = [v / 32768.0 - 1.0 for v in struct.unpack(f"<{dimensions}H", raw)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def embedding_body(
    vectors: list[list[float]], *, model: str, prompt_tokens: int, base64_encoded: bool
) -> dict[str, Any]:
    """A ``list`` of ``embedding`` objects; base64 packs little-endian float32 like the real API."""
    data = [
        {
            "object": "embedding",
            "index": i,
            "embedding": base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() if base64_encoded else v,
        }
        for i, v in enumerate(vectors)
    ]
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


def model_object(name: str, *, created: int) -> dict[str, Any]:
    """One ``model`` object."""
    return {"id": name, "object": "model", "created": created, "owned_by": "steadyhand-sim"}


def models_body(names: list[str], *, created: int) -> dict[str, Any]:
    """The ``/v1/models`` list."""
    return {"object": "list", "data": [model_object(n, created=created) for n in names]}


def error_body(
    message: str, *, type: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """The one OpenAI error envelope; all four keys are always present."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def headers(*, request_id: str, processing_ms: int, limits: RateSnapshot) -> Headers:
    """Response headers of every OpenAI answer, success or error."""
    return [
        ("x-request-id", request_id),
        ("openai-processing-ms", str(processing_ms)),
        ("openai-version", "2020-10-01"),
        ("openai-organization", "steadyhand-sim"),
        ("x-ratelimit-limit-requests", str(limits.limit_requests)),
        ("x-ratelimit-limit-tokens", str(limits.limit_tokens)),
        ("x-ratelimit-remaining-requests", str(max(limits.remaining_requests, 0))),
        ("x-ratelimit-remaining-tokens", str(max(limits.remaining_tokens, 0))),
        ("x-ratelimit-reset-requests", duration(limits.reset_requests)),
        ("x-ratelimit-reset-tokens", duration(limits.reset_tokens)),
    ]


def retry_headers(retry_after: float | None) -> Headers:
    """``retry-after`` (whole seconds, rounded up) and ``retry-after-ms``."""
    if retry_after is None:
        return []
    return [
        ("retry-after", str(math.ceil(retry_after))),
        ("retry-after-ms", str(math.ceil(retry_after * 1000))),
    ]

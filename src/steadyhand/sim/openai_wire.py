"""OpenAI wire format as pure builders: bodies, stream chunks, embeddings, errors and headers.

Chat and completion envelopes and the error body come from the inbound codec
(``steadyhand.providers.inbound_openai_encode``), the one copy of the format the gateway shares.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from typing import Any

from ..providers import inbound_openai_encode as codec
from ..types import Usage
from . import envelope
from .answers import Answer
from .ratelimit import RateSnapshot, duration

FINGERPRINT = "fp_steadyhand"
CALL_PREFIX = "call_"
Headers = list[tuple[str, str]]


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """Chat usage with the detail objects the real API sends."""
    return codec.chat_usage(Usage(input_tokens=prompt_tokens, output_tokens=completion_tokens))


def chat_body(answer: Answer, *, rid: str, created: int, model: str) -> dict[str, Any]:
    """A ``chat.completion`` object."""
    response = envelope.response(answer, rid=rid, model=model, call_prefix=CALL_PREFIX)
    return codec.chat_completion(response, created=created, system_fingerprint=FINGERPRINT)


def _stream(
    encoder: codec.ChatStreamEncoder | codec.CompletionStreamEncoder, answer: Answer
) -> list[dict[str, Any]]:
    docs = [doc for chunk in envelope.chunks(answer, call_prefix=CALL_PREFIX) for doc in encoder.feed(chunk)]
    return docs + encoder.close()


def chat_chunks(
    answer: Answer, *, rid: str, created: int, model: str, include_usage: bool
) -> list[dict[str, Any]]:
    """Every chunk of a streamed chat answer, in order (``[DONE]`` excluded)."""
    encoder = codec.ChatStreamEncoder(
        id=rid, model=model, created=created, include_usage=include_usage, system_fingerprint=FINGERPRINT
    )
    return _stream(encoder, answer)


def completion_body(answer: Answer, *, rid: str, created: int, model: str) -> dict[str, Any]:
    """A legacy ``text_completion`` object."""
    response = envelope.response(answer, rid=rid, model=model, call_prefix=CALL_PREFIX)
    return codec.completion(response, created=created, system_fingerprint=FINGERPRINT)


def completion_chunks(
    answer: Answer, *, rid: str, created: int, model: str, include_usage: bool
) -> list[dict[str, Any]]:
    """Every chunk of a streamed legacy completion (``[DONE]`` excluded)."""
    encoder = codec.CompletionStreamEncoder(
        id=rid, model=model, created=created, include_usage=include_usage, system_fingerprint=FINGERPRINT
    )
    return _stream(encoder, answer)


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


error_body = codec.error_body


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

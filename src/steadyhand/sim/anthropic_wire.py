"""Anthropic Messages wire format as pure builders: bodies, the SSE event sequence, errors, headers.

The message body, its event sequence and the error body come from the inbound codec
(``steadyhand.providers.inbound_anthropic_encode``), the one copy of the format the gateway shares.
"""

from __future__ import annotations

import math
import time
from typing import Any

from ..providers import inbound_anthropic_encode as codec
from . import envelope
from .answers import Answer
from .ratelimit import RateSnapshot

CALL_PREFIX = "toolu_"
Headers = list[tuple[str, str]]


def message_body(answer: Answer, *, rid: str, model: str) -> dict[str, Any]:
    """A ``message`` object."""
    return codec.message(envelope.response(answer, rid=rid, model=model, call_prefix=CALL_PREFIX))


def message_events(answer: Answer, *, rid: str, model: str) -> list[tuple[str, dict[str, Any]]]:
    """The streamed event sequence: start, ping, blocks with deltas, cumulative usage, stop."""
    encoder = codec.MessageStreamEncoder(id=rid, model=model, usage=envelope.usage(answer))
    events = encoder.start()
    for chunk in envelope.chunks(answer, call_prefix=CALL_PREFIX):
        events += encoder.feed(chunk)
    return events + encoder.close()


error_body = codec.error_body


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

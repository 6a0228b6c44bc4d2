"""Upstream faults through the gateway, in each inbound protocol, streamed and not.

Before the first byte the policies fail over transparently (the route header shows the attempts);
an upstream that cannot answer gets a clean error in the caller's protocol; a stream that breaks
after its first byte ends with the protocol's error event, never a clean end.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
import pytest

from steadyhand.server import GatewayServer

USER: list[Any] = [{"role": "user", "content": "Say hello."}]


@pytest.mark.parametrize("model", ["flaky", "flaky-msg"])
def test_failover_before_the_first_byte_is_transparent(
    gateway: GatewayServer, oai: openai.OpenAI, ant: anthropic.Anthropic, model: str
) -> None:
    raw = oai.chat.completions.with_raw_response.create(model=model, messages=USER)
    assert "steadyhand simulator" in (raw.parse().choices[0].message.content or "")
    assert raw.headers["x-steadyhand-route"] == "sim:sim-basic; attempts=2"
    body = {"model": model, "max_tokens": 32, "messages": USER, "stream": True}
    with httpx.stream("POST", gateway.base_url + "/v1/messages", json=body) as r:
        assert r.status_code == 200 and r.headers["x-steadyhand-route"] == "sim:sim-basic; attempts=2"
        events = [line[7:] for line in r.iter_lines() if line.startswith("event: ")]
    assert events[-1] == "message_stop"
    with ant.messages.stream(model=model, max_tokens=32, messages=USER) as s:
        assert "steadyhand simulator" in s.get_final_text()


@pytest.mark.parametrize(
    ("model", "status", "openai_error", "anthropic_type"),
    [
        ("down", 503, openai.InternalServerError, "overloaded_error"),
        ("limited", 429, openai.RateLimitError, "rate_limit_error"),
        ("hang", 504, openai.InternalServerError, "timeout_error"),
    ],
)
def test_upstream_failures_are_clean_errors_in_each_protocol(
    gateway: GatewayServer,
    oai: openai.OpenAI,
    model: str,
    status: int,
    openai_error: type[Exception],
    anthropic_type: str,
) -> None:
    for stream in (False, True):
        with pytest.raises(openai_error) as caught:
            out = oai.chat.completions.create(model=model, messages=USER, stream=stream)
            list(out) if stream else None
        assert caught.value.status_code == status  # type: ignore[attr-defined]
        body = {"model": model, "max_tokens": 32, "messages": USER, "stream": stream}
        r = httpx.post(gateway.base_url + "/v1/messages", json=body, timeout=10)
        assert r.status_code == status and r.json()["type"] == "error"
        assert r.json()["error"]["type"] == anthropic_type
        assert r.headers["content-type"] == "application/json" and r.headers["x-steadyhand-trace-id"]
    if status == 429:
        assert int(r.headers["retry-after"]) >= 1


@pytest.mark.parametrize("model", ["cut", "stall"])
def test_openai_stream_broken_after_content_ends_with_an_error_event(
    gateway: GatewayServer, oai: openai.OpenAI, model: str
) -> None:
    body = {"model": model, "messages": USER, "stream": True}
    with httpx.stream("POST", gateway.base_url + "/v1/chat/completions", json=body, timeout=10) as r:
        assert r.status_code == 200
        lines = [line for line in r.iter_lines() if line]
    assert "data: [DONE]" not in lines
    last = json.loads(lines[-1].removeprefix("data: "))
    assert set(last["error"]) == {"message", "type", "param", "code"}
    finishes = [
        c["choices"][0]["finish_reason"] for c in (json.loads(s[6:]) for s in lines[:-1]) if c["choices"]
    ]
    assert all(f is None for f in finishes), "a broken stream must never carry a finish_reason"
    with pytest.raises(openai.APIError):
        list(oai.chat.completions.create(model=model, messages=USER, stream=True))


@pytest.mark.parametrize("model", ["cut-msg", "cut"])
def test_anthropic_stream_broken_after_content_ends_with_event_error(
    gateway: GatewayServer, ant: anthropic.Anthropic, model: str
) -> None:
    body = {"model": model, "max_tokens": 64, "messages": USER, "stream": True}
    with httpx.stream("POST", gateway.base_url + "/v1/messages", json=body, timeout=10) as r:
        lines = [line for line in r.iter_lines() if line]
    events = [line[7:] for line in lines if line.startswith("event: ")]
    assert events[-1] == "error" and "message_stop" not in events and "message_delta" not in events
    assert json.loads(lines[-1].removeprefix("data: "))["type"] == "error"
    with (
        pytest.raises(anthropic.APIError),
        ant.messages.stream(model=model, max_tokens=64, messages=USER) as s,
    ):
        s.get_final_message()

"""``/v1/messages`` over real HTTP with the official ``anthropic`` SDK: bodies, SSE event order, errors."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import pytest

from steadyhand.sim import SimServer

MSGS: list[Any] = [{"role": "user", "content": "Say hello to the simulator."}]


def _events(base: str, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out, name = [], ""
    with httpx.stream(
        "POST", f"{base}/v1/messages", json=body, headers={"anthropic-version": "2023-06-01"}
    ) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                out.append((name, json.loads(line[6:])))
    return out


def test_event_sequence_and_usage_semantics(sim: SimServer) -> None:
    body = {"model": "claude-3-5-sonnet-20241022", "max_tokens": 64, "messages": MSGS, "stream": True}
    events = _events(sim.base_url, body)
    names = [n for n, _ in events]
    assert names[:4] == ["message_start", "ping", "content_block_start", "content_block_delta"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert all(n == d["type"] for n, d in events)
    plain = httpx.post(f"{sim.base_url}/v1/messages", json={**body, "stream": False}).json()
    start = events[0][1]["message"]["usage"]
    assert start["input_tokens"] == plain["usage"]["input_tokens"] and start["output_tokens"] == 1
    assert events[-2][1]["usage"]["output_tokens"] == plain["usage"]["output_tokens"]
    text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
    assert text == plain["content"][0]["text"] and plain["stop_reason"] == "end_turn"


def test_sdk_messages_stream_and_tools(sim: SimServer) -> None:
    with anthropic.Anthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0) as client:
        m = client.messages.create(
            model="sim-echo", max_tokens=64, messages=[{"role": "user", "content": "hi there"}]
        )
        assert m.content[0].text == "hi there"  # type: ignore[union-attr]
        with client.messages.stream(model="sim-basic", max_tokens=64, messages=MSGS) as stream:
            final = stream.get_final_message()
        assert final.usage.output_tokens > 1 and final.stop_reason == "end_turn"
        tool = {"name": "lookup", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}
        m = client.messages.create(model="sim-tool-call", max_tokens=64, messages=MSGS, tools=[tool])  # type: ignore[list-item]
        assert m.stop_reason == "tool_use" and m.content[0].type == "tool_use"
        assert m.content[0].name == "lookup" and m.content[0].input == {"q": "example"}
        with client.messages.stream(model="sim-tool-call", max_tokens=64, messages=MSGS, tools=[tool]) as s:  # type: ignore[list-item]
            streamed = s.get_final_message()
        assert streamed.content[0].input == {"q": "example"}  # type: ignore[union-attr]


def test_max_tokens_truncates_with_max_tokens_stop_reason(sim: SimServer) -> None:
    with anthropic.Anthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0) as client:
        m = client.messages.create(model="sim-basic", max_tokens=3, messages=MSGS)
    assert m.stop_reason == "max_tokens" and m.usage.output_tokens == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"{oops", "not valid JSON"), (b'{"model": "m", "messages": []}', "max_tokens: Field required")],
)
def test_bad_requests_in_anthropic_shape(sim: SimServer, content: bytes, message: str) -> None:
    r = httpx.post(
        f"{sim.base_url}/v1/messages", content=content, headers={"anthropic-version": "2023-06-01"}
    )
    assert r.status_code == 400 and r.headers["request-id"].startswith("req_")
    doc = r.json()
    assert doc["type"] == "error" and doc["error"]["type"] == "invalid_request_error"
    assert message in doc["error"]["message"] and doc["request_id"] == r.headers["request-id"]


def test_anthropic_headers(sim: SimServer) -> None:
    r = httpx.post(f"{sim.base_url}/v1/messages", json={"model": "m", "max_tokens": 5, "messages": MSGS})
    assert r.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
    assert int(r.headers["anthropic-ratelimit-tokens-remaining"]) > 0

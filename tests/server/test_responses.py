"""``POST /v1/responses`` through the gateway with the official SDK, served by every upstream format
(chat, Anthropic messages, the Responses API itself); a stream broken after its first byte ends
with ``response.failed``, never ``response.completed``."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest

import _contract
from steadyhand.server import GatewayServer


@pytest.mark.parametrize("model", ["echo", "claude-echo", "resp-echo"])
def test_responses_sdk_plain_and_streamed(gateway: GatewayServer, oai: openai.OpenAI, model: str) -> None:
    out = oai.responses.create(model=model, input="ping responses")
    assert out.output_text == "ping responses" and out.status == "completed"
    assert out.usage is not None and out.usage.output_tokens > 0
    with oai.responses.stream(model=model, input="streamed responses") as stream:
        final = stream.get_final_response()
    assert final.output_text == "streamed responses" and final.status == "completed"


def test_responses_events_validate_against_the_contract(gateway: GatewayServer) -> None:
    body = {"model": "claude-echo", "input": "hello", "stream": True}
    with httpx.stream("POST", gateway.base_url + "/v1/responses", json=body, timeout=10) as r:
        assert r.status_code == 200 and r.headers["x-steadyhand-route"] == "sim:sim-echo; attempts=1"
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    assert events[0]["type"] == "response.created" and events[-1]["type"] == "response.completed"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    for event in events:
        _contract.validate("ResponseStreamEvent", event)
    plain = httpx.post(gateway.base_url + "/v1/responses", json={"model": "fast", "input": "x"}, timeout=10)
    _contract.validate("Response", plain.json())


@pytest.mark.parametrize("model", ["cut", "stall"])
def test_a_broken_responses_stream_ends_with_response_failed(gateway: GatewayServer, model: str) -> None:
    body = {"model": model, "input": "hello", "stream": True}
    with httpx.stream("POST", gateway.base_url + "/v1/responses", json=body, timeout=10) as r:
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "response.failed" and "response.completed" not in kinds
    assert any(k == "response.output_text.delta" for k in kinds)  # it broke after content


def test_responses_bad_input_and_async_sdk(gateway: GatewayServer) -> None:
    r = httpx.post(gateway.base_url + "/v1/responses", json={"model": "fast", "input": 5}, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["param"] == "input"

    async def run() -> str:
        async with openai.AsyncOpenAI(
            base_url=gateway.base_url + "/v1", api_key="x", max_retries=0
        ) as client:
            out = await client.responses.create(model="flaky", input="hi")
            return out.output_text

    assert "steadyhand simulator" in asyncio.run(run())

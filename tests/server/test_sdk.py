"""The official SDKs, sync and async, streamed and not, as clients of the gateway (the simulator upstream).

Every inbound API is served by every upstream format: an Anthropic-SDK request routed to an
OpenAI-format model and back, an OpenAI-SDK request to an Anthropic-format one, tools included.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anthropic
import httpx
import openai
import pytest

from steadyhand.server import GatewayServer

USER: list[Any] = [{"role": "user", "content": "Say hello."}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
WEATHER_ANTHROPIC: Any = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": WEATHER["function"]["parameters"],  # type: ignore[index]
}


@pytest.mark.parametrize("model", ["fast", "claude"])
def test_openai_sdk_chat_and_headers(gateway: GatewayServer, oai: openai.OpenAI, model: str) -> None:
    raw = oai.chat.completions.with_raw_response.create(model=model, messages=USER)
    out = raw.parse()
    assert "steadyhand simulator" in (out.choices[0].message.content or "")
    assert out.choices[0].finish_reason == "stop"
    assert out.usage is not None and out.usage.completion_tokens > 0
    assert raw.headers["x-steadyhand-route"] == "sim:sim-basic; attempts=1"
    assert float(raw.headers["x-steadyhand-overhead-ms"]) >= 0
    assert len(raw.headers["x-steadyhand-trace-id"]) == 32


@pytest.mark.parametrize("model", ["fast", "claude"])
def test_openai_sdk_stream_with_usage(gateway: GatewayServer, oai: openai.OpenAI, model: str) -> None:
    chunks = list(
        oai.chat.completions.create(
            model=model, messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "steadyhand simulator" in text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert (
        chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    )


def test_openai_sdk_completions_embeddings_models(gateway: GatewayServer, oai: openai.OpenAI) -> None:
    client = oai
    done = client.completions.create(model="fast", prompt="Say hello.")
    assert "steadyhand simulator" in done.choices[0].text
    streamed = "".join(
        c.choices[0].text
        for c in client.completions.create(model="echo", prompt="ping", stream=True)
        if c.choices
    )
    assert streamed == "ping"
    vectors = client.embeddings.create(model="fast", input=["a", "b"])
    assert len(vectors.data) == 2 and len(vectors.data[0].embedding) > 0
    names = {m.id for m in client.models.list()}
    assert {"fast", "claude", "flaky"} <= names


@pytest.mark.parametrize("model", ["claude-echo", "echo"])
def test_anthropic_sdk_messages_both_upstream_formats(
    gateway: GatewayServer, ant: anthropic.Anthropic, model: str
) -> None:
    client = ant
    message = client.messages.create(
        model=model, max_tokens=64, system="Be brief.", messages=[{"role": "user", "content": "ping"}]
    )
    assert message.content[0].type == "text" and message.content[0].text == "ping"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    with client.messages.stream(
        model=model, max_tokens=64, messages=[{"role": "user", "content": "pong"}]
    ) as s:
        final = s.get_final_message()
        text = "".join(block.text for block in final.content if block.type == "text")
    assert text == "pong" and final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0 and final.usage.input_tokens > 0


@pytest.mark.parametrize("model", ["tools", "claude-tools"])
def test_anthropic_sdk_tools_round_trip(gateway: GatewayServer, ant: anthropic.Anthropic, model: str) -> None:
    """Tool definitions, a tool_use answer (streamed arguments too) and the tool_result turn, translated."""
    client = ant
    ask: Any = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.messages.create(model=model, max_tokens=200, tools=[WEATHER_ANTHROPIC], messages=ask)
    assert first.stop_reason == "tool_use"
    use = next(b for b in first.content if b.type == "tool_use")
    assert use.name == "get_weather" and isinstance(use.input, dict) and "city" in use.input
    with client.messages.stream(model=model, max_tokens=200, tools=[WEATHER_ANTHROPIC], messages=ask) as s:
        streamed = s.get_final_message()
    streamed_use = next(b for b in streamed.content if b.type == "tool_use")
    assert streamed.stop_reason == "tool_use" and streamed_use.input == use.input
    turn: Any = [
        *ask,
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": use.id, "name": use.name, "input": use.input}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}]},
    ]
    final = client.messages.create(model=model, max_tokens=200, tools=[WEATHER_ANTHROPIC], messages=turn)
    assert final.stop_reason == "end_turn"
    assert "sunny" in final.content[0].text  # type: ignore[union-attr]


@pytest.mark.parametrize("model", ["tools", "claude-tools"])
def test_openai_sdk_tools_round_trip_streamed_arguments(
    gateway: GatewayServer, oai: openai.OpenAI, model: str
) -> None:
    client = oai
    ask: Any = [{"role": "user", "content": "Weather in Paris?"}]
    out = client.chat.completions.create(model=model, messages=ask, tools=[WEATHER])  # type: ignore[list-item]
    call = out.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert out.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"  # type: ignore[union-attr]
    args = ""
    finish = None
    stream: Any = client.chat.completions.create(model=model, messages=ask, tools=[WEATHER], stream=True)  # type: ignore[list-item]
    for chunk in stream:
        for delta in chunk.choices[0].delta.tool_calls or []:
            args += delta.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert json.loads(args) == json.loads(call.function.arguments) and finish == "tool_calls"  # type: ignore[union-attr]
    turn: Any = [
        *ask,
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    final = client.chat.completions.create(model=model, messages=turn, tools=[WEATHER])  # type: ignore[list-item]
    assert "sunny" in (final.choices[0].message.content or "")


def test_async_sdks_concurrently(gateway: GatewayServer) -> None:
    async def run() -> None:
        oc = openai.AsyncOpenAI(base_url=gateway.base_url + "/v1", api_key="unused", max_retries=0)
        ac = anthropic.AsyncAnthropic(base_url=gateway.base_url, api_key="unused", max_retries=0)

        async def chat(i: int) -> str:
            out = await oc.chat.completions.create(
                model="echo", messages=[{"role": "user", "content": f"o{i}"}]
            )
            return out.choices[0].message.content or ""

        async def chat_stream(i: int) -> str:
            stream = await oc.chat.completions.create(
                model="claude-echo", messages=[{"role": "user", "content": f"s{i}"}], stream=True
            )
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

        async def message(i: int) -> str:
            out = await ac.messages.create(
                model="echo", max_tokens=32, messages=[{"role": "user", "content": f"a{i}"}]
            )
            return out.content[0].text  # type: ignore[union-attr]

        async def message_stream(i: int) -> str:
            async with ac.messages.stream(
                model="claude-echo", max_tokens=32, messages=[{"role": "user", "content": f"t{i}"}]
            ) as s:
                return "".join([t async for t in s.text_stream])

        work = [f(i) for i in range(8) for f in (chat, chat_stream, message, message_stream)]
        got = await asyncio.gather(*work)
        assert got == [f"{p}{i}" for i in range(8) for p in "osat"]
        await oc.close()
        await ac.close()

    asyncio.run(run())


def test_raw_stream_framing(gateway: GatewayServer) -> None:
    """The bytes themselves: SSE content type, OpenAI's [DONE] last, Anthropic's full event order."""
    body = {"model": "fast", "messages": USER, "stream": True}
    with httpx.stream("POST", gateway.base_url + "/v1/chat/completions", json=body) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["x-steadyhand-route"] == "sim:sim-basic; attempts=1"
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]" and all(line.startswith("data: ") for line in lines)
    body = {"model": "fast", "max_tokens": 32, "messages": USER, "stream": True}
    with httpx.stream("POST", gateway.base_url + "/v1/messages", json=body) as r:
        events = [line[7:] for line in r.iter_lines() if line.startswith("event: ")]
    assert events[:2] == ["message_start", "ping"] and events[-2:] == ["message_delta", "message_stop"]
    assert "content_block_start" in events and "error" not in events

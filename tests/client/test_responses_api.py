"""steadyhand's Client with ``api = "responses"`` against the simulator: the whole chat surface (system
text, tools and tool results, JSON schemas, token limits, usage) through OpenAI's Responses API."""

from __future__ import annotations

import json

from steadyhand import AsyncClient, Client, Config, Message, ToolCall
from steadyhand._config import ModelAlias
from steadyhand.sim import SimServer

from .conftest import sim_config

TOOLS = [
    {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
]


def _config(sim: SimServer) -> Config:
    config = sim_config(sim.base_url)
    for model in ("sim-echo", "sim-tool-call", "gpt-4o"):
        config.models[model] = ModelAlias(target=f"sim:{model}", api="responses")
    return config


def test_a_tool_loop_json_and_limits(sim: SimServer) -> None:
    with Client(_config(sim)) as client:
        echo = client.chat([{"role": "system", "content": "Echo."}, {"role": "user", "content": "ping"}],
                           model="sim-echo")  # fmt: skip
        assert echo.text == "ping" and echo.finish_reason == "stop" and not echo.usage.estimated
        assert echo.id.startswith("resp_") and echo.usage.cached_input_tokens == 0

        first = client.chat("Weather in Paris?", model="sim-tool-call", tools=TOOLS)
        assert first.finish_reason == "tool_calls"
        call = (first.message.tool_calls or [])[0]
        assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "example"}
        history = [
            Message(role="user", content="Weather in Paris?"),
            Message(
                role="assistant", tool_calls=[ToolCall(id=call.id, name=call.name, arguments=call.arguments)]
            ),
            Message(role="tool", tool_call_id=call.id, content="18C"),
        ]
        second = client.chat(history, model="sim-tool-call", tools=TOOLS)
        assert second.text == "The tool returned: 18C" and second.finish_reason == "stop"

        schema = {"type": "object", "properties": {"days": {"type": "integer"}}, "required": ["days"]}
        trip = {"type": "json_schema", "json_schema": schema, "name": "trip"}
        planned = client.chat("Plan a trip.", model="gpt-4o", response_format=trip)
        assert json.loads(planned.text) == {"days": 0}

        cut = client.chat(" ".join(["word"] * 40), model="sim-echo", max_tokens=16)
        assert cut.truncated and cut.usage.output_tokens == 16


async def test_async_stream_matches_the_plain_answer(sim: SimServer) -> None:
    async with AsyncClient(_config(sim)) as client:
        plain = await client.chat("Tell me about tea", model="sim-echo")
        async with client.stream("Tell me about tea", model="sim-echo") as stream:
            pieces = [text async for text in stream.text_stream()]
        streamed = stream.response
    assert "".join(pieces) == plain.text == "Tell me about tea" and len(pieces) > 1
    assert streamed.usage.output_tokens == plain.usage.output_tokens and not streamed.usage.estimated

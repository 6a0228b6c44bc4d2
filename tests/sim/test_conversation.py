"""Answers and rules that read the whole conversation: an agent loop on ``sim-tool-call`` ends once
the tool's result is in, rules match on the last role and tool results (alike on both wires), and
``json_object`` requests get the shape their prompt describes."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai

from steadyhand.sim import Match, Respond, Rule, Scenario, SimServer
from steadyhand.sim.answers import DEFAULT_JSON
from steadyhand.sim.prompt_json import shape_in

TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
ANT_TOOLS: Any = [{"name": "get_weather", "input_schema": TOOLS[0]["function"]["parameters"]}]


def _oai(sim: SimServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{sim.base_url}/v1", api_key="sk-test", max_retries=0, timeout=10)


def _ant(sim: SimServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0, timeout=10)


def test_openai_agent_loop_on_sim_tool_call_ends(sim: SimServer) -> None:
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    with _oai(sim) as client:
        for _ in range(5):
            out = client.chat.completions.create(model="sim-tool-call", messages=messages, tools=TOOLS)
            choice = out.choices[0]
            if choice.finish_reason != "tool_calls":
                break
            calls = choice.message.tool_calls or []
            messages.append(choice.message.model_dump(exclude_none=True))
            messages += [{"role": "tool", "tool_call_id": c.id, "content": "18 C and sunny"} for c in calls]
        # a new question starts a new turn: the tool is called again
        messages.append({"role": "user", "content": "And tomorrow?"})
        again = client.chat.completions.create(model="sim-tool-call", messages=messages, tools=TOOLS)
    assert choice.finish_reason == "stop" and choice.message.content == "The tool returned: 18 C and sunny"
    assert len(messages) == 4 and again.choices[0].finish_reason == "tool_calls"


def test_anthropic_agent_loop_on_sim_tool_call_ends(sim: SimServer) -> None:
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    with _ant(sim) as client:
        first = client.messages.create(
            model="sim-tool-call", max_tokens=64, messages=messages, tools=ANT_TOOLS
        )
        assert first.stop_reason == "tool_use"
        use = first.content[0]
        messages.append({"role": "assistant", "content": [use.model_dump()]})
        result = {"type": "tool_result", "tool_use_id": use.id, "content": "18 C"}  # type: ignore[union-attr]
        messages.append({"role": "user", "content": [result]})
        final = client.messages.create(
            model="sim-tool-call", max_tokens=64, messages=messages, tools=ANT_TOOLS
        )
    assert final.stop_reason == "end_turn"
    assert final.content[0].text == "The tool returned: 18 C"  # type: ignore[union-attr]


def test_rules_match_last_role_and_tool_results() -> None:
    scenario = Scenario(
        rules=[
            Rule(match=Match(tool_result_contains="ERROR"), respond=Respond(text="the tool failed")),
            Rule(match=Match(last_role="tool"), respond=Respond(text="after a tool")),
            Rule(match=Match(model="agent", tool_result=False), respond=Respond(tool_calls="auto")),
        ]
    )
    tool_call: Any = {"role": "assistant", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    ]}  # fmt: skip
    user: Any = {"role": "user", "content": "go"}
    with SimServer(scenario) as sim, _oai(sim) as client, _ant(sim) as claude:

        def text(messages: list[Any]) -> str | None:
            out = client.chat.completions.create(model="agent", messages=messages, tools=TOOLS)
            return out.choices[0].message.content

        assert text([user]) is None  # no tool result yet: the third rule calls the tool
        assert text([user, tool_call, {"role": "tool", "tool_call_id": "call_1", "content": "ok"}]) == (
            "after a tool"
        )
        assert text([user, tool_call, {"role": "tool", "tool_call_id": "call_1", "content": "ERROR 5"}]) == (
            "the tool failed"
        )
        use: Any = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
        result: Any = {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": [{"type": "text", "text": "ok"}],
        }
        message = claude.messages.create(
            model="agent",
            max_tokens=32,
            messages=[user, {"role": "assistant", "content": [use]}, {"role": "user", "content": [result]}],
        )
    assert message.content[0].text == "after a tool"  # type: ignore[union-attr]


def test_json_object_answer_follows_a_schema_in_the_prompt(sim: SimServer) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 18}},
        "required": ["name", "age"],
    }
    system = f"Reply with JSON matching this schema:\n```json\n{json.dumps(schema)}\n```"
    example = 'Answer as JSON like {"city": "Paris", "temperature_c": 21.5}.'
    with _oai(sim) as client:

        def ask(messages: list[Any]) -> Any:
            out = client.chat.completions.create(
                model="gpt-4o", messages=messages, response_format={"type": "json_object"}
            )
            return json.loads(out.choices[0].message.content or "")

        by_schema = ask([{"role": "system", "content": system}, {"role": "user", "content": "Who?"}])
        by_example = ask([{"role": "user", "content": example}])
        by_default = ask([{"role": "user", "content": "Give me JSON."}])
    assert by_schema == {"name": "example", "age": 18}
    assert by_example == {"city": "Paris", "temperature_c": 21.5}
    assert by_default == DEFAULT_JSON


def test_prompt_shape_scan_survives_hostile_text() -> None:
    assert shape_in(["{" * 100_000]) is None
    assert shape_in(["[" * 50_000 + '{"a": 1}']) == {"a": 1}
    wrapped = {"name": "person", "schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}}}
    assert shape_in([json.dumps(wrapped)]) == {"ok": False}

"""What steadyhand sends is what OpenAI accepts: the chat and legacy completions adapters' request bodies,
for a hypothesis-generated range of requests, validate against the contract's
``CreateChatCompletionRequest`` / ``CreateCompletionRequest`` schemas."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _contract import schema_errors
from steadyhand.errors import ConfigurationError
from steadyhand.providers.base import Capabilities
from steadyhand.providers.openai_chat import OpenAIChat
from steadyhand.providers.openai_completions import MAX_STOP, USER_STOP, OpenAICompletions
from steadyhand.types import ImagePart, Message, ModelRequest, ResponseFormat, TextPart, Tool, ToolCall

CAPS = Capabilities()
text = st.text(max_size=40)
name = st.from_regex(r"[a-zA-Z0-9_-]{1,64}", fullmatch=True)
json_schema = st.sampled_from(
    [
        {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]},
        {"type": "object", "properties": {"n": {"type": "integer"}, "tags": {"type": "array"}}},
        {"type": "object", "properties": {}},
    ]
)
tools = st.lists(st.builds(Tool, name=name, description=st.none() | text, parameters=json_schema), max_size=3)
calls = st.lists(
    st.builds(ToolCall, id=name, name=name, arguments=st.sampled_from(["{}", '{"q": "x"}'])),
    min_size=1,
    max_size=2,
)
parts = st.lists(
    st.one_of(
        st.builds(TextPart, text=text),
        st.builds(
            ImagePart,
            url=st.sampled_from(["https://example.com/cat.png", "data:image/png;base64,iVBORw0KGgo="]),
            detail=st.sampled_from([None, "auto", "low", "high"]),
        ),
    ),
    min_size=1,
    max_size=3,
)


@st.composite
def conversations(draw: st.DrawFn, *, tool_turns: bool) -> list[Message]:
    """A plausible conversation: optional system prompt, user turns, assistant turns with or without
    tool calls each answered by tool messages; ends on a user or tool turn (no prefill)."""
    messages: list[Message] = []
    if draw(st.booleans()):
        messages.append(Message(role="system", content=draw(text)))
    for _ in range(draw(st.integers(1, 3))):
        content = draw(text) if not tool_turns else draw(st.one_of(text, parts))
        messages.append(Message(role="user", content=content, name=draw(st.none() | name)))
        if draw(st.booleans()):
            if tool_turns and draw(st.booleans()):
                made = draw(calls)
                messages.append(Message(role="assistant", content=draw(st.none() | text), tool_calls=made))
                for call in made:
                    messages.append(Message(role="tool", content=draw(text), tool_call_id=call.id))
                continue
            messages.append(Message(role="assistant", content=draw(text)))
    if messages[-1].role == "assistant":
        messages.append(Message(role="user", content=draw(text)))
    return messages


def _parameters(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "temperature": draw(st.none() | st.floats(0, 2)),
        "top_p": draw(st.none() | st.floats(0, 1)),
        "max_tokens": draw(st.none() | st.integers(1, 100_000)),
        "seed": draw(st.none() | st.integers(-(2**63), 2**63 - 1)),
        "n": draw(st.none() | st.integers(1, 128)),
    }


@st.composite
def chat_requests(draw: st.DrawFn) -> ModelRequest:
    offered = draw(st.none() | tools.filter(bool))
    choice = None
    if offered:
        choice = draw(st.sampled_from([None, "auto", "none", "required", offered[0].name]))
    fmt = draw(
        st.none()
        | st.builds(ResponseFormat, type=st.just("json_object"))
        | st.builds(
            ResponseFormat,
            type=st.just("json_schema"),
            json_schema=json_schema,
            name=name,
            strict=st.none() | st.booleans(),
        )
    )
    return ModelRequest(
        model=draw(st.sampled_from(["gpt-4o-mini", "gpt-4o-2024-08-06", "o3-mini"])),
        messages=draw(conversations(tool_turns=True)),
        stop=draw(st.none() | st.lists(text.filter(bool), min_size=1, max_size=4)),
        tools=offered,
        tool_choice=choice,
        response_format=fmt,
        **_parameters(draw),
    )


@st.composite
def completion_requests(draw: st.DrawFn) -> ModelRequest:
    return ModelRequest(
        model="gpt-3.5-turbo-instruct-0914",
        messages=draw(conversations(tool_turns=False)),
        stop=draw(st.none() | st.lists(text.filter(bool), min_size=1, max_size=MAX_STOP - 1)),
        **_parameters(draw),
    )


def _body(wire: OpenAIChat | OpenAICompletions, request: ModelRequest, stream: bool) -> Any:
    built = wire.build_request(request, stream=stream)
    assert built.body is not None
    return json.loads(built.body)


CHECKS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@CHECKS
@given(request=chat_requests(), stream=st.booleans())
def test_chat_request_bodies_match_the_contract(request: ModelRequest, stream: bool) -> None:
    wire = OpenAIChat(
        base_url="https://api.openai.com/v1", api_key="sk-test", provider_name="openai", capabilities=CAPS
    )
    body = _body(wire, request, stream)
    assert schema_errors("CreateChatCompletionRequest", body) == [], body
    assert body["model"] == request.model and len(body["messages"]) == len(request.messages)


@CHECKS
@given(request=completion_requests(), stream=st.booleans())
def test_completion_request_bodies_match_the_contract(request: ModelRequest, stream: bool) -> None:
    wire = OpenAICompletions(
        base_url="https://api.openai.com/v1", api_key="sk-test", provider_name="openai", capabilities=CAPS
    )
    body = _body(wire, request, stream)
    assert schema_errors("CreateCompletionRequest", body) == [], body
    assert body["model"] == request.model and isinstance(body["prompt"], str)


def test_four_stop_sequences_leave_no_room_for_the_turn_stop_on_legacy_completions() -> None:
    """The contract allows 4; steadyhand adds its own, so a 5th would be a 400 from OpenAI: refused here."""
    wire = OpenAICompletions(
        base_url="https://api.openai.com/v1", api_key="sk-test", provider_name="openai", capabilities=CAPS
    )
    hi = [Message(role="user", content="hi")]
    with pytest.raises(ConfigurationError, match="at most 3"):
        wire.build_request(ModelRequest(model="m", messages=hi, stop=["a", "b", "c", "d"]), stream=False)
    body = _body(wire, ModelRequest(model="m", messages=hi, stop=["a", "b", "c", USER_STOP]), False)
    assert body["stop"] == ["a", "b", "c", USER_STOP]
    assert schema_errors("CreateCompletionRequest", body) == []

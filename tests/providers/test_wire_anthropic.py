"""Anthropic Messages wire format: request bodies, parsing, usage convention, stream decoding."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steadyhand.errors import StreamInterrupted, UnexpectedProviderResponse
from steadyhand.providers._common import assemble
from steadyhand.providers.anthropic import AnthropicMessages
from steadyhand.providers.base import Capabilities
from steadyhand.types import Chunk, ImagePart, Message, ModelRequest, ResponseFormat, TextPart, Tool, ToolCall

from .wire_fixtures import CAPS, anthropic_stream, named_sse, ok


def wire(caps: Capabilities = CAPS) -> AnthropicMessages:
    return AnthropicMessages(
        base_url="https://api.anthropic.com", api_key="sk-ant", provider_name="anthropic", capabilities=caps
    )


def req(**kw: object) -> ModelRequest:
    kw.setdefault("messages", [Message(role="user", content="Hi")])
    return ModelRequest(model="claude-sonnet-4-5-20250929", **kw)


def body(r: ModelRequest, w: AnthropicMessages | None = None, *, stream: bool = False) -> dict[str, object]:
    built = (w or wire()).build_request(r, stream=stream)
    assert built.body is not None
    return json.loads(built.body)  # type: ignore[no-any-return]


def decode(data: bytes, r: ModelRequest | None = None) -> list[Chunk]:
    d = wire().stream_decoder(r or req())
    return d.feed(data) + d.close()


def test_full_request_body() -> None:
    r = req(
        messages=[
            Message(role="system", content="Be brief."),
            Message(role="system", content="Use metric units."),
            Message(
                role="user",
                content=[
                    TextPart(text="Weather here?"),
                    ImagePart(url="data:image/png;base64,iVBORw0KGgo="),
                    ImagePart(url="https://x/map.png"),
                ],
            ),
            Message(
                role="assistant",
                content="Checking.",
                tool_calls=[ToolCall(id="toolu_1", name="weather", arguments='{"city":"Oslo"}')],
            ),
            Message(role="tool", tool_call_id="toolu_1", content="-3C"),
            Message(role="user", content="Thanks"),
        ],
        tools=[Tool(name="weather", description="Current weather", parameters={"type": "object"})],
        tool_choice="required",
        stop=["END"],
        temperature=0.5,
        seed=3,
        n=1,
        extra={"metadata": {"user_id": "u1"}},
    )
    built = wire().build_request(r, stream=True)
    assert built.url == "https://api.anthropic.com/v1/messages"
    assert built.headers == {
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        "x-api-key": "sk-ant",
    }
    assert body(r, stream=True) == {
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 1024,
        "system": "Be brief.\n\nUse metric units.",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather here?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                    },
                    {"type": "image", "source": {"type": "url", "url": "https://x/map.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "-3C"},
                    {"type": "text", "text": "Thanks"},
                ],
            },
        ],
        "temperature": 0.5,
        "stop_sequences": ["END"],
        "tools": [{"name": "weather", "input_schema": {"type": "object"}, "description": "Current weather"}],
        "tool_choice": {"type": "any"},
        "stream": True,
        "metadata": {"user_id": "u1"},
    }


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        ("weather", {"type": "tool", "name": "weather"}),
    ],
)
def test_tool_choice(choice: str, sent: dict[str, str]) -> None:
    assert body(req(tools=[Tool(name="weather")], tool_choice=choice))["tool_choice"] == sent


def test_max_tokens_prefill_and_base_url() -> None:
    r = req(
        max_tokens=77,
        messages=[Message(role="user", content="List"), Message(role="assistant", content="1. ")],
    )
    sent = body(r)
    assert sent["max_tokens"] == 77
    assert sent["messages"] == [{"role": "user", "content": "List"}, {"role": "assistant", "content": "1."}]
    w = AnthropicMessages(
        base_url="http://127.0.0.1:9/v1/", api_key=None, provider_name="sim", capabilities=CAPS
    )
    built = w.build_request(req(), stream=False)
    assert built.url == "http://127.0.0.1:9/v1/messages" and "x-api-key" not in built.headers


SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def test_json_schema_becomes_a_forced_tool() -> None:
    r = req(response_format=ResponseFormat(type="json_schema", json_schema=SCHEMA, name="answer"))
    sent = body(r)
    assert sent["tools"] == [
        {
            "name": "answer",
            "input_schema": SCHEMA,
            "description": "Give your final answer by calling this tool; its input is the answer.",
        }
    ]
    assert sent["tool_choice"] == {"type": "tool", "name": "answer"}
    response = ok(
        {
            "id": "msg_2",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "tool_use", "id": "toolu_9", "name": "answer", "input": {"city": "Oslo"}}],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 5, "output_tokens": 9},
        }
    )
    parsed = wire().parse_response(response, r)
    assert json.loads(parsed.text) == {"city": "Oslo"}
    assert parsed.finish_reason == "stop" and parsed.message.tool_calls is None
    # when the capabilities do not list json_schema, nothing is added (left to the prompt)
    plain = wire(Capabilities(response_formats=frozenset({"text"})))
    assert "tools" not in body(r, plain)


def test_parse_message_and_usage_convention() -> None:
    raw_usage = {
        "input_tokens": 12,
        "output_tokens": 30,
        "cache_creation_input_tokens": 3,
        "cache_read_input_tokens": 100,
    }
    response = ok(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "s"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}},
            ],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": raw_usage,
        }
    )
    parsed = wire().parse_response(response, req())
    assert (parsed.id, parsed.text, parsed.finish_reason) == ("msg_1", "Checking.", "tool_calls")
    assert parsed.message.tool_calls == [ToolCall(id="toolu_1", name="weather", arguments='{"city":"Oslo"}')]
    u = parsed.usage
    assert (u.input_tokens, u.cached_input_tokens, u.cache_write_tokens, u.output_tokens) == (115, 100, 3, 30)
    assert u.raw == raw_usage
    with pytest.raises(UnexpectedProviderResponse):
        wire().parse_response(ok({"choices": []}), req())


@pytest.mark.parametrize(
    ("raw", "mapped"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "refusal"),
        ("pause_turn", "pause"),
        ("model_context_window_exceeded", "unknown"),
    ],
)
def test_stop_reason_mapping(raw: str, mapped: str) -> None:
    response = ok({"id": "m", "content": [{"type": "text", "text": "x"}], "stop_reason": raw, "usage": {}})
    choice = wire().parse_response(response, req()).choices[0]
    assert (choice.finish_reason, choice.raw_finish_reason) == (mapped, raw)


def test_stream_text_tool_and_cumulative_usage() -> None:
    chunks = decode(anthropic_stream())
    full = assemble(chunks, provider="anthropic", model="claude")
    assert (full.id, full.model, full.text, full.finish_reason) == (
        "msg_1",
        "claude-sonnet-4-5-20250929",
        "Let me check.",
        "tool_calls",
    )
    assert full.message.tool_calls == [
        ToolCall(id="toolu_1", name="get_weather", arguments='{"city": "Oslo"}')
    ]
    # output usage is cumulative: the last message_delta (9) wins, not 5 + 9
    assert (full.usage.input_tokens, full.usage.output_tokens, full.usage.cached_input_tokens) == (
        115,
        9,
        100,
    )


def test_stream_tool_without_arguments_and_answer_tool() -> None:
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {"id": "m", "model": "c", "usage": {"input_tokens": 1, "output_tokens": 1}},
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "t", "name": "now", "input": {}},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 4}},
        {"type": "message_stop"},
    ]
    full = assemble(decode(named_sse(*events)), provider="a", model="c")
    assert full.message.tool_calls == [ToolCall(id="t", name="now", arguments="{}")]
    r = req(response_format=ResponseFormat(type="json_schema", json_schema=SCHEMA, name="now"))
    answered = assemble(decode(named_sse(*events), r), provider="a", model="c")
    assert (answered.text, answered.finish_reason, answered.message.tool_calls) == ("{}", "stop", None)


def test_truncated_stream() -> None:
    with pytest.raises(StreamInterrupted) as info:
        decode(anthropic_stream(stop=False))
    assert info.value.partial_text == "Let me check."
    with pytest.raises(UnexpectedProviderResponse):
        decode(b"event: message_start\ndata: {oops\n\n")


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_byte_split_gives_the_same_chunks(data: st.DataObject) -> None:
    stream = anthropic_stream()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    d = wire().stream_decoder(req())
    chunks = [c for p in pieces for c in d.feed(p)] + d.close()
    assert chunks == decode(stream)

"""The inbound Anthropic codec: Messages bodies decode to ModelRequest (validated like Anthropic), and
responses and stream chunks encode to the bodies and event sequence the ``anthropic`` SDK parses."""

from __future__ import annotations

import json
from typing import Any

import anthropic.types
import pytest
from hypothesis import given, settings
from pydantic import TypeAdapter

from steadyhand.errors import InvalidRequest
from steadyhand.providers._common import assemble
from steadyhand.providers.anthropic import AnthropicMessages
from steadyhand.providers.base import HTTPResponse
from steadyhand.providers.inbound_anthropic import decode_messages
from steadyhand.providers.inbound_anthropic_encode import (
    MessageStreamEncoder,
    invalid_request_body,
    message,
    sse_event,
)
from steadyhand.types import (
    Choice,
    Chunk,
    ImagePart,
    Message,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)

from .inbound_strategies import anthropic_requests, loose_anthropic_requests
from .wire_fixtures import CAPS

WIRE = AnthropicMessages(
    base_url="https://api.anthropic.com", api_key="k", provider_name="anthropic", capabilities=CAPS
)
USER = [{"role": "user", "content": "hi"}]
EVENTS: TypeAdapter[Any] = TypeAdapter(anthropic.types.RawMessageStreamEvent)


@settings(max_examples=100, deadline=None)
@given(anthropic_requests())
def test_round_trip_through_the_outbound_builder(request: ModelRequest) -> None:
    assert decode_messages(WIRE.build_request(request, stream=False).body).request == request
    assert decode_messages(WIRE.build_request(request, stream=True).body).stream


@settings(max_examples=60, deadline=None)
@given(loose_anthropic_requests())
def test_whatever_the_builder_sends_decodes_to_the_same_wire_body(request: ModelRequest) -> None:
    body = WIRE.build_request(request, stream=False).body
    assert body is not None
    again = WIRE.build_request(decode_messages(body).request, stream=False).body
    assert again is not None and json.loads(again) == json.loads(body)


def test_sdk_shaped_body_decodes() -> None:
    body = {
        "model": "claude-3-5-haiku-20241022",
        "max_tokens": 100,
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "toolu_1", "name": "look", "input": {"q": "x"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a cat"},
                    {"type": "text", "text": "And now?"},
                ],
            },
        ],
        "tool_choice": {"type": "any"},
        "tools": [{"name": "look", "input_schema": {"type": "object"}}],
        "top_k": 5,
        "metadata": {"user_id": "u"},
        "stop_sequences": ["END"],
        "stream": True,
    }
    inbound = decode_messages(json.dumps(body))
    r = inbound.request
    assert inbound.stream and r.max_tokens == 100 and r.stop == ["END"] and r.tool_choice == "required"
    assert [m.role for m in r.messages] == ["system", "user", "assistant", "tool", "user"]
    assert r.messages[0].content == [TextPart(text="Be brief.")]
    assert r.messages[1].content == [
        TextPart(text="What is this?"),
        ImagePart(url="data:image/png;base64,iVBO"),
    ]
    assert r.messages[2].content == "Let me look."
    assert r.messages[2].tool_calls == [ToolCall(id="toolu_1", name="look", arguments='{"q":"x"}')]
    assert (r.messages[3].tool_call_id, r.messages[3].content) == ("toolu_1", "a cat")
    assert r.extra == {"top_k": 5, "metadata": {"user_id": "u"}}


def _body(**fields: Any) -> bytes:
    return json.dumps({"model": "claude", "max_tokens": 10, "messages": USER, **fields}).encode()


def _turns(*turns: Any) -> bytes:
    return json.dumps({"model": "claude", "max_tokens": 10, "messages": list(turns)}).encode()


EMPTY = "messages.0: all messages must have non-empty content except for the optional final assistant message"
THINKING = "a 'thinking' block in a 'user' message is not supported by this server (steadyhand); remove it"
DEEP = "The request body is nested more than 100 levels deep at 'messages"
HOSTILE = [
    (b"{oops", "There was an issue with your request body: the body is not valid JSON."),
    (b"", "There was an issue with your request body: the body is not valid JSON."),
    (b"[]", "The request body must be a JSON object."),
    (b'{"max_tokens": 5, "messages": []}', "model: Field required"),
    (b'{"model": "m", "messages": []}', "max_tokens: Field required"),
    (b'{"model": "m", "max_tokens": 5}', "messages: Field required"),
    (
        b'{"model": "m", "max_tokens": 5, "messages": []}',
        "messages: List should have at least 1 item after validation, not 0",
    ),
    (_body(max_tokens=-1), "max_tokens: Input should be greater than or equal to 1"),
    (_body(max_tokens=0), "max_tokens: Input should be greater than or equal to 1"),
    (_body(max_tokens="100"), "max_tokens: Input should be a valid integer"),
    (_body(temperature=1.5), "temperature: Input should be less than or equal to 1"),
    (
        _body(temperature=float("nan")),
        "temperature: Input should be a finite number (NaN and Infinity are not JSON)",
    ),
    (_body(top_k=-1), "top_k: Input should be greater than or equal to 0"),
    (_body(stream="yes"), "stream: Input should be a valid boolean"),
    (_body(system=5), "system: Input should be a valid list"),
    (_turns({"role": "usr", "content": "x"}), "messages.0.role: Input should be 'user' or 'assistant'"),
    (_turns({"role": "system", "content": "x"}), "messages.0.role: Input should be 'user' or 'assistant'"),
    (_turns({"role": "user", "content": 5}), "messages.0.content: Input should be a valid list"),
    (_turns({"role": "user"}), "messages.0.content: Field required"),
    (
        _turns({"role": "user", "content": ""}),
        EMPTY,
    ),
    (_turns({"role": "user", "content": [{"type": "text"}]}), "messages.0.content.0.text: Field required"),
    (
        _turns({"role": "user", "content": [{"type": "thinking", "thinking": "x"}]}),
        "messages.0.content.0.type: " + THINKING,
    ),
    (_body(tools=[{"name": "t"}]), "tools.0.input_schema: Field required"),
    (_body(tool_choice={"type": "auto"}), "tool_choice may only be specified while providing tools."),
    (
        _body(tools=[{"name": "t", "input_schema": {}}], tool_choice={"type": "sometimes"}),
        "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'",
    ),
    (
        b'{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "\\ud800"}]}',
        "Input should be a valid string: it contains a lone UTF-16 surrogate (like \\ud800)",
    ),
    (
        b'{"model": "m", "max_tokens": 5, "messages": ' + b"[" * 200 + b"]" * 200 + b"}",
        DEEP,
    ),
]


@pytest.mark.parametrize(("body", "message_"), HOSTILE)
def test_hostile_bodies_are_refused_in_anthropic_wording(body: bytes, message_: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_messages(body)
    assert caught.value.status_code == 400 and caught.value.message.startswith(message_)
    doc = invalid_request_body(caught.value, request_id="req_1")
    assert doc == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": caught.value.message},
        "request_id": "req_1",
    }
    anthropic.types.ErrorResponse.model_validate(doc)


def test_oversized_body_is_request_too_large() -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_messages(_body(pad="x" * 2000), max_bytes=1000)
    doc = invalid_request_body(caught.value)
    assert caught.value.status_code == 413 and doc["error"]["type"] == "request_too_large"


# encoding ------------------------------------------------------------------------------------------

USAGE = Usage(input_tokens=20, output_tokens=7, cached_input_tokens=5, cache_write_tokens=3)
TEXT = ModelResponse(
    id="msg_1",
    model="claude",
    provider="sim",
    choices=[Choice(message=Message(role="assistant", content="Hello!"))],
    usage=USAGE,
)
TOOLS = TEXT.model_copy(
    update={
        "choices": [
            Choice(
                message=Message(
                    role="assistant",
                    content="Looking.",
                    tool_calls=[ToolCall(id="toolu_1", name="w", arguments='{"a":1}')],
                ),
                finish_reason="tool_calls",
            )
        ]
    }
)


@pytest.mark.parametrize("response", [TEXT, TOOLS], ids=["text", "tools"])
def test_message_body_parses_with_the_sdk_and_back(response: ModelResponse) -> None:
    doc = message(response)
    parsed = anthropic.types.Message.model_validate(doc)
    assert parsed.usage.input_tokens == 12 and parsed.usage.cache_read_input_tokens == 5  # 20 - 5 - 3
    back = WIRE.parse_response(
        HTTPResponse(200, {}, json.dumps(doc).encode()), ModelRequest(model="m", messages=[])
    )
    assert back.choices[0].message == response.choices[0].message
    assert back.finish_reason == response.finish_reason and back.usage.input_tokens == 20


def test_stop_reasons_keep_anthropic_words() -> None:
    stopped = TEXT.model_copy(
        update={
            "choices": [
                Choice(message=Message(role="assistant", content="x"), raw_finish_reason="stop_sequence")
            ]
        }
    )
    assert message(stopped)["stop_reason"] == "stop_sequence"
    truncated = TEXT.model_copy(
        update={"choices": [Choice(message=Message(role="assistant", content="x"), finish_reason="length")]}
    )
    assert message(truncated)["stop_reason"] == "max_tokens"


CHUNKS = [
    Chunk(text="Look"),
    Chunk(text="ing."),
    Chunk(tool_calls=[ToolCallDelta(index=0, id="toolu_1", name="w")]),
    Chunk(tool_calls=[ToolCallDelta(index=0, arguments='{"a":')]),
    Chunk(tool_calls=[ToolCallDelta(index=0, arguments="1}")]),
    Chunk(tool_calls=[ToolCallDelta(index=1, id="toolu_2", name="v", arguments="{}")]),
    Chunk(finish_reason="tool_calls"),
    Chunk(usage=USAGE),
]


def _events(chunks: list[Chunk]) -> list[tuple[str, dict[str, Any]]]:
    encoder = MessageStreamEncoder(id="msg_1", model="claude", usage=USAGE)
    events = encoder.start()
    for chunk in chunks:
        events += encoder.feed(chunk)
    return events + encoder.close()


def test_stream_is_the_full_event_sequence_and_decodes_back() -> None:
    events = _events(CHUNKS)
    names = [n for n, _ in events]
    assert names == [
        "message_start", "ping",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]  # fmt: skip
    for name, doc in events:  # ping is not in the SDK's event union (the SDK skips it)
        assert name == doc["type"] and (name == "ping" or EVENTS.validate_python(doc).type == name)
    assert [d["index"] for n, d in events if n == "content_block_start"] == [0, 1, 2]
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use" and events[-2][1]["usage"] == {
        "output_tokens": 7
    }
    decoder = WIRE.stream_decoder(ModelRequest(model="claude", messages=[]))
    back = assemble(
        decoder.feed(b"".join(sse_event(n, d) for n, d in events)) + decoder.close(),
        provider="a",
        model="claude",
    )
    assert back.text == "Looking." and back.finish_reason == "tool_calls"
    assert [(c.name, c.arguments) for c in back.message.tool_calls or ()] == [("w", '{"a":1}'), ("v", "{}")]


def test_empty_stream_still_has_one_text_block() -> None:
    names = [n for n, _ in _events([Chunk(finish_reason="stop")])]
    assert names == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]

"""The inbound OpenAI codec: request bodies decode to ModelRequest (validated like OpenAI), and
responses, stream chunks and errors encode to bodies that validate against OpenAI's OpenAPI spec."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from hypothesis import given, settings

from _contract import validate
from steadyhand.errors import InvalidRequest
from steadyhand.providers._common import assemble
from steadyhand.providers._inbound_check import MAX_BODY_BYTES
from steadyhand.providers.base import HTTPResponse
from steadyhand.providers.inbound_openai import decode_chat, decode_completions
from steadyhand.providers.inbound_openai_encode import (
    SSE_DONE,
    ChatStreamEncoder,
    CompletionStreamEncoder,
    chat_completion,
    completion,
    invalid_request_body,
    sse_data,
)
from steadyhand.providers.openai_chat import OpenAIChat
from steadyhand.providers.openai_completions import USER_STOP, OpenAICompletions, render_prompt
from steadyhand.types import (
    Choice,
    Chunk,
    Message,
    ModelRequest,
    ModelResponse,
    ResponseFormat,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
)

from .inbound_strategies import openai_requests
from .wire_fixtures import CAPS

CHAT = OpenAIChat(
    base_url="https://api.openai.com/v1", api_key="k", provider_name="openai", capabilities=CAPS
)
LEGACY = OpenAICompletions(
    base_url="https://api.openai.com/v1", api_key="k", provider_name="openai", capabilities=CAPS
)
USER = [{"role": "user", "content": "hi"}]


@settings(max_examples=100, deadline=None)
@given(openai_requests())
def test_chat_round_trip_through_the_outbound_builder(request: ModelRequest) -> None:
    assert decode_chat(CHAT.build_request(request, stream=False).body).request == request
    streamed = decode_chat(CHAT.build_request(request, stream=True).body)
    assert streamed.request == request and streamed.stream and streamed.include_usage


@settings(max_examples=60, deadline=None)
@given(openai_requests(chat=False))
def test_completions_round_trip_keeps_the_rendered_prompt_verbatim(request: ModelRequest) -> None:
    decoded = decode_completions(LEGACY.build_request(request, stream=False).body).request
    stops = [*(request.stop or ()), *([] if USER_STOP in (request.stop or ()) else [USER_STOP])]
    expected = request.model_copy(
        update={"messages": [Message(role="user", content=render_prompt(request.messages))], "stop": stops}
    )
    assert decoded == expected


def test_sdk_shaped_body_decodes() -> None:
    """What the openai SDK sends when an app echoes the previous answer back (refusal/annotations null)."""
    body = {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
            {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "annotations": [],
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        ],
        "max_completion_tokens": 50,
        "stop": "END",
        "response_format": {"type": "json_object"},
        "user": "u-1",
        "parallel_tool_calls": False,
    }
    request = decode_chat(json.dumps(body).encode()).request
    assert [m.role for m in request.messages] == ["system", "user", "assistant", "tool"]
    assert request.messages[1].content == [TextPart(text="weather?")]
    assert request.messages[2].tool_calls == [ToolCall(id="c1", name="w", arguments="{}")]
    assert (request.max_tokens, request.stop) == (50, ["END"])
    assert request.response_format == ResponseFormat(type="json_object")
    assert request.extra == {"user": "u-1", "parallel_tool_calls": False}


def _chat(**fields: Any) -> bytes:
    return json.dumps({"model": "gpt-4o", "messages": USER, **fields}).encode()


HOSTILE = [
    (b"{not json", None, None),
    (b"", None, None),
    (b"[1, 2]", None, None),
    (b'"just a string"', None, None),
    (b'{"messages": []}', "model", "missing_required_parameter"),
    (b'{"model": "m"}', "messages", "missing_required_parameter"),
    (b'{"model": 5, "messages": []}', "model", "invalid_type"),
    (b'{"model": "m", "messages": []}', "messages", "empty_array"),
    (b'{"model": "m", "messages": {"role": "user"}}', "messages", "invalid_type"),
    (
        json.dumps({"model": "m", "messages": [{"role": "usr", "content": "x"}]}).encode(),
        "messages[0].role",
        "invalid_value",
    ),
    (
        json.dumps({"model": "m", "messages": [{"content": "x"}]}).encode(),
        "messages[0].role",
        "missing_required_parameter",
    ),
    (
        json.dumps({"model": "m", "messages": [{"role": "user", "content": 5}]}).encode(),
        "messages[0].content",
        "invalid_type",
    ),
    (
        json.dumps({"model": "m", "messages": [{"role": "user"}]}).encode(),
        "messages[0].content",
        "missing_required_parameter",
    ),
    (
        json.dumps(
            {"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]}
        ).encode(),
        "messages[0].content[0].text",
        "invalid_type",
    ),
    (
        json.dumps({"model": "m", "messages": [{"role": "tool", "content": "x"}]}).encode(),
        "messages[0].tool_call_id",
        "missing_required_parameter",
    ),
    (
        json.dumps({"model": "m", "messages": [{"role": "function", "content": "x", "name": "f"}]}).encode(),
        "messages[0].role",
        "unsupported_value",
    ),
    (_chat(max_tokens=-1), "max_tokens", "integer_below_min_value"),
    (_chat(max_tokens=0), "max_tokens", "integer_below_min_value"),
    (_chat(max_tokens="100"), "max_tokens", "invalid_type"),
    (_chat(max_tokens=True), "max_tokens", "invalid_type"),
    (_chat(max_tokens=1.5), "max_tokens", "invalid_type"),
    (_chat(max_tokens=5, max_completion_tokens=5), "max_completion_tokens", "invalid_value"),
    (_chat(n=1000), "n", "integer_above_max_value"),
    (_chat(n=-1), "n", "integer_below_min_value"),
    (_chat(n=0), "n", "integer_below_min_value"),
    (_chat(temperature=float("nan")), "temperature", "invalid_value"),
    (_chat(temperature=float("inf")), "temperature", "invalid_value"),
    (_chat(temperature=2.5), "temperature", "decimal_above_max_value"),
    (_chat(temperature=-0.1), "temperature", "decimal_below_min_value"),
    (_chat(temperature="hot"), "temperature", "invalid_type"),
    (_chat(top_p=1.5), "top_p", "decimal_above_max_value"),
    (_chat(presence_penalty=3), "presence_penalty", "decimal_above_max_value"),
    (_chat(stop=["a", "b", "c", "d", "e"]), "stop", "array_above_max_length"),
    (_chat(stream="yes"), "stream", "invalid_type"),
    (_chat(stream_options={"include_usage": True}), "stream_options", None),
    (
        _chat(response_format={"type": "json_schema", "json_schema": '{"type": "object"}'}),
        "response_format.json_schema",
        "invalid_type",
    ),
    (
        _chat(response_format={"type": "json_schema", "json_schema": {"schema": {}}}),
        "response_format.json_schema.name",
        "missing_required_parameter",
    ),
    (_chat(response_format={"type": "yaml"}), "response_format.type", "invalid_value"),
    (
        _chat(tools=[{"type": "function", "function": {"name": "bad name!"}}]),
        "tools[0].function.name",
        "invalid_value",
    ),
    (_chat(tools=[{"type": "function"}]), "tools[0].function", "missing_required_parameter"),
    (_chat(tool_choice="auto"), "tool_choice", None),
    (
        _chat(tools=[{"type": "function", "function": {"name": "t"}}], tool_choice="sometimes"),
        "tool_choice",
        "invalid_value",
    ),
    (
        json.dumps({"model": "m", "messages": [{"role": "user", "content": []}]}).encode(),
        "messages[0].content",
        "empty_array",
    ),
    (_chat(extra_field=float("nan")), "extra_field", "invalid_value"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "\\ud800"}]}', None, "invalid_value"),
    (b'{"model": "m", "messages": [{"role": "user", "content": "a\\udc00b"}]}', None, "invalid_value"),
    (b"[" * 150 + b"]" * 150, None, None),
    (b'{"model": "m", "messages": [], "x": ' + b"[" * 5000 + b"]" * 5000 + b"}", None, None),
]


@pytest.mark.parametrize(("body", "param", "code"), HOSTILE)
def test_hostile_chat_bodies_are_refused_like_openai(
    body: bytes, param: str | None, code: str | None
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_chat(body)
    error = caught.value
    assert (error.status_code, error.param, error.code) == (400, param, code), error.message
    doc = invalid_request_body(error)
    validate("ErrorResponse", doc)
    assert doc["error"]["type"] == "invalid_request_error" and set(doc["error"]) == {
        "message",
        "type",
        "param",
        "code",
    }


def test_parsed_bodies_are_checked_too() -> None:
    """A server that parsed the body itself (stdlib json keeps lone surrogates) gets the same checks."""
    with pytest.raises(InvalidRequest) as caught:
        decode_chat({"model": "m", "messages": [{"role": "user", "content": "x\ud800"}]})
    assert caught.value.param == "messages[0].content"
    deep: Any = []
    for _ in range(100_000):  # far deeper than Python's recursion limit: the walk must be iterative
        deep = [deep]
    with pytest.raises(InvalidRequest, match="nested more than"):
        decode_chat({"model": "m", "messages": USER, "metadata": deep})


def test_oversized_body_is_a_413_before_parsing() -> None:
    assert MAX_BODY_BYTES == 32 * 1024 * 1024
    with pytest.raises(InvalidRequest) as caught:
        decode_chat(_chat(pad="x" * 2000), max_bytes=1000)
    assert (caught.value.status_code, caught.value.code) == (413, "request_too_large")


def test_messages_name_the_fix_in_openai_wording() -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode_chat(_chat(n=1000))
    assert caught.value.message == (
        "Invalid 'n': integer above maximum value. Expected a value <= 128, but got 1000 instead."
    )
    with pytest.raises(InvalidRequest) as caught:
        decode_chat(json.dumps({"model": "m", "messages": [{"role": "usr", "content": "x"}]}))
    assert caught.value.message == (
        "Invalid value: 'usr'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', "
        "and 'developer'."
    )


def test_invalid_request_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(InvalidRequest("bad", param="n", code="c", status_code=413)))
    assert (error.message, error.param, error.code, error.status_code) == ("bad", "n", "c", 413)


def test_completions_decoding_and_refusals() -> None:
    inbound = decode_completions(b'{"model": "m", "prompt": ["Say hi"], "max_tokens": 0, "echo": true}')
    assert inbound.request.messages == [Message(role="user", content="Say hi")]
    assert inbound.request.max_tokens == 0 and inbound.request.extra == {"echo": True}
    for body, param in [
        (b'{"prompt": "hi"}', "model"),
        (b'{"model": "m"}', "prompt"),
        (b'{"model": "m", "prompt": ["a", "b"]}', "prompt"),
        (b'{"model": "m", "prompt": [1, 2, 3]}', "prompt"),
        (b'{"model": "m", "prompt": "x", "max_tokens": -5}', "max_tokens"),
    ]:
        with pytest.raises(InvalidRequest) as caught:
            decode_completions(body)
        assert caught.value.param == param


# encoding ------------------------------------------------------------------------------------------

RESPONSE = ModelResponse(
    id="chatcmpl-1",
    model="gpt-4o-mini",
    provider="sim",
    created=1694268190,
    choices=[Choice(message=Message(role="assistant", content="Hello!"))],
    usage=Usage(input_tokens=9, output_tokens=3, cached_input_tokens=4, reasoning_tokens=1),
)
TOOL_RESPONSE = RESPONSE.model_copy(
    update={
        "choices": [
            Choice(
                message=Message(
                    role="assistant", tool_calls=[ToolCall(id="call_1", name="w", arguments='{"a":1}')]
                ),
                finish_reason="tool_calls",
            )
        ]
    }
)


def test_chat_completion_body_validates_and_keeps_conventions() -> None:
    doc = chat_completion(RESPONSE, system_fingerprint="fp_x")
    validate("CreateChatCompletionResponse", doc)
    assert doc["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Hello!",
        "refusal": None,
        "annotations": [],
    }
    assert doc["usage"]["prompt_tokens"] == 9 and doc["usage"]["prompt_tokens_details"]["cached_tokens"] == 4
    tool = chat_completion(TOOL_RESPONSE)
    validate("CreateChatCompletionResponse", tool)
    assert (
        tool["choices"][0]["message"]["content"] is None
        and tool["choices"][0]["finish_reason"] == "tool_calls"
    )
    refusal = RESPONSE.model_copy(
        update={
            "choices": [
                Choice(message=Message(role="assistant", content="I can't."), finish_reason="refusal")
            ]
        }
    )
    message = chat_completion(refusal)["choices"][0]
    assert (message["message"]["refusal"], message["message"]["content"], message["finish_reason"]) == (
        "I can't.",
        None,
        "stop",
    )
    assert "usage" not in chat_completion(RESPONSE.model_copy(update={"usage": Usage()}))


def test_completion_body_validates() -> None:
    doc = completion(RESPONSE)
    validate("CreateCompletionResponse", doc)
    assert doc["choices"][0]["text"] == "Hello!" and doc["usage"]["total_tokens"] == 12


def _stream(
    encoder: ChatStreamEncoder | CompletionStreamEncoder, chunks: list[Chunk]
) -> list[dict[str, Any]]:
    return [doc for c in chunks for doc in encoder.feed(c)] + encoder.close()


TEXT_CHUNKS = [Chunk(text="Hel"), Chunk(text="lo"), Chunk(finish_reason="stop"), Chunk(usage=RESPONSE.usage)]
TOOL_CHUNKS = [
    Chunk(tool_calls=[ToolCallDelta(index=0, id="call_1", name="w")]),
    Chunk(tool_calls=[ToolCallDelta(index=0, arguments='{"a":')]),
    Chunk(tool_calls=[ToolCallDelta(index=0, arguments="1}")]),
    Chunk(finish_reason="tool_calls"),
]


@pytest.mark.parametrize("chunks", [TEXT_CHUNKS, TOOL_CHUNKS], ids=["text", "tools"])
def test_chat_stream_validates_and_decodes_back(chunks: list[Chunk]) -> None:
    docs = _stream(ChatStreamEncoder(id="c1", model="gpt-4o", created=1, include_usage=True), chunks)
    for doc in docs:
        validate("CreateChatCompletionStreamResponse", doc)
    assert docs[0]["choices"][0]["delta"]["role"] == "assistant"
    assert docs[-1]["choices"] == [] and docs[-1]["usage"] is not None
    assert all(d["usage"] is None for d in docs[:-1])
    wire = b"".join(sse_data(d) for d in docs) + SSE_DONE
    decoder = CHAT.stream_decoder(ModelRequest(model="gpt-4o", messages=[]))
    back = assemble(decoder.feed(wire) + decoder.close(), provider="openai", model="gpt-4o")
    original = assemble(chunks, provider="openai", model="gpt-4o")
    assert back.choices[0].message == original.choices[0].message
    assert back.finish_reason == original.finish_reason


def test_stream_without_include_usage_has_no_usage_key() -> None:
    docs = _stream(ChatStreamEncoder(id="c1", model="gpt-4o", created=1), TEXT_CHUNKS)
    assert all("usage" not in d for d in docs) and docs[-1]["choices"][0]["finish_reason"] == "stop"


def test_completion_stream_validates_and_decodes_back() -> None:
    docs = _stream(CompletionStreamEncoder(id="c1", model="m", created=1, include_usage=True), TEXT_CHUNKS)
    for doc in docs:  # the spec reuses the plain schema for chunks; relax the nulls the real API streams
        relaxed = {k: v for k, v in doc.items() if not (k == "usage" and v is None)}
        relaxed["choices"] = [{**c, "finish_reason": c["finish_reason"] or "stop"} for c in doc["choices"]]
        validate("CreateCompletionResponse", relaxed)
    assert docs[-1]["choices"] == [] and docs[-1]["usage"]["completion_tokens"] == 3
    wire = b"".join(sse_data(d) for d in docs) + SSE_DONE
    decoder = LEGACY.stream_decoder(ModelRequest(model="m", messages=[]))
    back = assemble(decoder.feed(wire) + decoder.close(), provider="openai", model="m")
    assert (back.text, back.finish_reason, back.usage.output_tokens) == ("Hello", "stop", 3)


def test_encoded_responses_parse_back_with_the_outbound_parser() -> None:
    for response in (RESPONSE, TOOL_RESPONSE):
        body = json.dumps(chat_completion(response)).encode()
        back = CHAT.parse_response(HTTPResponse(200, {}, body), ModelRequest(model="m", messages=[]))
        assert back.choices[0].message == response.choices[0].message
        assert (back.usage.input_tokens, back.usage.cached_input_tokens) == (9, 4)

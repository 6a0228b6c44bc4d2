"""The inbound Responses API codec: bodies decode to ModelRequest (refused in OpenAI's wording), answers
and chunks encode to Response objects and typed events that validate against the contract, and both
directions invert the outbound wire format."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _contract import schema_errors
from steadyhand.errors import ConfigurationError, InvalidRequest, ServerError
from steadyhand.providers._common import assemble
from steadyhand.providers.inbound_openai_responses import decode_responses
from steadyhand.providers.inbound_openai_responses_encode import (
    ResponseStreamEncoder,
    invalid_request_body,
    response_object,
    sse_event,
)
from steadyhand.providers.openai_responses import OpenAIResponses
from steadyhand.types import (
    Choice,
    Chunk,
    ImagePart,
    Message,
    ModelRequest,
    ModelResponse,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
)

from .inbound_strategies import NAMES, NONEMPTY, TEXT, _calls, responses_requests
from .wire_fixtures import CAPS, ok

WIRE = OpenAIResponses(
    base_url="https://api.openai.com/v1", api_key="k", provider_name="openai", capabilities=CAPS
)
EVENT_SCHEMAS = {
    "response.created": "ResponseCreatedEvent",
    "response.in_progress": "ResponseInProgressEvent",
    "response.output_item.added": "ResponseOutputItemAddedEvent",
    "response.output_item.done": "ResponseOutputItemDoneEvent",
    "response.content_part.added": "ResponseContentPartAddedEvent",
    "response.content_part.done": "ResponseContentPartDoneEvent",
    "response.output_text.delta": "ResponseTextDeltaEvent",
    "response.output_text.done": "ResponseTextDoneEvent",
    "response.function_call_arguments.delta": "ResponseFunctionCallArgumentsDeltaEvent",
    "response.function_call_arguments.done": "ResponseFunctionCallArgumentsDoneEvent",
    "response.completed": "ResponseCompletedEvent",
    "response.incomplete": "ResponseIncompleteEvent",
    "response.failed": "ResponseFailedEvent",
}


def check_events(events: list[dict[str, Any]]) -> None:
    """Each event validates as its own schema and as a ResponseStreamEvent; numbered 0, 1, 2..."""
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    for event in events:
        for schema in (EVENT_SCHEMAS[event["type"]], "ResponseStreamEvent"):
            errors = schema_errors(schema, event)
            assert not errors, (event["type"], schema, errors[0])


def check_response(doc: dict[str, Any]) -> None:
    errors = schema_errors("Response", doc)
    assert not errors, errors[0]


def refused(body: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        decode_responses(body)
    return info.value


# decoding -------------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(responses_requests())
def test_round_trip_through_the_outbound_builder(request: ModelRequest) -> None:
    body = WIRE.build_request(request, stream=False).body
    assert not schema_errors("CreateResponse", json.loads(body or b"")), schema_errors("CreateResponse", body)
    assert decode_responses(body).request == request
    streamed = decode_responses(WIRE.build_request(request, stream=True).body)
    assert streamed.request == request and streamed.stream


def test_sdk_shaped_body_with_echoed_output_decodes() -> None:
    """``input += response.output``: the SDK echoes output items (ids, statuses, annotations) back."""
    body = {
        "model": "gpt-4o",
        "instructions": "Be brief.",
        "input": [
            {"role": "developer", "content": "Use metric units."},
            {"role": "user", "content": [
                {"type": "input_text", "text": "Weather in Paris?"},
                {"type": "input_image", "image_url": "https://x.test/p.png", "detail": "low"}]},
            {"type": "reasoning", "id": "rs_1", "encrypted_content": None, "status": "completed",
             "summary": [{"type": "summary_text", "text": "Need the tool."}]},
            {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": "Checking.", "annotations": [], "logprobs": []}]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "weather",
             "arguments": '{"city":"Paris"}', "status": "completed"},
            {"type": "function_call_output", "call_id": "call_1", "output": "18C"},
        ],
        "tools": [{"type": "function", "name": "weather", "parameters": {"type": "object"}, "strict": False}],
        "max_output_tokens": 64,
        "store": False,
        "stream": True,
        "user": "u-1",
    }  # fmt: skip
    inbound = decode_responses(json.dumps(body).encode())
    assert inbound.stream
    assert inbound.request == ModelRequest(
        model="gpt-4o",
        messages=[
            Message(role="system", content="Be brief."),
            Message(role="system", content="Use metric units."),
            Message(role="user", content=[TextPart(text="Weather in Paris?"),
                                          ImagePart(url="https://x.test/p.png", detail="low")]),
            Message(role="assistant", content="Checking.", reasoning="Need the tool.",
                    tool_calls=[ToolCall(id="call_1", name="weather", arguments='{"city":"Paris"}')]),
            Message(role="tool", tool_call_id="call_1", content="18C"),
        ],
        max_tokens=64,
        tools=[Tool(name="weather", parameters={"type": "object"})],
        extra={"store": False, "user": "u-1"},
    )  # fmt: skip


def test_text_format_and_tool_choice() -> None:
    request = decode_responses(
        {
            "model": "m",
            "input": "hi",
            "text": {
                "format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": True}
            },
            "tools": [{"type": "function", "name": "f", "parameters": None}],
            "tool_choice": {"type": "function", "name": "f"},
        }
    ).request
    assert request.response_format == ResponseFormat(
        type="json_schema", name="out", json_schema={"type": "object"}, strict=True
    )
    assert request.tool_choice == "f" and request.tools == [Tool(name="f")]
    assert (
        decode_responses(
            {"model": "m", "input": "x", "text": {"format": {"type": "text"}}}
        ).request.response_format
        is None
    )


M = {"model": "m"}
BAD: list[tuple[Any, str, str | None, str | None]] = [
    (b"{nope", "We could not parse the JSON body of your request.", None, None),
    ({"input": "x"}, "Missing required parameter: 'model'.", "model", "missing_required_parameter"),
    (M, "Missing required parameter: 'input'.", "input", "missing_required_parameter"),
    (
        {**M, "input": 5},
        "Invalid type for 'input': expected one of a string or array of input items, but got an integer "
        "instead.",
        "input",
        "invalid_type",
    ),
    (
        {**M, "input": [{"role": "bot", "content": "x"}]},
        "Invalid value: 'bot'. Supported values are: 'user', 'assistant', 'system', and 'developer'.",
        "input[0].role",
        "invalid_value",
    ),
    (
        {**M, "input": "x", "max_output_tokens": 3},
        "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 3 "
        "instead.",
        "max_output_tokens",
        "integer_below_min_value",
    ),
    (
        {**M, "input": "x", "temperature": 3},
        "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got 3 instead.",
        "temperature",
        "decimal_above_max_value",
    ),
    (
        {**M, "input": [{"type": "message", "role": "user", "content": 1}]},
        "Invalid type for 'input[0].content': expected one of a string or array of objects, but got an "
        "integer instead.",
        "input[0].content",
        "invalid_type",
    ),
    (
        {**M, "input": "x", "stream_options": {}},
        "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        "stream_options",
        None,
    ),
    (
        {**M, "input": "x", "previous_response_id": "resp_1"},
        "Unsupported value for 'previous_response_id'",
        "previous_response_id",
        "unsupported_value",
    ),
    (
        {**M, "input": "x", "tools": [{"type": "web_search"}]},
        "Unsupported value for 'tools[0].type': the hosted tool 'web_search'",
        "tools[0].type",
        "unsupported_value",
    ),
    (
        {**M, "input": [{"type": "item_reference", "id": "msg_1"}]},
        "Unsupported value for 'input[0].type'",
        "input[0].type",
        "unsupported_value",
    ),
    (
        {**M, "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
        "Unsupported value for 'input[0].content[0].type'",
        "input[0].content[0].type",
        "unsupported_value",
    ),
    (
        {**M, "input": "x", "tools": [{"type": "function", "name": "a b"}]},
        "Invalid 'tools[0].name': string does not match pattern.",
        "tools[0].name",
        "invalid_value",
    ),
    (
        {**M, "input": "x", "text": {"format": {"type": "json_schema", "name": "o"}}},
        "Missing required parameter: 'text.format.schema'.",
        "text.format.schema",
        "missing_required_parameter",
    ),
]


@pytest.mark.parametrize(("body", "message", "param", "code"), BAD)
def test_bad_bodies_are_refused_in_openai_wording(
    body: Any, message: str, param: str | None, code: str | None
) -> None:
    error = refused(body)
    assert error.message.startswith(message) and error.param == param and error.code == code
    assert error.status_code == 400
    envelope = invalid_request_body(error)
    assert not schema_errors("ErrorResponse", envelope)
    assert envelope["error"] == {
        "message": error.message,
        "type": "invalid_request_error",
        "param": param,
        "code": code,
    }


# encoding -------------------------------------------------------------------------------------------


@st.composite
def answers(draw: st.DrawFn, *, stream: bool = False) -> ModelResponse:
    calls = draw(st.none() | _calls())
    text = draw(NONEMPTY | st.none()) if calls else draw(TEXT)
    finishes = ["tool_calls", "length"] if calls else ["stop", "length", "content_filter"]
    finish = draw(st.sampled_from(finishes if stream or calls else [*finishes, "refusal"]))
    message = Message(role="assistant", content=text, tool_calls=calls,
                      reasoning=None if stream else draw(st.none() | NONEMPTY))  # fmt: skip
    counts = st.integers(0, 10**6)
    usage = Usage(input_tokens=draw(counts), output_tokens=draw(counts), cached_input_tokens=draw(counts),
                  cache_write_tokens=draw(counts), reasoning_tokens=draw(counts))  # fmt: skip
    return ModelResponse(
        id="resp_" + draw(NAMES),
        model=draw(NAMES),
        provider="openai",
        choices=[Choice(message=message, finish_reason=finish)],
        usage=usage,
        created=draw(st.integers(0, 2**31)),
    )


def _same(parsed: ModelResponse, original: ModelResponse) -> None:
    assert parsed.choices[0].raw_finish_reason is not None
    parsed.choices[0].raw_finish_reason = None
    assert parsed.usage.raw is not None
    parsed.usage.raw = None
    assert parsed.model_copy(update={"provider": "openai"}) == original


@settings(max_examples=120, deadline=None)
@given(answers())
def test_response_object_validates_and_parses_back(response: ModelResponse) -> None:
    doc = response_object(response)
    check_response(doc)
    _same(WIRE.parse_response(ok(doc), ModelRequest(model="m", messages=[])), response)


def _chunks(response: ModelResponse, cut: int) -> list[Chunk]:
    message, out = response.message, []
    text = message.content or ""
    if text:
        out += [Chunk(text=text[:cut]), Chunk(text=text[cut:])] if 0 < cut < len(text) else [Chunk(text=text)]
    for i, call in enumerate(message.tool_calls or ()):
        out.append(Chunk(tool_calls=[ToolCallDelta(index=i, id=call.id, name=call.name)]))
        out.append(Chunk(tool_calls=[ToolCallDelta(index=i, arguments=call.arguments[:cut])]))
        out.append(Chunk(tool_calls=[ToolCallDelta(index=i, arguments=call.arguments[cut:])]))
    return [*out, Chunk(finish_reason=response.finish_reason), Chunk(usage=response.usage)]


@settings(max_examples=120, deadline=None)
@given(answers(stream=True), st.integers(0, 8))
def test_stream_events_validate_and_decode_back(response: ModelResponse, cut: int) -> None:
    encoder = ResponseStreamEncoder(id=response.id, model=response.model, created=response.created or 0)
    events = encoder.start()
    for chunk in _chunks(response, cut):
        events += encoder.feed(chunk)
    events += encoder.close()
    check_events(events)
    assert events[-1]["type"] == ("response.completed" if response.finish_reason in ("stop", "tool_calls")
                                  else "response.incomplete")  # fmt: skip
    final = events[-1]["response"]
    check_response(final)
    decoder = WIRE.stream_decoder(ModelRequest(model="m", messages=[]))
    data = b"".join(sse_event(e) for e in events)
    full = assemble(decoder.feed(data) + decoder.close(), provider="openai", model="m")
    expected = response.model_copy(update={"created": None})
    if not response.message.tool_calls and not response.message.content:
        expected.choices[0].message.content = ""
    _same(full, expected)
    # the final response object holds the same answer as the events
    _same(WIRE.response_from(final, "m").model_copy(update={"created": None}), expected)


def test_failed_event_after_partial_output() -> None:
    encoder = ResponseStreamEncoder(id="resp_x", model="m", created=1)
    events = encoder.start() + encoder.feed(Chunk(text="Hel"))
    events += encoder.feed(Chunk(tool_calls=[ToolCallDelta(index=0, id="call_1", name="f", arguments="{")]))
    events += encoder.failed("upstream broke", code="weird_code")
    check_events(events)
    failed = events[-1]
    assert failed["type"] == "response.failed"
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"] == {"code": "server_error", "message": "upstream broke"}
    assert [i["status"] for i in failed["response"]["output"]] == ["completed", "incomplete"]
    decoder = WIRE.stream_decoder(ModelRequest(model="m", messages=[]))
    with pytest.raises(ServerError, match="upstream broke"):
        decoder.feed(b"".join(sse_event(e) for e in events))


def test_empty_answer_still_has_a_message_item_and_request_echo() -> None:
    request = decode_responses({"model": "m", "input": "hi", "instructions": "sys", "temperature": 0.5,
                                "max_output_tokens": 99, "tools": [{"type": "function", "name": "f"}],
                                "text": {"format": {"type": "json_object"}}}).request  # fmt: skip
    encoder = ResponseStreamEncoder(id="resp_e", model="m", created=1, request=request)
    events = encoder.start() + encoder.close()
    check_events(events)
    final = events[-1]["response"]
    assert [i["type"] for i in final["output"]] == ["message"] and final["output"][0]["content"][0][
        "text"
    ] == ""
    assert (final["instructions"], final["temperature"], final["max_output_tokens"]) == ("sys", 0.5, 99)
    assert final["tools"][0]["name"] == "f" and final["text"] == {"format": {"type": "json_object"}}
    with pytest.raises(ConfigurationError, match="one output"):
        encoder.feed(Chunk(index=1, text="x"))
    two = ModelResponse(
        id="r", model="m", provider="p", choices=[Choice(message=Message(role="assistant"))] * 2
    )
    with pytest.raises(ConfigurationError, match="one output"):
        response_object(two)


def test_text_after_a_tool_call_is_a_second_message_item_with_its_own_id() -> None:
    encoder = ResponseStreamEncoder(id="resp_t", model="m", created=1)
    events = encoder.start() + encoder.feed(Chunk(text="Let me look."))
    events += encoder.feed(Chunk(tool_calls=[ToolCallDelta(index=0, id="call_1", name="f", arguments="{}")]))
    events += encoder.feed(Chunk(text="Done.")) + encoder.feed(Chunk(finish_reason="tool_calls"))
    events += encoder.close()
    check_events(events)
    output = events[-1]["response"]["output"]
    assert [i["type"] for i in output] == ["message", "function_call", "message"]
    assert len({i["id"] for i in output}) == 3
    decoder = WIRE.stream_decoder(ModelRequest(model="m", messages=[]))
    full = assemble(
        decoder.feed(b"".join(sse_event(e) for e in events)) + decoder.close(), provider="p", model="m"
    )
    assert full.text == "Let me look.Done." and full.finish_reason == "tool_calls"


_KEYS = st.sampled_from(
    ["type", "role", "content", "text", "call_id", "name", "arguments", "output", "summary", "image_url"]
    + ["detail", "format", "schema", "parameters", "strict", "refusal", "id", "status"]
)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 100) | st.floats(allow_nan=False) | st.sampled_from(
        ["", "x", "user", "assistant", "system", "developer", "message", "function_call", "reasoning",
         "function_call_output", "input_text", "input_image", "output_text", "refusal", "function",
         "json_schema", "json_object", "text", "auto", "required"]
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
_ITEMS = st.lists(st.dictionaries(_KEYS, _VALUES, max_size=5), max_size=4)
_BODIES = st.fixed_dictionaries(
    {"model": st.just("m"), "input": _ITEMS | _VALUES},
    optional=dict.fromkeys(
        ("instructions", "tools", "tool_choice", "text", "temperature", "top_p")
        + ("max_output_tokens", "stream", "stream_options", "store"),
        _VALUES,
    ),
)


@settings(max_examples=400, deadline=None)
@given(_BODIES)
def test_any_body_decodes_or_is_refused_with_a_400(body: dict[str, Any]) -> None:
    """What the gateway's fuzz test relies on: never anything but InvalidRequest (a 4xx)."""
    try:
        inbound = decode_responses(json.dumps(body))
    except InvalidRequest as error:
        assert 400 <= error.status_code < 500 and error.message
        assert not schema_errors("ErrorResponse", invalid_request_body(error))
    else:
        assert inbound.request.messages


def _paths(node: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*at, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*at, i))
    return found


@settings(max_examples=300, deadline=None)
@given(responses_requests(), st.data())
def test_a_valid_body_with_one_value_broken_decodes_or_is_refused(
    request: ModelRequest, data: st.DataObject
) -> None:
    body = json.loads(WIRE.build_request(request, stream=False).body or b"")
    path = data.draw(st.sampled_from(_paths(body)[1:]))
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = data.draw(_VALUES)
    try:
        decode_responses(body)
    except InvalidRequest as error:
        assert 400 <= error.status_code < 500 and error.message


def test_error_codes_for_a_broken_stream_are_response_error_codes() -> None:
    from steadyhand.errors import ContentFiltered, ProviderConnectionError, QuotaExhausted, RateLimited
    from steadyhand.providers.inbound_openai_responses_encode import error_code_for

    cases = {
        RateLimited("slow", status_code=429): "rate_limit_exceeded",
        QuotaExhausted("quota", status_code=429): "rate_limit_exceeded",
        ContentFiltered("flagged", status_code=400): "invalid_prompt",
        ProviderConnectionError("reset"): "server_error",
        ValueError("anything"): "server_error",
    }
    for error, code in cases.items():
        assert error_code_for(error) == code
        encoder = ResponseStreamEncoder(id="resp_c", model="m", created=1)
        failed = encoder.failed(str(error), code=error_code_for(error))[0]
        assert failed["response"]["error"]["code"] == code
        assert not schema_errors("ResponseFailedEvent", failed)

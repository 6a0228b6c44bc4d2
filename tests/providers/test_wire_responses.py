"""The Responses API wire format (``openai_responses``): request bodies, parsing, the typed event
stream and error mapping, from canned bytes; bodies validate against the contract's CreateResponse."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _contract import schema_errors
from steadyhand import Config
from steadyhand._config import ModelAlias, ProviderConfig
from steadyhand.errors import (
    ConfigurationError,
    ContentFiltered,
    InvalidRequest,
    ModelNotFound,
    Overloaded,
    QuotaExhausted,
    RateLimited,
    ServerError,
    StreamInterrupted,
    UnexpectedProviderResponse,
)
from steadyhand.providers._common import assemble
from steadyhand.providers.base import Capabilities
from steadyhand.providers.openai_responses import OpenAIResponses
from steadyhand.providers.registry import build_provider
from steadyhand.providers.shaping import shape_request
from steadyhand.types import (
    Chunk,
    ImagePart,
    Message,
    ModelRequest,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
)

from .wire_fixtures import CAPS, named_sse, ok


def wire(caps: Capabilities = CAPS) -> OpenAIResponses:
    return OpenAIResponses(
        base_url="https://api.openai.com/v1/", api_key="sk-test", provider_name="openai", capabilities=caps
    )


def body(request: ModelRequest, *, stream: bool = False) -> dict[str, Any]:
    http = wire().build_request(request, stream=stream)
    assert http.body is not None
    doc: dict[str, Any] = json.loads(http.body)
    assert not schema_errors("CreateResponse", doc), schema_errors("CreateResponse", doc)
    return doc


def decode(data: bytes, model: str = "gpt-4o") -> list[Chunk]:
    decoder = wire().stream_decoder(ModelRequest(model=model, messages=[]))
    return decoder.feed(data) + decoder.close()


CONVERSATION = [
    Message(role="system", content="Be brief."),
    Message(role="user", content=[TextPart(text="What is this?"), ImagePart(url="https://x.test/a.png")]),
    Message(
        role="assistant",
        content="Let me check.",
        tool_calls=[ToolCall(id="call_1", name="lookup", arguments='{"q":"a"}')],
    ),
    Message(role="tool", tool_call_id="call_1", content="a cat"),
    Message(role="system", content="Answer in French."),
]


def test_full_request_body() -> None:
    request = ModelRequest(
        model="gpt-4o-2024-08-06",
        messages=CONVERSATION,
        temperature=0.2,
        top_p=0.9,
        max_tokens=300,
        tools=[Tool(name="lookup", description="Search.", parameters={"type": "object"})],
        tool_choice="lookup",
        response_format=ResponseFormat(type="json_schema", json_schema={"type": "object"}, name="out"),
        extra={"store": False, "metadata": {"k": "v"}},
    )
    http = wire().build_request(request, stream=False)
    assert http.url == "https://api.openai.com/v1/responses"
    assert http.headers["authorization"] == "Bearer sk-test"
    assert body(request) == {
        "model": "gpt-4o-2024-08-06",
        "instructions": "Be brief.",
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is this?"},
                    {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "auto"},
                ],
            },
            {"type": "message", "role": "assistant", "content": "Let me check."},
            {"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": '{"q":"a"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": "a cat"},
            {"type": "message", "role": "system", "content": "Answer in French."},
        ],
        "tools": [
            {
                "type": "function",
                "name": "lookup",
                "description": "Search.",
                "parameters": {"type": "object"},
                "strict": False,
            }
        ],
        "tool_choice": {"type": "function", "name": "lookup"},
        "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}}},
        "temperature": 0.2,
        "top_p": 0.9,
        "max_output_tokens": 300,
        "store": False,
        "metadata": {"k": "v"},
    }


def test_stream_flag_json_object_and_plain_input() -> None:
    request = ModelRequest(
        model="m",
        messages=[Message(role="user", content="hi")],
        response_format=ResponseFormat(type="json_object"),
        tool_choice="required",
        tools=[Tool(name="f")],
    )
    doc = body(request, stream=True)
    assert doc["stream"] is True and "stream_options" not in doc
    assert doc["text"] == {"format": {"type": "json_object"}} and doc["tool_choice"] == "required"
    assert "instructions" not in doc and doc["input"] == [
        {"type": "message", "role": "user", "content": "hi"}
    ]


def test_stop_is_refused_and_seed_and_n_are_dropped() -> None:
    with pytest.raises(ConfigurationError, match="no stop sequences"):
        wire().build_request(ModelRequest(model="m", messages=[], stop=["x"]), stream=False)
    request = ModelRequest(model="m", messages=[Message(role="user", content="hi")], seed=3, n=1)
    shaped, dropped = shape_request(request, wire().capabilities, "openai")
    assert dropped == ["n", "seed"] and shaped.seed is None and shaped.n is None
    with pytest.raises(InvalidRequest, match="n=2"):
        shape_request(request.model_copy(update={"n": 2}), wire().capabilities, "openai")


def test_api_responses_is_selectable_in_config() -> None:
    config = Config(
        providers={"oai": ProviderConfig(kind="openai", api_key="sk-x"), "s": ProviderConfig(kind="sim")},
        models={"r": ModelAlias(target="oai:gpt-4o", api="responses")},
    )
    assert config.resolve("r").api == "responses"
    provider = build_provider("oai", api="responses", config=config)
    assert isinstance(provider.wire, OpenAIResponses) and provider.wire.url.endswith("/v1/responses")
    sim = build_provider("s", api="responses", config=config)
    assert isinstance(sim.wire, OpenAIResponses) and sim.wire.url == "http://127.0.0.1:8900/v1/responses"
    anthropic = Config(providers={"a": ProviderConfig(kind="anthropic", api_key="k")})
    with pytest.raises(ConfigurationError, match="has no 'responses' API"):
        build_provider("a", api="responses", config=anthropic)


RESPONSE: dict[str, Any] = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1741476777,
    "status": "completed",
    "model": "gpt-4o-2024-08-06",
    "output": [
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "Think."}, {"type": "summary_text", "text": "Go."}],
        },
        {
            "type": "message",
            "id": "msg_1",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Hi!", "annotations": [], "logprobs": []}],
        },
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_9",
            "name": "lookup",
            "arguments": '{"q":1}',
            "status": "completed",
        },
    ],
    "usage": {
        "input_tokens": 328,
        "input_tokens_details": {"cached_tokens": 128, "cache_write_tokens": 16},
        "output_tokens": 52,
        "output_tokens_details": {"reasoning_tokens": 40},
        "total_tokens": 380,
    },
}


def test_parse_output_items_and_usage() -> None:
    request = ModelRequest(model="gpt-4o", messages=[])
    answer = wire().parse_response(ok(RESPONSE), request)
    assert answer.id == "resp_1" and answer.model == "gpt-4o-2024-08-06" and answer.created == 1741476777
    assert answer.text == "Hi!" and answer.message.reasoning == "Think.\n\nGo."
    assert answer.message.tool_calls == [ToolCall(id="call_9", name="lookup", arguments='{"q":1}')]
    assert answer.finish_reason == "tool_calls" and answer.choices[0].raw_finish_reason == "completed"
    usage = answer.usage
    assert (usage.input_tokens, usage.output_tokens, usage.cached_input_tokens) == (328, 52, 128)
    assert (usage.cache_write_tokens, usage.reasoning_tokens) == (16, 40)


@pytest.mark.parametrize(
    ("status", "details", "finish"),
    [
        ("incomplete", {"reason": "max_output_tokens"}, "length"),
        ("incomplete", {"reason": "content_filter"}, "content_filter"),
        ("completed", None, "stop"),
        ("in_progress", None, "unknown"),
    ],
)
def test_status_to_finish_reason(status: str, details: Any, finish: str) -> None:
    doc = {**RESPONSE, "status": status, "incomplete_details": details, "output": RESPONSE["output"][1:2]}
    answer = wire().parse_response(ok(doc), ModelRequest(model="m", messages=[]))
    assert answer.finish_reason == finish


def test_refusal_part() -> None:
    refusal = {"type": "message", "id": "m", "status": "completed", "role": "assistant",
               "content": [{"type": "refusal", "refusal": "I can't help with that."}]}  # fmt: skip
    answer = wire().parse_response(
        ok({**RESPONSE, "output": [refusal]}), ModelRequest(model="m", messages=[])
    )
    assert answer.text == "I can't help with that." and answer.finish_reason == "refusal"


def test_failed_response_and_errors_map_to_typed_errors() -> None:
    request = ModelRequest(model="m", messages=[])
    failed = {**RESPONSE, "status": "failed", "output": [],
              "error": {"code": "rate_limit_exceeded", "message": "slow down"}}  # fmt: skip
    with pytest.raises(RateLimited, match="slow down"):
        wire().parse_response(ok(failed), request)
    quota = {"error": {"message": "quota", "type": "insufficient_quota", "param": None,
                       "code": "insufficient_quota"}}  # fmt: skip
    with pytest.raises(QuotaExhausted):
        wire().parse_response(ok(quota, 429), request)
    missing = {"error": {"message": "no", "type": "invalid_request_error", "param": None,
                         "code": "model_not_found"}}  # fmt: skip
    with pytest.raises(ModelNotFound):
        wire().parse_response(ok(missing, 404), request)
    inband = {"error": {"message": "busy", "type": "server_error", "code": "server_is_overloaded"}}
    with pytest.raises(Overloaded, match="busy"):  # an error envelope with a 200
        wire().parse_response(ok(inband), request)
    with pytest.raises(UnexpectedProviderResponse, match="Responses API object"):
        wire().parse_response(ok({"choices": []}), request)
    error = wire().map_error(503, {"retry-after": "2"}, b"<html>down</html>", "m")
    assert isinstance(error, ServerError) and error.retry_after == 2.0


def _event(kind: str, seq: int, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "sequence_number": seq, **fields}


def _resp(status: str, **fields: Any) -> dict[str, Any]:
    return {**RESPONSE, "status": status, "output": [], **fields}


MSG: dict[str, Any] = {"type": "message", "id": "msg_1", "role": "assistant"}
CALL: dict[str, Any] = {"type": "function_call", "id": "fc_1", "call_id": "call_9", "name": "lookup"}
TEXT_STREAM = named_sse(
    _event("response.created", 0, response=_resp("in_progress", usage=None)),
    _event("response.in_progress", 1, response=_resp("in_progress", usage=None)),
    _event("response.output_item.added", 2, output_index=0,
           item={**MSG, "status": "in_progress", "content": []}),
    _event("response.output_text.delta", 3, item_id="msg_1", output_index=0, content_index=0, delta="Hel"),
    _event("response.output_text.delta", 4, item_id="msg_1", output_index=0, content_index=0, delta="lo"),
    _event("response.output_text.done", 5, item_id="msg_1", output_index=0, content_index=0, text="Hello"),
    _event("response.output_item.done", 6, output_index=0,
           item={**MSG, "status": "completed",
                 "content": [{"type": "output_text", "text": "Hello", "annotations": []}]}),
    _event("response.output_item.added", 7, output_index=1,
           item={**CALL, "arguments": ""}),
    _event("response.function_call_arguments.delta", 8, item_id="fc_1", output_index=1, delta='{"q":'),
    _event("response.function_call_arguments.delta", 9, item_id="fc_1", output_index=1, delta="1}"),
    _event("response.output_item.done", 10, output_index=1,
           item={**CALL, "arguments": '{"q":1}'}),
    _event("response.completed", 11, response=RESPONSE),
)  # fmt: skip


def test_text_and_tool_stream() -> None:
    chunks = decode(TEXT_STREAM)
    assert [c.text for c in chunks if c.text] == ["Hel", "lo"]
    full = assemble(chunks, provider="openai", model="m")
    assert full.id == "resp_1" and full.model == "gpt-4o-2024-08-06"
    assert full.text == "Hello" and full.finish_reason == "tool_calls"
    assert full.message.tool_calls == [ToolCall(id="call_9", name="lookup", arguments='{"q":1}')]
    assert full.usage.cached_input_tokens == 128 and full.usage.reasoning_tokens == 40


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_any_byte_split_gives_the_same_chunks(data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(TEXT_STREAM)), max_size=8)))
    decoder = wire().stream_decoder(ModelRequest(model="gpt-4o", messages=[]))
    chunks, at = [], 0
    for cut in [*cuts, len(TEXT_STREAM)]:
        chunks += decoder.feed(TEXT_STREAM[at:cut])
        at = cut
    assert chunks + decoder.close() == decode(TEXT_STREAM)


def test_only_done_items_or_only_completed_still_give_the_answer_once() -> None:
    done_only = named_sse(
        _event("response.output_item.done", 0, output_index=0, item=RESPONSE["output"][1]),
        _event("response.output_item.done", 1, output_index=1, item=RESPONSE["output"][2]),
        _event("response.completed", 2, response=RESPONSE),
    )
    completed_only = named_sse(_event("response.completed", 0, response=RESPONSE))
    for data in (done_only, completed_only):
        full = assemble(decode(data), provider="openai", model="m")
        assert full.text == "Hi!" and full.finish_reason == "tool_calls"
        assert full.message.tool_calls == [ToolCall(id="call_9", name="lookup", arguments='{"q":1}')]


def test_incomplete_stream_is_length_and_refusal_deltas() -> None:
    incomplete = named_sse(
        _event("response.output_text.delta", 0, item_id="m", output_index=0, content_index=0, delta="Hi"),
        _event("response.incomplete", 1,
               response=_resp("incomplete", incomplete_details={"reason": "max_output_tokens"})),
    )  # fmt: skip
    full = assemble(decode(incomplete), provider="openai", model="m")
    assert full.text == "Hi" and full.finish_reason == "length"
    refusal = named_sse(
        _event("response.refusal.delta", 0, item_id="m", output_index=0, content_index=0, delta="No."),
        _event("response.completed", 1, response=_resp("completed")),
    )
    full = assemble(decode(refusal), provider="openai", model="m")
    assert full.text == "No." and full.finish_reason == "refusal"


def test_failed_and_error_events_raise_typed_errors() -> None:
    head = _event("response.output_text.delta", 0, item_id="m", output_index=0, content_index=0, delta="Hi")
    failed = named_sse(head, _event("response.failed", 1, response=_resp(
        "failed", error={"code": "server_error", "message": "The model failed."})))  # fmt: skip
    with pytest.raises(ServerError, match="The model failed"):
        decode(failed)
    error = named_sse(head, _event("error", 1, code="invalid_prompt", message="flagged", param=None))
    with pytest.raises(ContentFiltered, match="flagged"):
        decode(error)


def test_cut_stream_raises_with_the_partial_text() -> None:
    cut = TEXT_STREAM[: TEXT_STREAM.index(b"response.output_text.done")]
    with pytest.raises(StreamInterrupted) as info:
        decode(cut)
    assert info.value.partial_text == "Hello"
    with pytest.raises(UnexpectedProviderResponse, match="malformed"):
        decode(b"event: response.created\ndata: {not json\n\n")

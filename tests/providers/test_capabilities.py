"""Capability profiles shape requests: llama.cpp never receives json_schema nor stream_options."""

from __future__ import annotations

import json

import httpx
import pytest

from steadyhand._config import Config
from steadyhand.errors import BadRequest, ConfigurationError
from steadyhand.providers.base import Capabilities
from steadyhand.providers.capabilities import LLAMA_CPP, PROFILES, resolve_capabilities
from steadyhand.providers.http import HttpxTransport
from steadyhand.providers.http_provider import HTTPProvider
from steadyhand.providers.openai_chat import OpenAIChat
from steadyhand.providers.registry import capabilities_for
from steadyhand.types import Message, ModelRequest, ResponseFormat

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}

# llama-cpp-python 0.3.36's answer to a json_schema response_format, recorded from the real server.
LLAMA_VALIDATION_500 = {
    "error": {
        "message": "1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', "
        "'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}\n",
        "type": "internal_server_error",
        "param": None,
        "code": None,
    }
}


def _request(**kw: object) -> ModelRequest:
    return ModelRequest(model="m", messages=[Message(role="user", content="hi")], **kw)


def test_every_kind_has_a_profile_and_names_resolve() -> None:
    for kind in ("openai", "anthropic", "sim", "openai_compatible"):
        assert resolve_capabilities(kind) is PROFILES[kind]
    assert resolve_capabilities("openai_compatible", "llama_cpp") is LLAMA_CPP
    overridden = resolve_capabilities("openai_compatible", {"profile": "llama_cpp", "seed": False})
    assert overridden.seed is False and overridden.stream_usage is False
    with pytest.raises(ConfigurationError, match="llama_cpp"):
        resolve_capabilities("openai_compatible", "llamacpp")
    with pytest.raises(ConfigurationError, match="unknown capabilities"):
        resolve_capabilities("openai", {"sead": True})


def test_config_names_the_llama_cpp_profile() -> None:
    config = Config.model_validate(
        {
            "providers": {
                "local": {"kind": "openai_compatible", "base_url": "http://h/v1", "capabilities": "llama_cpp"}
            }
        }
    )
    assert capabilities_for(config.providers["local"]) == LLAMA_CPP


def test_llama_cpp_requests_are_shaped_to_what_it_accepts() -> None:
    wire = OpenAIChat(base_url="http://h/v1", api_key=None, provider_name="local", capabilities=LLAMA_CPP)
    fmt = ResponseFormat(type="json_schema", json_schema=SCHEMA)
    body = json.loads(wire.build_request(_request(response_format=fmt, seed=3, n=2), stream=True).body or b"")
    assert body["response_format"] == {"type": "json_object", "schema": SCHEMA}
    assert "stream_options" not in body and "n" not in body
    assert body["seed"] == 3


def test_llama_cpp_validation_500_is_a_bad_request_never_retried() -> None:
    wire = OpenAIChat(base_url="http://h/v1", api_key=None, provider_name="local", capabilities=LLAMA_CPP)
    err = wire.map_error(500, {}, json.dumps(LLAMA_VALIDATION_500).encode(), "m")
    assert isinstance(err, BadRequest) and not err.retryable


def _provider(handler: httpx.MockTransport, capabilities: Capabilities = LLAMA_CPP) -> HTTPProvider:
    wire = OpenAIChat(base_url="http://h/v1", api_key=None, provider_name="local", capabilities=capabilities)
    return HTTPProvider(wire, transport=HttpxTransport(httpx.Client(transport=handler)))


def test_stream_without_usage_gets_estimated_usage() -> None:
    def events(_: httpx.Request) -> httpx.Response:
        body = "".join(
            f"data: {json.dumps({'id': 'c', 'choices': [{'index': 0, 'delta': d, 'finish_reason': f}]})}\n\n"
            for d, f in (({"role": "assistant"}, None), ({"content": "Hello there"}, None), ({}, "stop"))
        )
        raw = (body + "data: [DONE]\n\n").encode()
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=httpx.ByteStream(raw)
        )

    chunks = list(_provider(httpx.MockTransport(events)).stream(_request()))
    usage = [c.usage for c in chunks if c.usage is not None]
    assert len(usage) == 1 and usage[0].estimated
    assert usage[0].output_tokens == 3  # "Hello there": 11 characters / 4, rounded up
    assert usage[0].input_tokens == 5  # one message: 4 framing + "hi"
    # with the chat template's measured overhead (LocalModelServer measures it at start), it is added
    calibrated = resolve_capabilities("openai_compatible", {"profile": "llama_cpp", "prompt_overhead": 26})
    chunks = list(_provider(httpx.MockTransport(events), calibrated).stream(_request()))
    assert [c.usage.input_tokens for c in chunks if c.usage is not None] == [5 + 26]


def test_prompt_overhead_must_be_a_count_of_tokens() -> None:
    for bad in (-1, 2.5, "26", True):
        with pytest.raises(ConfigurationError, match="prompt_overhead must be a whole number"):
            resolve_capabilities("openai_compatible", {"profile": "llama_cpp", "prompt_overhead": bad})


def test_reported_usage_is_kept_as_sent() -> None:
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "x"}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 7, "completion_tokens": 1},
            },
        )

    response = _provider(httpx.MockTransport(answer)).complete(_request())
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.estimated) == (
        7,
        1,
        False,
    )
    assert response.created is None  # llama.cpp-style answers without `created`/`refusal` are accepted

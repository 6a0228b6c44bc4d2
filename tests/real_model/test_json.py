"""JSON through the capability profile, checked on the wire and against the real server's quirks."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import pytest

from steadyhand import Client
from steadyhand._config import Config
from steadyhand.errors import BadRequest
from steadyhand.local import LocalModelServer
from steadyhand.providers.capabilities import OPENAI
from steadyhand.providers.http import HttpxTransport
from steadyhand.providers.http_provider import HTTPProvider
from steadyhand.providers.openai_chat import OpenAIChat
from steadyhand.providers.registry import build_provider
from steadyhand.types import Message, ModelRequest, ResponseFormat

pytestmark = pytest.mark.real_model

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}
ASK = [{"role": "user", "content": "Describe a person as JSON with a name and an age."}]


def _capturing_transport(bodies: list[dict[str, Any]]) -> HttpxTransport:
    def capture(request: httpx.Request) -> None:
        bodies.append(json.loads(request.content))

    return HttpxTransport(httpx.Client(event_hooks={"request": [capture]}))


def test_json_schema_goes_out_as_json_object_with_schema(config: Config) -> None:
    bodies: list[dict[str, Any]] = []
    provider = build_provider("local", api="chat", config=config, transport=_capturing_transport(bodies))
    fmt = ResponseFormat(type="json_schema", json_schema=PERSON, name="person")
    with Client(config, providers={"local": provider}) as client:
        answer = client.chat(ASK, model="local", response_format=fmt, temperature=0.0, max_tokens=60)
        with client.stream(ASK, model="local", response_format=fmt, temperature=0.0, max_tokens=60) as s:
            streamed = s.until_done()
    for response in (answer, streamed):
        jsonschema.validate(json.loads(response.text), PERSON)  # the grammar enforced the schema
    assert streamed.text == answer.text
    assert len(bodies) == 2
    for body in bodies:
        assert body["response_format"] == {"type": "json_object", "schema": PERSON}
        assert "stream_options" not in body
    assert "json_schema" not in json.dumps(bodies)


def test_the_server_rejects_json_schema_with_a_500_we_classify_as_bad_request(
    local_server: LocalModelServer,
) -> None:
    # What would happen without the profile: the OpenAI profile sends json_schema as OpenAI expects.
    wire = OpenAIChat(base_url=local_server.base_url, api_key=None, provider_name="raw", capabilities=OPENAI)
    provider = HTTPProvider(wire)
    fmt = ResponseFormat(type="json_schema", json_schema=PERSON)
    request = ModelRequest(
        model=local_server.model_name, messages=[Message(role="user", content="hi")], response_format=fmt
    )
    try:
        with pytest.raises(BadRequest) as caught:
            provider.complete(request)
    finally:
        provider.close()
    error = caught.value
    assert error.status_code == 500  # llama.cpp's status for a validation error
    assert not error.retryable  # sending it again cannot help: never retried
    assert isinstance(error.body, dict) and error.body["error"]["type"] == "internal_server_error"

"""The wire formats against the simulator over real HTTP (127.0.0.1, free port)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from steadyhand.errors import Overloaded, QuotaExhausted
from steadyhand.providers._common import assemble
from steadyhand.providers.anthropic import AnthropicMessages
from steadyhand.providers.base import HTTPResponse, WireFormat
from steadyhand.providers.openai_chat import OpenAIChat
from steadyhand.sim import SimServer
from steadyhand.types import Message, ModelRequest

from .wire_fixtures import CAPS


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer(host="127.0.0.1", port=0, seed=0) as server:
        yield server


def wires(sim: SimServer) -> list[WireFormat]:
    return [
        OpenAIChat(base_url=sim.base_url + "/v1", api_key="k", provider_name="sim", capabilities=CAPS),
        AnthropicMessages(base_url=sim.base_url, api_key="k", provider_name="sim", capabilities=CAPS),
    ]


def call(wire: WireFormat, request: ModelRequest, *, stream: bool) -> HTTPResponse:
    http = wire.build_request(request, stream=stream)
    r = httpx.post(http.url, headers=dict(http.headers), content=http.body, timeout=10)
    return HTTPResponse(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)


def test_echo_complete_and_stream(sim: SimServer) -> None:
    request = ModelRequest(model="sim-echo", messages=[Message(role="user", content="ping pong")])
    for wire in wires(sim):
        answer = wire.parse_response(call(wire, request, stream=False), request)
        assert answer.text == "ping pong" and answer.finish_reason == "stop"
        assert answer.usage.input_tokens and answer.usage.output_tokens
        raw = call(wire, request, stream=True)
        decoder = wire.stream_decoder(request)
        streamed = assemble(decoder.feed(raw.body) + decoder.close(), provider="sim", model=request.model)
        assert streamed.text == "ping pong" and streamed.usage.output_tokens == answer.usage.output_tokens


def test_faults_map_to_typed_errors(sim: SimServer) -> None:
    openai, anthropic = wires(sim)
    quota = ModelRequest(model="sim-quota", messages=[Message(role="user", content="x")])
    with pytest.raises(QuotaExhausted):
        openai.parse_response(call(openai, quota, stream=False), quota)
    overloaded = ModelRequest(model="sim-529", messages=[Message(role="user", content="x")])
    with pytest.raises(Overloaded):
        anthropic.parse_response(call(anthropic, overloaded, stream=False), overloaded)

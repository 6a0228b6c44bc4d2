"""A read that carries many SSE events: the chunks before a bad event reach the caller, then the error.

aiohttp hands a stream over as whatever is buffered, and a server may write a whole answer at once; a
decoder that raised at the bad event used to drop every chunk it had decoded from that read, so a
policy saw a stream "broken before content" and failed over, repeating text the caller never got.
"""

from __future__ import annotations

import json

import httpx
import pytest

from steadyhand.errors import UnexpectedProviderResponse
from steadyhand.providers.capabilities import OPENAI
from steadyhand.providers.http import HttpxTransport
from steadyhand.providers.http_provider import HTTPProvider
from steadyhand.providers.openai_chat import OpenAIChat
from steadyhand.types import Chunk, Message, ModelRequest


def _event(delta: dict[str, str], finish: str | None = None) -> str:
    body = {"id": "c", "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n"


def _provider(body: bytes) -> HTTPProvider:
    def one_read(_: httpx.Request) -> httpx.Response:  # the whole body in a single chunk
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=httpx.ByteStream(body)
        )

    wire = OpenAIChat(base_url="http://h/v1", api_key=None, provider_name="p", capabilities=OPENAI)
    return HTTPProvider(wire, transport=HttpxTransport(httpx.Client(transport=httpx.MockTransport(one_read))))


REQUEST = ModelRequest(model="m", messages=[Message(role="user", content="hi")])


def test_chunks_before_a_malformed_event_in_the_same_read_come_first() -> None:
    body = _event({"content": "Hello"}) + _event({"content": " there"}) + "data: {not json\n\n"
    body += _event({}, "stop") + "data: [DONE]\n\n"
    seen: list[str] = []
    with pytest.raises(UnexpectedProviderResponse, match="malformed stream event"):
        for chunk in _provider(body.encode()).stream(REQUEST):
            seen.append(chunk.text)
    assert "".join(seen) == "Hello there"


def test_a_malformed_first_event_raises_at_once() -> None:
    with pytest.raises(UnexpectedProviderResponse):
        list(_provider(b"data: {not json\n\n" + _event({"content": "late"}).encode()).stream(REQUEST))


def test_a_whole_answer_in_one_read_is_every_chunk() -> None:
    body = _event({"content": "a"}) + _event({"content": "b"}) + _event({}, "stop") + "data: [DONE]\n\n"
    assert "".join(c.text for c in _provider(body.encode()).stream(REQUEST)) == "ab"


def test_the_first_chunk_of_a_read_comes_out_before_the_rest_of_the_read_is_decoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Time to first token must not include decoding a whole answer that arrived in one read."""
    events = [_event({"content": str(n)}) for n in range(50)] + [_event({}, "stop"), "data: [DONE]\n\n"]
    provider = _provider("".join(events).encode())
    decoded: list[bytes] = []
    make_decoder = provider.wire.stream_decoder

    def counting(request: ModelRequest) -> object:
        decoder = make_decoder(request)
        feed = decoder.feed

        def feed_one(data: bytes) -> list[Chunk]:
            decoded.append(data)
            return feed(data)

        decoder.feed = feed_one  # type: ignore[method-assign]
        return decoder

    monkeypatch.setattr(provider.wire, "stream_decoder", counting)
    stream = provider.stream(REQUEST)
    assert next(stream).text == "0"
    assert len(decoded) == 1
    assert "".join(c.text for c in stream) == "".join(str(n) for n in range(1, 50))
    assert len(decoded) == len(events)

"""The same-protocol relay: an OpenAI-format upstream's plain text events reach an OpenAI chat client as the
upstream sent them (not decoded and encoded again), and what the client reads is what the re-encode
would have said in every field that matters; a client of another API still gets a translated stream.

The upstream here writes a whole answer at once (as nginx serving a file does, and as a fast model's
burst can), so one read carries many events: the case the relay exists for.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anthropic
import httpx
import openai
import pytest

from _contract import validate
from steadyhand import Config
from steadyhand.context import CallContext
from steadyhand.providers.capabilities import OPENAI
from steadyhand.providers.http import HttpxTransport
from steadyhand.providers.http_provider import HTTPProvider
from steadyhand.providers.inbound_anthropic import decode_messages
from steadyhand.providers.inbound_openai import decode_chat
from steadyhand.providers.inbound_openai_responses import decode_responses
from steadyhand.providers.openai_chat import OpenAIChat
from steadyhand.server import Gateway, GatewayServer
from steadyhand.server.apis import ANTHROPIC_MESSAGES, API, OPENAI_CHAT, OPENAI_RESPONSES
from steadyhand.types import Chunk

WORDS = ["Hello", " from", " the", " one", "-write", " upstream", ', "quoted"', " ünïcode", "."]


def _event(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> bytes:
    doc: dict[str, Any] = {
        "id": "chatcmpl-up",
        "object": "chat.completion.chunk",
        "created": 1767225600,
        "model": "up-model",
        "system_fingerprint": "fp_up",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if usage is not None:
        doc["usage"] = usage
    return b"data: " + json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


TEXT_EVENTS = [_event({"content": w}) for w in WORDS]
BODY = (
    _event({"role": "assistant", "content": ""})
    + b"".join(TEXT_EVENTS)
    + _event({}, "stop")
    + _event({}, None, {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14})
    + b"data: [DONE]\n\n"
)


def _chunks(coalesce: bool) -> list[Chunk]:
    def one_read(_: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=httpx.ByteStream(BODY)
        )

    wire = OpenAIChat(base_url="http://up/v1", api_key=None, provider_name="up", capabilities=OPENAI)
    request = decode_chat({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).request
    with httpx.Client(transport=httpx.MockTransport(one_read)) as client:
        provider = HTTPProvider(wire, transport=HttpxTransport(client))
        return list(provider.stream(request, ctx=CallContext(coalesce=coalesce)))


def _written(api: API, body: dict[str, Any], chunks: list[Chunk]) -> bytes:
    decode = {
        OPENAI_CHAT: decode_chat,
        ANTHROPIC_MESSAGES: decode_messages,
        OPENAI_RESPONSES: decode_responses,
    }
    inbound = decode[api](body)
    writer = api.writer(inbound, chunks[0])
    return b"".join(writer.feed(c) for c in chunks) + writer.close()


def _docs(stream: bytes) -> list[Any]:
    lines = [line[6:] for line in stream.decode().split("\n") if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def _fields(doc: dict[str, Any]) -> Any:
    """What a client reads from a chunk: ids, the choices' index, delta and finish, the usage."""
    choices = [(c["index"], c["delta"], c["finish_reason"]) for c in doc["choices"]]
    return doc["id"], doc["object"], doc["model"], choices, doc.get("usage")


MESSAGES: Any = [{"role": "user", "content": "hi"}]
CHAT = {"model": "m", "messages": MESSAGES, "stream": True}


@pytest.mark.parametrize("include_usage", [False, True])
def test_relayed_events_are_the_upstreams_bytes_and_say_what_the_re_encode_says(include_usage: bool) -> None:
    body = {**CHAT, "stream_options": {"include_usage": include_usage}}
    relayed = _written(OPENAI_CHAT, body, _chunks(coalesce=True))
    encoded = _written(OPENAI_CHAT, body, _chunks(coalesce=False))
    assert b"".join(TEXT_EVENTS[1:]) in relayed  # after the first word: the upstream's own bytes
    assert b"".join(TEXT_EVENTS[1:]) not in encoded
    ours, theirs = _docs(relayed), _docs(encoded)
    assert [_fields(d) for d in ours] == [_fields(d) for d in theirs]
    for doc in ours:
        validate("CreateChatCompletionStreamResponse", doc)
    assert "".join(d["choices"][0]["delta"].get("content") or "" for d in ours if d["choices"]) == "".join(
        WORDS
    )


@pytest.mark.parametrize(
    ("api", "body"),
    [
        (
            ANTHROPIC_MESSAGES,
            {"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]},
        ),
        (OPENAI_RESPONSES, {"model": "m", "input": "hi", "stream": True}),
    ],
)
def test_another_api_gets_the_same_answer_translated(api: API, body: dict[str, Any]) -> None:
    merged, exact = _chunks(coalesce=True), _chunks(coalesce=False)
    assert any(c.raw_events for c in merged)  # the chunks did carry the upstream's bytes
    relayed = _written(api, body, merged)
    assert b"chat.completion.chunk" not in relayed  # nothing of the OpenAI events leaked through
    assert _text(api, relayed) == _text(api, _written(api, body, exact)) == "".join(WORDS)


def _text(api: API, stream: bytes) -> str:
    docs = [json.loads(line[6:]) for line in stream.decode().split("\n") if line.startswith("data: ")]
    if api is ANTHROPIC_MESSAGES:
        assert docs[-1]["type"] == "message_stop"
        return "".join(d["delta"]["text"] for d in docs if d["type"] == "content_block_delta")
    assert docs[-1]["type"] == "response.completed"
    return "".join(d["delta"] for d in docs if d["type"] == "response.output_text.delta")


# -- over HTTP: the gateway in front of the one-write upstream -----------------------------------------


class _OneWrite(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def relay_gateway() -> Iterator[GatewayServer]:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _OneWrite)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{upstream.server_address[1]}/v1"
    config = Config.model_validate(
        {
            "providers": {"up": {"kind": "openai_compatible", "base_url": url, "api_key": "k"}},
            "models": {"m": {"target": "up:up-model-2025-01-01", "retry": {"attempts": 2}}},
        }
    )
    try:
        with GatewayServer(Gateway(config)) as server:
            yield server
    finally:
        upstream.shutdown()
        upstream.server_close()


def test_sdks_read_the_relayed_stream(relay_gateway: GatewayServer) -> None:
    with httpx.stream("POST", relay_gateway.base_url + "/v1/chat/completions", json=CHAT) as r:
        raw = r.read()
    assert b"".join(TEXT_EVENTS[1:]) in raw and raw.endswith(b"data: [DONE]\n\n")
    with openai.OpenAI(base_url=relay_gateway.base_url + "/v1", api_key="unused", max_retries=0) as client:
        stream = client.chat.completions.create(
            model="m", messages=MESSAGES, stream=True,
            stream_options={"include_usage": True},
        )  # fmt: skip
        chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "".join(WORDS)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 9
    ant = anthropic.Anthropic(base_url=relay_gateway.base_url, api_key="unused", max_retries=0)
    with ant, ant.messages.stream(model="m", max_tokens=64, messages=MESSAGES) as s:
        assert "".join(s.text_stream) == "".join(WORDS)
        assert s.get_final_message().stop_reason == "end_turn"


class _SlowTracer:
    """Holds the ``llm`` span's record until released: the event loop stops there meanwhile."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.kinds: list[str] = []

    def record(self, span: Any) -> None:
        self.kinds.append(span.kind)
        if span.kind == "llm":
            self.release.wait(10)


def test_the_client_has_the_whole_stream_before_its_span_is_recorded(relay_gateway: GatewayServer) -> None:
    tracer = _SlowTracer()
    with GatewayServer(Gateway(relay_gateway.gateway.state.config, tracer=tracer)) as server:
        try:
            with httpx.stream("POST", server.base_url + "/v1/chat/completions", json=CHAT, timeout=3) as r:
                raw = r.read()  # a timeout here: the end waited for the span
            assert raw.endswith(b"data: [DONE]\n\n") and "llm" in tracer.kinds
        finally:
            tracer.release.set()

"""Usage with cached tokens in every inbound protocol (an injected provider reports them), the
overhead header's meaning, and a client that leaves mid-stream: the upstream call stops and the
gateway keeps serving."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from steadyhand import Config, Usage
from steadyhand.server import Gateway, GatewayServer
from steadyhand.sim import SimServer
from steadyhand.testing import FunctionProvider, text_response
from steadyhand.types import ModelRequest

from .conftest import gateway_config

USER: list[Any] = [{"role": "user", "content": "hi"}]
CACHED = Usage(input_tokens=1200, output_tokens=7, cached_input_tokens=1000, cache_write_tokens=100)


def _answer(request: ModelRequest) -> Any:
    return text_response("cached answer", model="cache-model", usage=CACHED)


@pytest.fixture(scope="module")
def cached() -> Iterator[GatewayServer]:
    config = Config.model_validate({"models": {"cached": "fake:cache-model"}})
    gateway = Gateway(config, providers={"fake": FunctionProvider(_answer, name="fake")})
    with GatewayServer(gateway) as server:
        yield server


def test_openai_usage_carries_cached_tokens(cached: GatewayServer) -> None:
    with openai.OpenAI(base_url=cached.base_url + "/v1", api_key="x", max_retries=0) as client:
        out = client.chat.completions.create(model="cached", messages=USER)
        assert out.usage is not None and out.usage.prompt_tokens == 1200
        assert (
            out.usage.prompt_tokens_details is not None
            and out.usage.prompt_tokens_details.cached_tokens == 1000
        )
        chunks = list(
            client.chat.completions.create(
                model="cached", messages=USER, stream=True, stream_options={"include_usage": True}
            )
        )
        usage = chunks[-1].usage
        assert usage is not None and usage.prompt_tokens_details is not None
        assert usage.prompt_tokens_details.cached_tokens == 1000 and usage.completion_tokens == 7


def test_anthropic_usage_splits_cache_reads_and_writes(cached: GatewayServer) -> None:
    with anthropic.Anthropic(base_url=cached.base_url, api_key="x", max_retries=0) as client:
        for message in (
            client.messages.create(model="cached", max_tokens=50, messages=USER),
            _streamed(client),
        ):
            usage = message.usage
            assert usage.input_tokens == 100  # Anthropic's input excludes cache reads and writes
            assert usage.cache_read_input_tokens == 1000 and usage.cache_creation_input_tokens == 100
            assert usage.output_tokens == 7


def _streamed(client: anthropic.Anthropic) -> Any:
    with client.messages.stream(model="cached", max_tokens=50, messages=USER) as stream:
        return stream.get_final_message()


def test_overhead_is_steadyhands_own_time(sim: SimServer) -> None:
    """Against an upstream that waits 2 s before its first token, the overhead excludes that wait."""
    slow = {"slowish": "sim:sim-slow-first-token"}
    with GatewayServer(Gateway(gateway_config(sim, slow))) as server:
        started = time.monotonic()
        r = httpx.post(
            server.base_url + "/v1/chat/completions", json={"model": "slowish", "messages": USER}, timeout=30
        )
        total_ms = (time.monotonic() - started) * 1000
    assert r.status_code == 200 and total_ms > 1000  # the simulator's slow first token: 2 s
    assert 0 <= float(r.headers["x-steadyhand-overhead-ms"]) < total_ms / 4


def test_a_client_leaving_mid_stream_stops_the_upstream(sim: SimServer) -> None:
    models = {"trickle": "sim:sim-stall"}
    with GatewayServer(Gateway(gateway_config(sim, models))) as server:
        body = json.dumps({"model": "trickle", "messages": USER, "stream": True}).encode()
        request = (
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\n\r\n%b" % (len(body), body)
        )
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(request)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")  # the stream started, then stalls
        core = server.core
        assert core is not None
        for _ in range(100):
            if not core.in_flight:
                break
            time.sleep(0.05)
        assert not core.in_flight, "the request kept running after its client left"
        assert httpx.get(server.base_url + "/healthz").status_code == 200

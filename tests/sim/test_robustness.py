"""The simulator must not fall over: the real API's embeddings limits, heavy requests that leave
other clients responsive, read/idle timeouts, a body-size limit and prompt exit on SIGTERM."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import threading
import time
from typing import Any

import anthropic
import httpx
import openai
import pytest

from steadyhand.sim import SimServer, http
from steadyhand.sim.tokens import count_tokens, split_pieces

from .sim_process import sim_process

PING: Any = {"model": "sim-basic", "messages": [{"role": "user", "content": "hi"}]}


def test_embeddings_limits_are_the_real_apis(sim: SimServer) -> None:
    url = f"{sim.base_url}/v1/embeddings"
    ok = httpx.post(url, json={"model": "text-embedding-3-small", "input": ["a b"] * 2048, "dimensions": 4})
    assert ok.status_code == 200 and len(ok.json()["data"]) == 2048
    for inputs in (["a"] * 2049, ["a"] * 100_000):
        refused = httpx.post(url, json={"model": "text-embedding-3-small", "input": inputs}, timeout=30)
        assert refused.status_code == 400
        assert refused.json()["error"]["message"].startswith("'$.input' is invalid.")
    long_input = httpx.post(url, json={"model": "text-embedding-3-small", "input": "word " * 9000})
    assert long_input.status_code == 400 and "maximum context length is 8192" in long_input.text
    too_many_tokens = httpx.post(url, json={"model": "m", "input": ["word " * 8000] * 40}, timeout=30)
    assert too_many_tokens.json()["error"]["code"] == "max_tokens_per_request"


def _ping(client: httpx.Client, base: str) -> tuple[float, float]:
    """(latency, completion time) of one short request."""
    started = time.perf_counter()
    assert client.post(f"{base}/v1/chat/completions", json=PING).status_code == 200
    done = time.perf_counter()
    return done - started, done


def _heavy(kind: str, base: str, answered: list[float]) -> None:
    """Send the heavy request; note when its answer starts (the server has finished building it)."""
    if kind == "embeddings":
        body: Any = {"model": "text-embedding-3-small", "input": ["hello there world"] * 2048}
        path = "/v1/embeddings"
    else:
        body = {
            "model": "sim-echo",
            "stream": True,
            "messages": [{"role": "user", "content": "word " * 2**18}],
        }
        path = "/v1/chat/completions"
    with httpx.stream("POST", base + path, json=body, timeout=300) as response:
        answered.append(time.perf_counter())
        assert response.status_code == 200
        for _ in response.iter_raw():
            pass


@pytest.mark.parametrize("kind", ["embeddings", "echo-1MiB-stream"])
def test_a_heavy_request_does_not_stall_other_clients(kind: str) -> None:
    """Relative, not wall-clock: while the simulator builds the heavy answer, short requests keep
    completing, each far quicker than that build (when it ran on the loop, one waited for all of it)."""
    with sim_process() as (_, base), httpx.Client(timeout=300) as client:
        _ping(client, base)
        answered: list[float] = []
        worker = threading.Thread(target=_heavy, args=(kind, base, answered))
        started = time.perf_counter()
        worker.start()
        pings = []
        while worker.is_alive() and not answered:
            pings.append(_ping(client, base))
        worker.join()
    build = answered[0] - started
    latencies = sorted(latency for latency, _ in pings)
    assert len(latencies) >= 5, f"only {len(latencies)} short requests completed during a {build:.1f} s build"
    assert latencies[-1] < build / 2, f"a short request waited {latencies[-1]:.2f} s of a {build:.2f} s build"


def test_long_whitespace_runs_are_linear(sim: SimServer) -> None:
    """A prompt ending in 20,000 spaces took a minute to split into pieces (a quadratic regex scan)."""
    content = "hi there" + " " * 20_000
    for stream in (False, True):
        body = {"model": "sim-echo", "messages": [{"role": "user", "content": content}], "stream": stream}
        r = httpx.post(f"{sim.base_url}/v1/chat/completions", json=body, timeout=20)
        assert r.status_code == 200
    assert r.text.count("data: ") >= 3
    chat = httpx.post(
        f"{sim.base_url}/v1/chat/completions", json={**body, "stream": False}, timeout=20
    ).json()
    assert chat["choices"][0]["message"]["content"] == content


def test_long_texts_split_alike_in_slices() -> None:
    text = ("alpha, beta\n\n" * 20_000) + "x" * 70_000 + "  tail " + " " * 70_000
    pieces = split_pieces(text)
    assert "".join(pieces) == text and count_tokens(text) == len(pieces) == 60_002
    assert pieces[:3] == ["alpha", ",", " beta"]


def _raw(port: int, data: bytes, *, wait: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(wait)
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_half_sent_request_times_out_with_408() -> None:
    with SimServer(read_timeout=0.3) as sim:
        answer = _raw(
            sim.port, b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"
        )
        headers_only = _raw(sim.port, b"POST /v1/messages HTTP/1.1\r\nhost: x\r\n")
    assert answer.startswith(b"HTTP/1.1 408") and b'"type":"invalid_request_error"' in answer
    assert headers_only.startswith(b"HTTP/1.1 408") and b'"type":"error"' in headers_only  # Anthropic shape


def test_idle_connections_are_closed_but_answers_in_progress_are_not() -> None:
    with SimServer(idle_timeout=0.3, read_timeout=0.3) as sim:
        assert _raw(sim.port, b"") == b""  # connected, never sent a byte: closed (EOF, not a timeout)
        with socket.create_connection(("127.0.0.1", sim.port)) as sock:
            body = b'{"model":"sim-hang","messages":[{"role":"user","content":"hi"}]}'
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%b"
                         % (len(body), body))  # fmt: skip
            sock.settimeout(1.5)  # five idle timeouts: the hang fault keeps it open all along
            with pytest.raises(TimeoutError):
                sock.recv(1)
        with httpx.Client() as client:
            client.post(f"{sim.base_url}/v1/chat/completions", json=PING)
            time.sleep(1.0)
            assert client.post(f"{sim.base_url}/v1/chat/completions", json=PING).status_code == 200


def test_bodies_over_the_limit_get_413_in_each_apis_shape() -> None:
    big = "x" * 5000
    with SimServer(max_body_bytes=4096) as sim:
        oai = openai.OpenAI(base_url=f"{sim.base_url}/v1", api_key="k", max_retries=0, timeout=10)
        with oai, pytest.raises(openai.APIStatusError) as oai_error:
            oai.chat.completions.create(model="sim-basic", messages=[{"role": "user", "content": big}])
        claude = anthropic.Anthropic(base_url=sim.base_url, api_key="k", max_retries=0, timeout=10)
        with claude, pytest.raises(anthropic.APIStatusError) as ant_error:
            claude.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": big}])
        chunked = _raw(
            sim.port,
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
            + b"".join(b"400\r\n" + b"y" * 1024 + b"\r\n" for _ in range(8)),
        )
        assert httpx.post(f"{sim.base_url}/v1/chat/completions", json=PING).status_code == 200
    assert oai_error.value.status_code == 413 and oai_error.value.code == "request_too_large"
    assert ant_error.value.status_code == 413
    assert (
        isinstance(ant_error.value.body, dict)
        and ant_error.value.body["error"]["type"] == "request_too_large"
    )
    assert chunked.startswith(b"HTTP/1.1 413")


def test_sigterm_stops_the_cli_promptly_under_load() -> None:
    words = "word " * (2**20 - 16)  # just inside the simulator's prompt limit: minutes of work each
    huge = {"model": "sim-echo", "stream": True, "messages": [{"role": "user", "content": words}]}

    def load(base: str) -> None:
        _swallow(lambda: httpx.post(f"{base}/v1/chat/completions", json=huge, timeout=60))

    with sim_process(measured=False) as (process, base):
        loaders = [threading.Thread(target=load, args=(base,)) for _ in range(3)]
        for loader in loaders:
            loader.start()
        time.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=10)  # when the loop built these answers, it took minutes
        for loader in loaders:
            loader.join()
    assert code == 0


def _swallow(fn: Any) -> None:
    with contextlib.suppress(httpx.HTTPError):
        fn()


def test_item_by_item_encoding_is_the_same_json() -> None:
    doc = {"object": "list", "data": [{"index": i, "embedding": [0.5, -1.0]} for i in range(3)], "model": "m"}
    assert json.loads(http.dumps_items(doc, "data")) == doc
    assert json.loads(http.dumps_items({"data": []}, "data")) == {"data": []}

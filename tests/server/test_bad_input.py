"""Bad input gets a 4xx in the caller's protocol's error shape naming the field: never a 500, never a hang.

Bad JSON, wrong types, an unknown model (the known ones listed), an oversize body, an unsupported
parameter, an unknown path or method, a malformed request line, and slow clients (slowloris) that
are cut off with a 408. A hypothesis fuzz test then sends thousands of malformed requests.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import _contract
from steadyhand.server import GatewayServer

CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
USER: list[Any] = [{"role": "user", "content": "hi"}]


def _post(gateway: GatewayServer, path: str, body: Any, **kwargs: Any) -> httpx.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(gateway.base_url + path, content=data, timeout=10, **kwargs)


def _openai_error(r: httpx.Response) -> dict[str, Any]:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    _contract.validate("ErrorResponse", r.json())
    error: dict[str, Any] = r.json()["error"]
    return error


def _anthropic_error(r: httpx.Response) -> dict[str, Any]:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    doc = r.json()
    assert doc["type"] == "error" and set(doc["error"]) >= {"type", "message"}
    error: dict[str, Any] = doc["error"]
    return error


def test_bad_json_in_both_protocols(gateway: GatewayServer) -> None:
    assert "could not parse the JSON body" in _openai_error(_post(gateway, CHAT, b"{not json"))["message"]
    error = _anthropic_error(_post(gateway, MESSAGES, b"{not json"))
    assert error["type"] == "invalid_request_error" and "not valid JSON" in error["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "fast", "messages": "hi"}, "messages"),
        ({"model": "fast", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"model": "fast", "messages": USER, "temperature": "hot"}, "temperature"),
        ({"model": "fast", "messages": USER, "max_tokens": -1}, "max_tokens"),
        ({"model": 7, "messages": USER}, "model"),
        ({"messages": USER}, "model"),
    ],
)
def test_wrong_types_name_the_field(gateway: GatewayServer, body: Any, param: str) -> None:
    error = _openai_error(_post(gateway, CHAT, body))
    assert error["param"] == param and param in error["message"]


def test_anthropic_wrong_types_name_the_field(gateway: GatewayServer) -> None:
    body = {"model": "fast", "max_tokens": "lots", "messages": USER}
    assert _anthropic_error(_post(gateway, MESSAGES, body))["message"].startswith("max_tokens:")
    body = {"model": "fast", "messages": USER}
    assert "max_tokens: Field required" in _anthropic_error(_post(gateway, MESSAGES, body))["message"]


def test_unknown_model_lists_the_known_ones(gateway: GatewayServer) -> None:
    r = _post(gateway, CHAT, {"model": "gpt-9", "messages": USER})
    assert r.status_code == 404
    error = _openai_error(r)
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert "'gpt-9'" in error["message"] and "'fast'" in error["message"] and "'claude'" in error["message"]
    r = _post(gateway, MESSAGES, {"model": "gpt-9", "max_tokens": 5, "messages": USER})
    error = _anthropic_error(r)
    assert r.status_code == 404 and error["type"] == "not_found_error" and "'fast'" in error["message"]
    r = _post(gateway, "/v1/embeddings", {"model": "gpt-9", "input": "x"})
    assert r.status_code == 404 and "'fast'" in _openai_error(r)["message"]


def test_provider_colon_model_is_accepted(gateway: GatewayServer) -> None:
    r = _post(gateway, CHAT, {"model": "sim:sim-echo", "messages": [{"role": "user", "content": "direct"}]})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "direct"


def test_unsupported_parameters_are_refused_naming_them(gateway: GatewayServer) -> None:
    legacy = [{"role": "function", "name": "f", "content": "x"}]
    error = _openai_error(_post(gateway, CHAT, {"model": "fast", "messages": legacy}))
    assert error["param"] == "messages[0].role" and error["code"] == "unsupported_value"
    # A field of another API is refused, not silently dropped, when the upstream speaks another format.
    error = _openai_error(_post(gateway, CHAT, {"model": "claude", "messages": USER, "logit_bias": {"1": 2}}))
    assert error["param"] == "logit_bias" and error["code"] == "unsupported_parameter"
    body = {"model": "fast", "max_tokens": 5, "messages": USER, "top_k": 3}
    assert "top_k" in _anthropic_error(_post(gateway, MESSAGES, body))["message"]


def test_oversize_body_is_413_in_the_callers_shape(gateway: GatewayServer) -> None:
    big = "x" * (300 * 1024)  # the fixture's limit is 256 KiB
    r = _post(gateway, CHAT, {"model": "fast", "messages": [{"role": "user", "content": big}]})
    assert r.status_code == 413 and _openai_error(r)["code"] == "request_too_large"
    r = _post(
        gateway, MESSAGES, {"model": "fast", "max_tokens": 5, "messages": [{"role": "user", "content": big}]}
    )
    assert r.status_code == 413 and _anthropic_error(r)["type"] == "request_too_large"


def test_unknown_path_and_wrong_method(gateway: GatewayServer) -> None:
    r = httpx.get(gateway.base_url + "/v1/nothing")
    assert r.status_code == 404 and "/v1/chat/completions" in _openai_error(r)["message"]
    r = httpx.get(gateway.base_url + CHAT)
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    _openai_error(r)


def _raw(gateway: GatewayServer, data: bytes, *, wait: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=wait) as sock:
        sock.sendall(data)
        out = b""
        while True:
            try:
                piece = sock.recv(65536)
            except TimeoutError:
                break
            if not piece:
                break
            out += piece
        return out


def test_malformed_http_is_a_400_and_closed(gateway: GatewayServer) -> None:
    answer = _raw(gateway, b"NOT-HTTP \x00\x01\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 ") and b"connection: close" in answer


def test_slowloris_is_cut_off_with_a_408(gateway: GatewayServer) -> None:
    """Headers trickling in, never finished: the fixture's read timeout (1 s) answers 408 and closes."""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")
        started = time.monotonic()
        answer = b""
        for _ in range(40):  # a header line every 0.1 s keeps the connection busy, never complete
            try:
                sock.sendall(b"x-slow: 1\r\n")
            except OSError:
                break
            sock.settimeout(0.1)
            try:
                piece = sock.recv(65536)
            except TimeoutError:
                continue
            if not piece:
                break
            answer += piece
        sock.settimeout(5)
        try:
            while piece := sock.recv(65536):
                answer += piece
        except OSError:
            pass
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert time.monotonic() - started < 8
    assert httpx.get(gateway.base_url + "/healthz").status_code == 200


def test_a_body_that_never_arrives_is_a_408(gateway: GatewayServer) -> None:
    head = b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"
    answer = _raw(gateway, head)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert (
        json.loads(answer.split(b"\r\n\r\n", 1)[1])["type"] == "error"
    )  # Anthropic's shape for /v1/messages


def _healthz(sock: socket.socket) -> bytes:
    sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        answer += sock.recv(65536)
    return answer


def test_a_kept_alive_connection_still_gets_its_read_limit_and_its_idle_limit(sim: Any) -> None:
    """A request that begins arriving before the previous answer's task is done (a fast route such as
    /healthz, a quick client) still gets its 408 after read_timeout: it used to get the idle limit
    instead, and then a close with no answer. An idle connection is closed after idle_timeout."""
    from steadyhand.server import Gateway, GatewayOptions

    from .conftest import gateway_config

    options = GatewayOptions(read_timeout=0.5, idle_timeout=1.5)
    with GatewayServer(Gateway(gateway_config(sim), options=options)) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            for _ in range(3):
                assert _healthz(sock).startswith(b"HTTP/1.1 200 ")
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")  # never finished
            started = time.monotonic()
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 408 ") and time.monotonic() - started < 1.2
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            assert _healthz(sock).startswith(b"HTTP/1.1 200 ")
            started = time.monotonic()
            assert sock.recv(65536) == b""  # closed by the server, idle
            assert 1.0 < time.monotonic() - started < 4


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
_FIELDS = st.sampled_from(
    ["model", "messages", "max_tokens", "stream", "tools", "tool_choice", "temperature", "stop", "system",
     "stream_options", "response_format", "n", "prompt", "input", "top_p", "seed"]
)  # fmt: skip


_MESSAGE = st.dictionaries(st.sampled_from(["role", "content", "tool_calls"]), _JSON, max_size=3)


def _bodies() -> st.SearchStrategy[bytes]:
    near = st.fixed_dictionaries(
        {"model": st.sampled_from(["fast", "claude", "echo", "nope", "sim:sim-basic"]) | _JSON},
        optional={
            "messages": st.just(USER) | st.lists(_MESSAGE, max_size=3) | _JSON,
            "max_tokens": st.integers(-5, 50) | _JSON,
            "stream": st.booleans() | _JSON,
        },
    )  # fmt: skip
    shaped = st.dictionaries(_FIELDS, _JSON, max_size=6)
    docs = (near | shaped | _JSON).map(lambda d: json.dumps(d).encode())
    junk = st.binary(max_size=200)
    cut = docs.flatmap(lambda b: st.integers(0, max(len(b) - 1, 0)).map(lambda i: b[:i]))
    return docs | junk | cut


@settings(max_examples=2000, derandomize=True)
@given(
    path=st.sampled_from([CHAT, MESSAGES, "/v1/completions", "/v1/embeddings"]),
    body=_bodies(),
    content_type=st.sampled_from(["application/json", "text/plain", ""]),
)
def test_fuzz_no_5xx_no_hang(
    gateway: GatewayServer, client: httpx.Client, path: str, body: bytes, content_type: str
) -> None:
    r = client.post(
        gateway.base_url + path, content=body, headers={"content-type": content_type} if content_type else {}
    )
    assert r.status_code < 500, (path, body, r.status_code, r.text)
    if r.status_code >= 400:
        doc = r.json()
        if path == MESSAGES:
            assert doc["type"] == "error" and doc["error"]["message"]
        else:
            assert set(doc["error"]) == {"message", "type", "param", "code"}


@pytest.fixture(scope="module")
def client(gateway: GatewayServer) -> Any:
    with httpx.Client(timeout=httpx.Timeout(10.0)) as c:
        yield c


def test_still_answers_after_the_fuzz(gateway: GatewayServer) -> None:
    r = _post(gateway, CHAT, {"model": "fast", "messages": USER})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"]

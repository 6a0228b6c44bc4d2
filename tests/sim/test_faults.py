"""Each model-name fault makes the official SDKs raise the error class a real provider would cause."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import anthropic
import httpx
import openai
import pytest

from steadyhand.sim import SimServer

from .conftest import Validate

MSGS: list[Any] = [{"role": "user", "content": "Tell me something."}]


def _oai(sim: SimServer, timeout: float = 5.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{sim.base_url}/v1", api_key="sk-test", max_retries=0, timeout=timeout)


def _ant(sim: SimServer, timeout: float = 5.0) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0, timeout=timeout)


@pytest.mark.parametrize(
    ("model", "error", "status", "code"),
    [
        ("sim-429", openai.RateLimitError, 429, "rate_limit_exceeded"),
        ("sim-429-no-retry-after", openai.RateLimitError, 429, "rate_limit_exceeded"),
        ("sim-quota", openai.RateLimitError, 429, "insufficient_quota"),
        ("sim-500", openai.InternalServerError, 500, None),
        ("sim-502", openai.InternalServerError, 502, None),
        ("sim-503", openai.InternalServerError, 503, "server_is_overloaded"),
        ("sim-529", openai.InternalServerError, 529, "server_is_overloaded"),
        ("sim-context-length", openai.BadRequestError, 400, "context_length_exceeded"),
        ("sim-overloaded", openai.InternalServerError, 503, "server_is_overloaded"),
        ("sim-content-filter", openai.BadRequestError, 400, "content_policy_violation"),
        ("sim-content-filter-prompt", openai.BadRequestError, 400, "invalid_prompt"),
    ],
)
def test_openai_error_faults(
    sim: SimServer,
    validate: Validate,
    model: str,
    error: type[openai.APIStatusError],
    status: int,
    code: str | None,
) -> None:
    with _oai(sim) as client, pytest.raises(error) as caught:
        client.chat.completions.create(model=model, messages=MSGS)
    assert caught.value.status_code == status and caught.value.code == code
    validate("ErrorResponse", caught.value.body and {"error": caught.value.body})
    headers = caught.value.response.headers
    assert headers["x-request-id"].startswith("req_")
    has_retry = status in (429, 500, 502, 503, 529) and model not in ("sim-429-no-retry-after", "sim-quota")
    assert ("retry-after" in headers) is has_retry and ("retry-after-ms" in headers) is has_retry


def test_context_length_names_messages_param(sim: SimServer) -> None:
    r = httpx.post(
        f"{sim.base_url}/v1/chat/completions", json={"model": "sim-context-length", "messages": MSGS}
    )
    assert r.json()["error"]["param"] == "messages"


@pytest.mark.parametrize(
    ("model", "error", "status"),
    [
        ("sim-529", anthropic.OverloadedError, 529),
        ("sim-overloaded", anthropic.OverloadedError, 529),
        ("sim-500", anthropic.InternalServerError, 500),
        ("sim-429", anthropic.RateLimitError, 429),
        ("sim-quota", anthropic.RateLimitError, 429),
        ("sim-context-length", anthropic.BadRequestError, 400),
    ],
)
def test_anthropic_error_faults(
    sim: SimServer, model: str, error: type[anthropic.APIStatusError], status: int
) -> None:
    with _ant(sim) as client, pytest.raises(error) as caught:
        client.messages.create(model=model, max_tokens=32, messages=MSGS)
    assert caught.value.status_code == status
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "error" and "request_id" in body
    if model == "sim-quota":
        assert body["error"]["details"]["error_code"] == "enforced_spend_limit_reached"


def test_anthropic_529_in_stream_after_200(sim: SimServer) -> None:
    with (
        _ant(sim) as client,
        pytest.raises(anthropic.APIStatusError) as caught,
        client.messages.stream(model="sim-529-in-stream", max_tokens=32, messages=MSGS) as stream,
    ):
        stream.get_final_message()
    assert "Overloaded" in str(caught.value)


def test_openai_in_band_stream_error(sim: SimServer) -> None:
    with _oai(sim) as client, pytest.raises(openai.APIError, match="server had an error"):
        list(client.chat.completions.create(model="sim-529-in-stream", messages=MSGS, stream=True))


def test_no_prefill_only_when_last_message_is_assistant(sim: SimServer) -> None:
    with _ant(sim) as client:
        assert client.messages.create(model="sim-no-prefill", max_tokens=16, messages=MSGS).content
        prefill = [*MSGS, {"role": "assistant", "content": "Sure,"}]
        with pytest.raises(anthropic.BadRequestError, match="prefill"):
            client.messages.create(model="sim-no-prefill", max_tokens=16, messages=prefill)


def test_reset_is_a_tcp_rst_before_headers(sim: SimServer) -> None:
    with _oai(sim) as client, pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="sim-reset", messages=MSGS)
    body = json.dumps({"model": "sim-reset", "messages": MSGS}).encode()
    with socket.create_connection(("127.0.0.1", sim.port)) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%b"
            % (len(body), body)
        )
        with pytest.raises(ConnectionResetError):
            sock.recv(1024)


@pytest.mark.parametrize("model", ["sim-hang", "sim-slow-first-token"])
def test_hang_and_slow_first_token_time_out(sim: SimServer, model: str) -> None:
    started = time.monotonic()
    with _oai(sim, timeout=0.3) as client, pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model=model, messages=MSGS)
    assert time.monotonic() - started < 10  # the fault lasts far longer: only the client's timeout ends it


def test_stall_keeps_connection_open_after_some_chunks(sim: SimServer) -> None:
    seen: list[str] = []
    with _oai(sim, timeout=2.0) as client, pytest.raises(openai.APITimeoutError):
        for chunk in client.chat.completions.create(model="sim-stall", messages=MSGS, stream=True):
            seen.append(chunk.choices[0].delta.content or "")
    assert len(seen) == 3  # role chunk + 2 content chunks, then silence


def test_cut_closes_mid_stream(sim: SimServer) -> None:
    with _oai(sim) as client, pytest.raises(openai.APIConnectionError):
        list(client.chat.completions.create(model="sim-cut", messages=MSGS, stream=True))
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(f"{sim.base_url}/v1/chat/completions", json={"model": "sim-cut", "messages": MSGS})


def test_malformed_sse_and_missing_done(sim: SimServer) -> None:
    with _oai(sim) as client:
        with pytest.raises(json.JSONDecodeError):
            list(client.chat.completions.create(model="sim-malformed-sse", messages=MSGS, stream=True))
        raw = httpx.post(
            f"{sim.base_url}/v1/chat/completions",
            json={"model": "sim-no-done", "messages": MSGS, "stream": True},
        ).text
        assert "[DONE]" not in raw and '"finish_reason":"stop"' in raw


@pytest.mark.parametrize(
    ("model", "check"),
    [
        ("sim-json-prose", lambda t: t.startswith("Sure!") and '"answer"' in t),
        ("sim-json-fenced", lambda t: t.startswith("```json\n") and t.endswith("\n```")),
        ("sim-json-trailing-comma", lambda t: ",\n}" in t),
    ],
)
def test_json_output_faults(sim: SimServer, model: str, check: Any) -> None:
    with _oai(sim) as client:
        text = client.chat.completions.create(model=model, messages=MSGS).choices[0].message.content or ""
    assert check(text), text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_json_truncated_reports_length(sim: SimServer) -> None:
    with _oai(sim) as client:
        out = client.chat.completions.create(model="sim-json-truncated", messages=MSGS)
    assert out.choices[0].finish_reason == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(out.choices[0].message.content or "")


def test_json_wrong_types_turns_numbers_and_booleans_into_strings(sim: SimServer) -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "minimum": 3},
            "ok": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    }
    fmt: Any = {"type": "json_schema", "json_schema": {"name": "t", "schema": schema}}
    with _oai(sim) as client:
        out = client.chat.completions.create(model="sim-json-wrong-types", messages=MSGS, response_format=fmt)
    assert json.loads(out.choices[0].message.content or "") == {"n": "3", "ok": "false", "tags": "example"}

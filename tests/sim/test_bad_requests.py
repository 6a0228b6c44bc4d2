"""Requests the real APIs refuse get the real API's 400 body from the simulator (through the inbound
codecs), never a 200 or a 500 "simulator bug"; the official SDKs raise ``BadRequestError`` for them."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
import pytest

from steadyhand.sim import SimServer

from .conftest import Validate

MSGS: list[Any] = [{"role": "user", "content": "hi"}]

# (keyword arguments to chat.completions.create, the param OpenAI names)
OPENAI_BAD: list[tuple[dict[str, Any], str | None]] = [
    ({"max_tokens": -1}, "max_tokens"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": "100"}, "max_tokens"),
    ({"n": 1000}, "n"),
    ({"n": -1}, "n"),
    ({"temperature": 3}, "temperature"),
    ({"messages": [{"role": "usr", "content": "hi"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": 42}]}, "messages[0].content"),
    (
        {"response_format": {"type": "json_schema", "json_schema": '{"type": "object"}'}},
        "response_format.json_schema",
    ),
]


@pytest.mark.parametrize(("fields", "param"), OPENAI_BAD, ids=[p or "body" for _, p in OPENAI_BAD])
def test_openai_sdk_raises_bad_request(sim: SimServer, fields: dict[str, Any], param: str | None) -> None:
    kwargs = {"model": "sim-basic", "messages": MSGS, **fields}
    client = openai.OpenAI(base_url=f"{sim.base_url}/v1", api_key="sk-test", max_retries=0)
    with client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(**kwargs)
    assert caught.value.status_code == 400 and caught.value.param == param
    assert caught.value.type == "invalid_request_error"


LEGACY_BAD = [f for f in OPENAI_BAD[:5] if f[0] != {"max_tokens": 0}]  # legacy max_tokens may be 0


@pytest.mark.parametrize(("fields", "param"), LEGACY_BAD, ids=[p for _, p in LEGACY_BAD])
def test_legacy_completions_refuse_the_same(
    sim: SimServer, fields: dict[str, Any], param: str | None
) -> None:
    client = openai.OpenAI(base_url=f"{sim.base_url}/v1", api_key="sk-test", max_retries=0)
    with client, pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model="m", prompt="hi", **fields)
    assert caught.value.param == param


@pytest.mark.parametrize(
    "content",
    [
        b"[" * 100_000,  # deeper than the stdlib parser goes (RecursionError)
        b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "x": '
        + b"[" * 500
        + b"]" * 500
        + b"}",
        json.dumps({"model": "m", "messages": MSGS, "stream": True, "stream_options": "yes"}).encode(),
    ],
    ids=["very-deep", "deep", "bad-stream-options"],
)
def test_hostile_raw_bodies_get_an_openai_400(sim: SimServer, validate: Validate, content: bytes) -> None:
    r = httpx.post(f"{sim.base_url}/v1/chat/completions", content=content, timeout=10)
    assert r.status_code == 400, r.text[:300]
    validate("ErrorResponse", r.json())


ANTHROPIC_BAD: list[tuple[dict[str, Any], str]] = [
    ({"max_tokens": -1}, "max_tokens: Input should be greater than or equal to 1"),
    ({"max_tokens": "100"}, "max_tokens: Input should be a valid integer"),
    ({"temperature": 1.5}, "temperature: Input should be less than or equal to 1"),
    (
        {"messages": [{"role": "usr", "content": "hi"}]},
        "messages.0.role: Input should be 'user' or 'assistant'",
    ),
    ({"messages": [{"role": "user", "content": 42}]}, "messages.0.content: Input should be a valid list"),
]


@pytest.mark.parametrize(
    ("fields", "message"), ANTHROPIC_BAD, ids=[m.split(":")[0] for _, m in ANTHROPIC_BAD]
)
def test_anthropic_sdk_raises_bad_request(sim: SimServer, fields: dict[str, Any], message: str) -> None:
    client = anthropic.Anthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0)
    with client, pytest.raises(anthropic.BadRequestError) as caught:  # extra_body: the SDK would refuse some
        client.messages.create(model="sim-basic", max_tokens=10, messages=MSGS, extra_body=fields)
    body: Any = caught.value.body
    assert caught.value.status_code == 400 and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error" and body["error"]["message"].startswith(message)
    assert body["request_id"] == caught.value.response.headers["request-id"]


@pytest.mark.parametrize(
    ("fields", "param", "anthropic_message"),
    [
        ({"temperature": float("nan")}, "temperature", "temperature: Input should be a finite number"),
        ({"top_p": float("inf")}, "top_p", "top_p: Input should be a finite number"),
        (
            {"messages": [{"role": "user", "content": "x\ud800"}]},
            "messages[0].content",
            "messages.0.content: ",
        ),
    ],
    ids=["nan", "infinity", "lone-surrogate"],
)
def test_what_the_sdks_cannot_send_is_named_too(
    sim: SimServer, validate: Validate, fields: dict[str, Any], param: str, anthropic_message: str
) -> None:
    """The SDKs refuse to encode NaN or a lone surrogate, but Python's ``json.dumps`` emits both."""
    chat = json.dumps({"model": "m", "messages": MSGS, **fields}).encode()
    r = httpx.post(f"{sim.base_url}/v1/chat/completions", content=chat, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["param"] == param, r.text[:300]
    validate("ErrorResponse", r.json())
    body = json.dumps({"model": "m", "max_tokens": 5, "messages": MSGS, **fields}).encode()
    r = httpx.post(f"{sim.base_url}/v1/messages", content=body, timeout=10)
    assert r.status_code == 400 and r.json()["error"]["message"].startswith(anthropic_message), r.text[:300]


def test_valid_requests_still_answer(sim: SimServer) -> None:
    """The checks refuse only what the real APIs refuse: boundary values are accepted."""
    with openai.OpenAI(base_url=f"{sim.base_url}/v1", api_key="sk-test", max_retries=0) as client:
        out = client.chat.completions.create(
            model="sim-echo",
            messages=[{"role": "developer", "content": "x"}, {"role": "user", "content": "ping é"}],
            n=128,
            temperature=2,
            max_tokens=1,
            top_p=0,
            user="u-1",
        )
    assert out.choices[0].finish_reason == "length"
    with anthropic.Anthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0) as client:
        message = client.messages.create(
            model="sim-echo",
            max_tokens=1,
            messages=[{"role": "user", "content": "ping"}],
            extra_body={"temperature": 1, "top_k": 3},  # this SDK version has no temperature argument
        )
    assert message.stop_reason == "end_turn" and message.content[0].text == "ping"  # type: ignore[union-attr]


def test_a_body_over_32_mib_is_refused_unparsed(sim: SimServer) -> None:
    """Anthropic's documented Messages limit; the simulator refuses it without parsing it."""
    pad = "x" * (32 * 1024 * 1024)
    body = json.dumps({"model": "m", "max_tokens": 5, "messages": MSGS, "pad": pad}).encode()
    r = httpx.post(f"{sim.base_url}/v1/messages", content=body, timeout=30)
    assert r.status_code == 413 and r.json()["error"]["type"] == "request_too_large"
    r = httpx.post(f"{sim.base_url}/v1/chat/completions", content=body, timeout=30)
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"

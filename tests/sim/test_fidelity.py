"""Fidelity found by pointing other clients at the simulator: overload per wire, real content-filter
bodies, rate-limit headers on 429 faults, the Anthropic missing-end fault, model lookups, Anthropic
pagination and token counting, and the request options ``stop``, ``n`` and ``logprobs``."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
import pytest

from steadyhand.sim import SimServer

from .conftest import Validate

MSGS: list[Any] = [{"role": "user", "content": "Tell me something."}]


def _oai(sim: SimServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{sim.base_url}/v1", api_key="sk-test", max_retries=0, timeout=10)


def _ant(sim: SimServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=sim.base_url, api_key="sk-test", max_retries=0, timeout=10)


def _events(sim: SimServer, body: dict[str, Any]) -> list[tuple[str, Any]]:
    raw = httpx.post(f"{sim.base_url}/v1/messages", json={**body, "stream": True}, timeout=10).text
    out = []
    for block in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_sim_overloaded_speaks_each_wire(sim: SimServer) -> None:
    with _oai(sim) as client, pytest.raises(openai.InternalServerError) as oai_error:
        client.chat.completions.create(model="sim-overloaded", messages=MSGS)
    assert oai_error.value.status_code == 503 and oai_error.value.code == "server_is_overloaded"
    with _ant(sim) as client, pytest.raises(anthropic.OverloadedError) as ant_error:
        client.messages.create(model="sim-overloaded", max_tokens=16, messages=MSGS)
    assert ant_error.value.status_code == 529
    assert isinstance(ant_error.value.body, dict)
    assert ant_error.value.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}


@pytest.mark.parametrize(
    ("model", "code", "starts"),
    [
        ("sim-content-filter", "content_policy_violation", "Your request was rejected as a result of our"),
        ("sim-content-filter-prompt", "invalid_prompt", "Invalid prompt: your prompt was flagged"),
    ],
)
def test_content_filter_bodies_are_openais(
    sim: SimServer, validate: Validate, model: str, code: str, starts: str
) -> None:
    r = httpx.post(f"{sim.base_url}/v1/chat/completions", json={"model": model, "messages": MSGS})
    validate("ErrorResponse", r.json())
    assert r.status_code == 400
    assert r.json()["error"] | {"message": ""} == {
        "message": "",
        "type": "invalid_request_error",
        "param": None,
        "code": code,
    }
    assert r.json()["error"]["message"].startswith(starts)


def test_content_filter_finish_is_a_200_on_both_wires(sim: SimServer, validate: Validate) -> None:
    doc = httpx.post(
        f"{sim.base_url}/v1/chat/completions", json={"model": "sim-content-filter-finish", "messages": MSGS}
    ).json()
    validate("CreateChatCompletionResponse", doc)
    assert doc["choices"][0]["finish_reason"] == "content_filter"
    with _oai(sim) as client:
        chunks = list(
            client.chat.completions.create(model="sim-content-filter-finish", messages=MSGS, stream=True)
        )
    assert chunks[-1].choices[0].finish_reason == "content_filter"
    with _ant(sim) as client:
        message = client.messages.create(model="sim-content-filter-finish", max_tokens=64, messages=MSGS)
    assert message.stop_reason == "refusal"
    events = _events(sim, {"model": "sim-content-filter-finish", "max_tokens": 64, "messages": MSGS})
    assert [d for n, d in events if n == "message_delta"][0]["delta"]["stop_reason"] == "refusal"


@pytest.mark.parametrize("model", ["sim-429", "sim-quota"])
def test_429_faults_say_nothing_remains(sim: SimServer, model: str) -> None:
    r = httpx.post(f"{sim.base_url}/v1/chat/completions", json={"model": model, "messages": MSGS})
    assert r.status_code == 429
    assert r.headers["x-ratelimit-remaining-requests"] == "0"
    assert r.headers["x-ratelimit-remaining-tokens"] == "0"
    body = {"model": model, "max_tokens": 16, "messages": MSGS}
    r = httpx.post(f"{sim.base_url}/v1/messages", json=body, headers={"anthropic-version": "2023-06-01"})
    assert r.status_code == 429
    for kind in ("requests", "tokens", "input-tokens", "output-tokens"):
        assert r.headers[f"anthropic-ratelimit-{kind}-remaining"] == "0"


def test_anthropic_missing_end_omits_message_stop(sim: SimServer) -> None:
    body = {"max_tokens": 16, "messages": MSGS}
    healthy = [name for name, _ in _events(sim, {**body, "model": "sim-basic"})]
    broken = [name for name, _ in _events(sim, {**body, "model": "sim-no-done"})]
    assert healthy[-1] == "message_stop" and healthy[-2] == "message_delta"
    assert broken[-1] == "message_delta" and "message_stop" not in broken


def test_model_lookup_404s_for_unknown_names(sim: SimServer) -> None:
    with _oai(sim) as client:
        assert client.models.retrieve("gpt-4o-mini").id == "gpt-4o-mini"
        assert client.models.retrieve("sim-500:primary").id == "sim-500:primary"
        with pytest.raises(openai.NotFoundError) as caught:
            client.models.retrieve("gpt-does-not-exist")
    assert caught.value.code == "model_not_found"
    with _ant(sim) as client:
        assert client.models.retrieve("claude-haiku-4-5-20251001").id == "claude-haiku-4-5-20251001"
        with pytest.raises(anthropic.NotFoundError):
            client.models.retrieve("claude-does-not-exist")


def test_anthropic_model_list_paginates(sim: SimServer) -> None:
    with _ant(sim) as client:
        everything = [m.id for m in client.models.list(limit=1000)]
        first = client.models.list(limit=3)
        paged = [m.id for m in first]  # iterating follows has_more / last_id through every page
    assert len(first.data) == 3 and first.has_more and first.last_id == everything[2]
    assert paged == everything and len(everything) > 6
    r = httpx.get(f"{sim.base_url}/v1/models?limit=0", headers={"anthropic-version": "2023-06-01"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"


def test_count_tokens_agrees_with_messages_usage(sim: SimServer) -> None:
    messages: Any = [{"role": "user", "content": "How many tokens is this, exactly?"}]
    with _ant(sim) as client:
        counted = client.messages.count_tokens(model="sim-basic", system="Be brief.", messages=messages)
        used = client.messages.create(model="sim-basic", max_tokens=16, system="Be brief.", messages=messages)
    assert counted.input_tokens == used.usage.input_tokens > 0


def test_stop_sequences_end_the_answer(sim: SimServer) -> None:
    messages: Any = [{"role": "user", "content": "one two three. four five"}]
    with _oai(sim) as client:
        chat = client.chat.completions.create(model="sim-echo", messages=messages, stop=["four", "."])
        legacy = client.completions.create(model="sim-echo", prompt="alpha beta gamma", stop="gamma")
        streamed = "".join(
            c.choices[0].delta.content or ""
            for c in client.chat.completions.create(
                model="sim-echo", messages=messages, stop=".", stream=True
            )
            if c.choices
        )
    assert chat.choices[0].message.content == "one two three"
    assert chat.choices[0].finish_reason == "stop" and streamed == "one two three"
    assert legacy.choices[0].text == "alpha beta "
    with _ant(sim) as client:
        message = client.messages.create(
            model="sim-echo", max_tokens=64, messages=messages, stop_sequences=["five", "four"]
        )
    assert message.stop_reason == "stop_sequence" and message.stop_sequence == "four"
    assert message.content[0].text == "one two three. "  # type: ignore[union-attr]


def test_n_returns_several_choices(sim: SimServer, validate: Validate) -> None:
    body = {"model": "sim-basic", "messages": MSGS, "n": 3}
    doc = httpx.post(f"{sim.base_url}/v1/chat/completions", json=body).json()
    validate("CreateChatCompletionResponse", doc)
    one = httpx.post(f"{sim.base_url}/v1/chat/completions", json={**body, "n": 1}).json()
    assert [c["index"] for c in doc["choices"]] == [0, 1, 2]
    assert doc["usage"]["completion_tokens"] == 3 * one["usage"]["completion_tokens"]
    with _oai(sim) as client:
        chunks = list(
            client.chat.completions.create(
                model="sim-basic", messages=MSGS, n=2, stream=True, stream_options={"include_usage": True}
            )
        )
        legacy = client.completions.create(model="sim-basic", prompt="hi", n=2)
    by_index = [(c.choices[0].index, c.choices[0].delta.content or "") for c in chunks if c.choices]
    texts = {i: "".join(text for index, text in by_index if index == i) for i in (0, 1)}
    assert texts[0] == texts[1] == one["choices"][0]["message"]["content"]
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == ["stop", "stop"]
    assert [c.index for c in legacy.choices] == [0, 1]


def test_logprobs_have_the_real_shapes(sim: SimServer, validate: Validate) -> None:
    body = {"model": "sim-echo", "messages": [{"role": "user", "content": "red green blue"}]}
    doc = httpx.post(
        f"{sim.base_url}/v1/chat/completions", json={**body, "logprobs": True, "top_logprobs": 2}
    ).json()
    validate("CreateChatCompletionResponse", doc)
    content = doc["choices"][0]["logprobs"]["content"]
    assert "".join(t["token"] for t in content) == "red green blue"
    assert all(len(t["top_logprobs"]) == 2 and t["logprob"] < 0 for t in content)
    plain = httpx.post(f"{sim.base_url}/v1/chat/completions", json=body).json()
    assert plain["choices"][0]["logprobs"] is None
    chunks = [
        json.loads(line[6:])
        for line in httpx.post(
            f"{sim.base_url}/v1/chat/completions", json={**body, "logprobs": True, "stream": True}
        ).text.splitlines()
        if line.startswith("data: {")
    ]
    for chunk in chunks:
        validate("CreateChatCompletionStreamResponse", chunk)
    streamed = [
        t["token"]
        for c in chunks
        if c["choices"][0]["logprobs"]
        for t in c["choices"][0]["logprobs"]["content"]
    ]
    assert "".join(streamed) == "red green blue"
    legacy = httpx.post(
        f"{sim.base_url}/v1/completions", json={"model": "sim-echo", "prompt": "red green", "logprobs": 1}
    ).json()
    validate("CreateCompletionResponse", legacy)
    lp = legacy["choices"][0]["logprobs"]
    assert lp["tokens"] == ["red", " green"] and lp["text_offset"] == [0, 3] and len(lp["top_logprobs"]) == 2

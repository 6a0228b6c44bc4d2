"""Scenario files drive the simulator: loading, matching, determinism, downtime, rate limits, recording."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from steadyhand.errors import ConfigurationError
from steadyhand.sim import Fault, Match, RateLimit, Respond, Rule, Scenario, SimServer, load_scenario
from steadyhand.sim.actions import Plain
from steadyhand.sim.router import Router

DOC = Path(__file__).resolve().parents[2] / "docs" / "simulator.md"
MSGS: list[Any] = [{"role": "user", "content": "hello"}]


def _docs_yaml(tmp_path: Path) -> Path:
    block = re.search(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    assert block is not None, "docs/simulator.md lost its YAML example"
    path = tmp_path / "sim.yaml"
    path.write_text(block.group(1))
    return path


def _chat(sim: SimServer, model: str, content: str = "hello", **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": content}], **extra}
    return httpx.post(f"{sim.base_url}/v1/chat/completions", json=body, timeout=5)


def test_docs_example_loads_and_behaves(tmp_path: Path) -> None:
    scenario = load_scenario(_docs_yaml(tmp_path))
    assert scenario.seed == 7 and len(scenario.rules) == 7
    with SimServer(scenario) as sim:
        assert _chat(sim, "primary").status_code == 503
        assert _chat(sim, "cutter").status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            _chat(sim, "cutter")
        assert _chat(sim, "cutter").status_code == 200
        call = _chat(sim, "any", "What is the weather in Rome?").json()["choices"][0]["message"][
            "tool_calls"
        ][0]
        assert call["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
        turn: list[Any] = [
            {"role": "user", "content": "What is the weather in Rome?"},
            {
                "role": "assistant",
                "tool_calls": [{"id": call["id"], "type": "function", "function": call["function"]}],
            },
        ]

        def after(result: str) -> Any:
            messages = [*turn, {"role": "tool", "tool_call_id": call["id"], "content": result}]
            body = {"model": "any", "messages": messages}
            return httpx.post(f"{sim.base_url}/v1/chat/completions", json=body).json()["choices"][0]

        assert after("ERROR 503")["message"]["content"] == "Sorry, the weather service is down."
        assert after("18 C")["finish_reason"] == "stop"  # the result is in: no second tool call
        assert _chat(sim, "gpt-4o-mini", "Reply as JSON").json()["choices"][0]["message"]["content"] == (
            '{"answer": 42, "unit": "none"}'
        )
        assert _chat(sim, "parrot", "hi").json()["choices"][0]["message"]["content"] == "parrot heard: hi"
        assert [_chat(sim, "limited-a").status_code for _ in range(3)] == [200, 200, 429]


def test_toml_scenario(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('seed = 3\n[[rules]]\nmatch = {model = "m"}\nrespond = {text = "from toml"}\n')
    with SimServer(path) as sim:
        assert _chat(sim, "m").json()["choices"][0]["message"]["content"] == "from toml"
        assert sim.seed == 3


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("rules:\n  - faults: [{kind: explode}]\n", "rules.0.faults.0.kind"),
        ("rules:\n  - respond: {text: a, json: 1}\n", "rules.0.respond"),
        ("rules:\n  - respond: {template: '{{ nope }}'}\n", "rules.0.respond.template"),
        ("rules:\n  - match: {prompt_regex: '('}\n", "rules.0.match.prompt_regex"),
        ("latency: {ttft: -1}\n", "latency.ttft"),
        ("surprise: 1\n", "surprise"),
        ("rules: [\n", "not valid yaml"),
    ],
)
def test_bad_scenarios_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigurationError, match=re.escape(field)):
        load_scenario(path)


def _pattern(seed: int) -> list[int]:
    scenario = Scenario(rules=[Rule(match=Match(model="m"), faults=[Fault(kind="500", rate=0.5)])])
    with SimServer(scenario, seed=seed) as sim:
        return [_chat(sim, "m").status_code for _ in range(24)]


def test_same_seed_same_fault_sequence() -> None:
    first, again, other = _pattern(1), _pattern(1), _pattern(2)
    assert first == again and 200 in first and 500 in first
    assert first != other


def test_times_and_after_counters() -> None:
    rule = Rule(match=Match(model="m"), faults=[Fault(kind="429", after=1, times=2)])
    with SimServer(Scenario(rules=[rule])) as sim:
        assert [_chat(sim, "m").status_code for _ in range(5)] == [200, 429, 429, 200, 200]


class Clock:
    """An injected clock for the simulator's router: time moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _route(router: Router, model: str) -> tuple[int, dict[str, str], Any]:
    """One chat request straight through the router: status, headers, JSON body."""
    body = {"model": model, "messages": [{"role": "user", "content": "hello"}]}
    action = router.route("POST", "/v1/chat/completions", {}, body)
    assert isinstance(action, Plain)
    head, _, payload = action.data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return int(status_line.split()[1]), {k.lower(): v for k, v in headers.items()}, json.loads(payload)


def test_down_for_seconds_from_first_request() -> None:
    rule = Rule(match=Match(model="p"), faults=[Fault(kind="503", down_for=0.5, down_from="first_request")])
    clock = Clock()
    router = Router(Scenario(rules=[rule]), seed=0, clock=clock)
    clock.now += 0.5  # counted from the first request, not from start
    assert _route(router, "p")[0] == 503
    clock.now += 0.25
    assert _route(router, "p")[0] == 503
    clock.now += 0.25
    assert _route(router, "p")[0] == 200
    assert _route(router, "other")[0] == 200


def test_rpm_limit_has_accurate_retry_after_and_headers() -> None:
    clock = Clock()
    router = Router(Scenario(rate_limits=[RateLimit(model="m", rpm=3)]), seed=0, clock=clock)
    ok = []
    for _ in range(3):
        ok.append(_route(router, "m"))
        clock.now += 10
    assert [(status, h["x-ratelimit-remaining-requests"]) for status, h, _ in ok] == [
        (200, "2"),
        (200, "1"),
        (200, "0"),
    ]
    status, headers, body = _route(router, "m")  # 30 s after the first: it leaves the window in 30 s
    assert status == 429 and body["error"]["code"] == "rate_limit_exceeded"
    assert float(headers["retry-after-ms"]) == 30_000 and headers["x-ratelimit-reset-requests"] == "30s"
    assert _route(router, "other")[0] == 200
    clock.now += 30
    assert _route(router, "m")[0] == 200


def test_rpm_limit_over_http() -> None:
    with SimServer(Scenario(rate_limits=[RateLimit(model="m", rpm=3)])) as sim:
        assert [_chat(sim, "m").status_code for _ in range(4)] == [200, 200, 200, 429]
        assert float(_chat(sim, "m").headers["retry-after-ms"]) > 0


def test_tpm_limit_refuses_big_prompts() -> None:
    with SimServer(Scenario(rate_limits=[RateLimit(rpm=100, tpm=50)])) as sim:
        assert _chat(sim, "m", "word " * 30).status_code == 200
        refused = _chat(sim, "m", "word " * 30)
        assert refused.status_code == 429 and refused.json()["error"]["type"] == "tokens"


def test_recording_with_gaps_and_models() -> None:
    rule = Rule(match=Match(model="primary"), faults=[Fault(kind="503", retry_after=0.2)])
    with (
        SimServer(Scenario(rules=[rule])) as sim,
        openai.OpenAI(base_url=f"{sim.base_url}/v1", api_key="sk-secret", max_retries=1) as client,
    ):
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="primary", messages=MSGS)
        client.chat.completions.create(model="backup", messages=MSGS, stream=True).close()
        seen = sim.requests
        assert [(r.model, r.stream) for r in seen] == [
            ("primary", False),
            ("primary", False),
            ("backup", True),
        ]
        assert seen[1].time - seen[0].time >= 0.15  # the SDK honoured retry-after-ms: 200
        assert seen[0].headers["authorization"] == "[redacted]" and seen[0].path == "/v1/chat/completions"
        assert seen[2].body["messages"] == MSGS
        sim.clear_requests()
        assert sim.requests == []


def test_latency_and_template_rule() -> None:
    rule = Rule(
        match=Match(prompt_contains="slow"),
        latency={"ttft": 0.2},
        respond=Respond(template="#{{ request_number }}"),
    )
    with SimServer(Scenario(rules=[rule])) as sim:
        started = time.monotonic()
        assert _chat(sim, "m", "be slow").json()["choices"][0]["message"]["content"] == "#1"
        assert time.monotonic() - started >= 0.2

"""``client.structured`` against the simulator over real HTTP: its output faults give the right outcome,
steps, re-asks and summed cost; modes follow the capability profile; re-asks send only what they must."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from steadyhand import AsyncClient, Client, Config, ConfigurationError, ServerError, StructuredOutputError
from steadyhand.sim import SimServer
from steadyhand.sim.scenario import parse_scenario
from steadyhand.structured import Structured
from steadyhand.tracing.cost import PriceTable
from steadyhand.tracing.records import SpanRecord


class Person(BaseModel):
    name: str
    age: int
    tags: list[str]


class Answer(BaseModel):
    answer: str
    confidence: float


PRICED = "gpt-4o-mini"
SCENARIO = parse_scenario(
    {
        "rules": [
            {"match": {"model": "*reask-once*"}, "faults": [{"kind": "json-truncated", "times": 1}]},
            {"match": {"model": "*vary*", "prompt_contains": 'got "older"'}, "respond": {"json": {"age": 5}}},
            {
                "match": {"model": "*vary*", "prompt_contains": 'got "old"'},
                "respond": {"json": {"name": "x", "age": "older", "tags": []}},
            },
            {"match": {"model": "*vary*"}, "respond": {"json": {"name": "x", "age": "old", "tags": []}}},
            {"match": {"model": "same*"}, "respond": {"json": {"name": "x", "age": "old", "tags": []}}},
        ]
    }
)
ASK = [{"role": "user", "content": "Describe a person."}]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer(scenario=SCENARIO) as server:
        yield server


def config(sim: SimServer, **providers: Any) -> Config:
    return Config.model_validate(
        {
            "providers": {"sim": {"kind": "sim", "base_url": sim.base_url}, **providers},
            "models": {"default": "sim:sim-basic"},
        }
    )


def _bodies(sim: SimServer, since: int) -> list[dict[str, Any]]:
    return [r.body for r in sim.requests[since:] if r.path.endswith("/chat/completions")]


@pytest.mark.parametrize(
    ("model", "outcome", "steps"),
    [
        ("sim-basic", "clean", ()),
        ("sim-json-prose", "repaired", ("surrounding_prose",)),
        ("sim-json-fenced", "repaired", ("code_fence",)),
        ("sim-json-trailing-comma", "repaired", ("trailing_commas",)),
        ("sim-json-wrong-types", "repaired", ("number_in_string", "single_to_list")),
    ],
)
def test_sim_output_faults_are_cleaned_without_a_reask(
    sim: SimServer, model: str, outcome: str, steps: tuple[str, ...]
) -> None:
    with Client(config(sim)) as client:
        result = client.structured(ASK, schema=Person, model=f"sim:{model}")
    assert result.value == Person(name="example", age=0, tags=["example"])
    assert (result.outcome, tuple(r.step for r in result.repairs), result.reasks) == (outcome, steps, 0)
    assert result.mode == "json_schema" and len(result.attempts) == 1
    assert result.usage.total_tokens == result.attempts[0].usage.total_tokens
    assert result.cost_usd is not None and result.cost_usd == result.attempts[0].cost_usd
    assert result.cost_usd > 0


def test_a_truncated_answer_is_reasked_and_the_costs_add_up(sim: SimServer) -> None:
    start = len(sim.requests)
    with Client(config(sim)) as client:
        result = client.structured(ASK, schema=Person, model=f"sim:{PRICED}:reask-once")
    first, second = result.attempts
    assert (first.outcome, first.finish_reason, second.outcome) == ("truncated", "length", "clean")
    assert result.reasks == 1 and result.outcome == "clean"
    prices = PriceTable.bundled()
    expected = [
        prices.cost(PRICED, input_tokens=a.usage.input_tokens, output_tokens=a.usage.output_tokens)
        for a in result.attempts
    ]
    assert result.cost_usd is not None and result.cost_usd > 0
    assert result.cost_usd == pytest.approx(sum(c for c in expected if c is not None))
    assert result.usage.input_tokens == sum(a.usage.input_tokens or 0 for a in result.attempts)
    reask = _bodies(sim, start)[1]["messages"]
    assert [m["role"] for m in reask] == ["user", "assistant", "user"]  # the question, the bad answer, why
    assert reask[1]["content"] == first.output and "cut off" in reask[2]["content"]


def test_reasks_send_only_the_latest_bad_output_and_stop_at_the_cap(sim: SimServer) -> None:
    start = len(sim.requests)
    with Client(config(sim)) as client, pytest.raises(StructuredOutputError) as caught:
        client.structured(ASK, schema=Person, model="sim:vary")
    error = caught.value
    assert error.reason == "reasks" and len(error.attempts) == 3  # the first answer and 2 re-asks
    assert error.last_output == json.dumps({"age": 5})
    bodies = _bodies(sim, start)
    assert [len(b["messages"]) for b in bodies] == [1, 3, 3]  # context grows by one exchange at most
    assert bodies[2]["messages"][1]["content"] == error.attempts[1].output
    assert any("name" in e for e in error.attempts[2].errors)


def test_two_identical_errors_stop_the_loop(sim: SimServer) -> None:
    with Client(config(sim)) as client, pytest.raises(StructuredOutputError) as caught:
        client.structured(ASK, schema=Person, model="sim:same", max_reasks=3)
    assert caught.value.reason == "same_error" and len(caught.value.attempts) == 2


def test_a_truncating_model_fails_after_the_same_error_twice(sim: SimServer) -> None:
    with Client(config(sim)) as client, pytest.raises(StructuredOutputError) as caught:
        client.structured(ASK, schema=Person, model="sim:sim-json-truncated")
    assert [a.outcome for a in caught.value.attempts] == ["truncated", "truncated"]
    assert caught.value.reason == "same_error"


def test_a_budget_is_checked_before_each_reask(sim: SimServer) -> None:
    with Client(config(sim)) as client:
        with pytest.raises(StructuredOutputError) as caught:
            client.structured(ASK, schema=Person, model="sim:vary", budget_tokens=1)
        assert caught.value.reason == "budget" and len(caught.value.attempts) == 1
        with pytest.raises(StructuredOutputError) as costly:
            client.structured(ASK, schema=Person, model=f"sim:{PRICED}:vary", budget_usd=1e-9)
        assert costly.value.reason == "budget"


def test_reasks_have_a_hard_cap(sim: SimServer) -> None:
    with Client(config(sim)) as client, pytest.raises(ConfigurationError, match="max_reasks"):
        client.structured(ASK, schema=Person, max_reasks=4)


def test_transport_errors_are_not_reasked(sim: SimServer) -> None:
    start = len(sim.requests)
    with Client(config(sim)) as client, pytest.raises(ServerError):
        client.structured(ASK, schema=Person, model="sim:sim-500")
    assert len(_bodies(sim, start)) == 1


@pytest.mark.parametrize(
    ("capabilities", "model", "mode"),
    [
        (None, "sim-basic", "json_schema"),
        ("openai_compatible", "sim-basic", "json_object"),
        ({"response_formats": ["text"]}, "sim-json-prose", "text"),
    ],
)
def test_the_mode_follows_the_capability_profile(
    sim: SimServer, capabilities: Any, model: str, mode: str
) -> None:
    spec: dict[str, Any] = {"kind": "openai_compatible", "base_url": sim.base_url + "/v1"}
    if capabilities is not None:
        spec["capabilities"] = capabilities
    else:
        spec = {"kind": "sim", "base_url": sim.base_url}
    start = len(sim.requests)
    with Client(config(sim, other=spec)) as client:
        result = client.structured(ASK, schema=Answer, model=f"other:{model}")
    confidence = 0.0 if mode == "json_schema" else 0.5  # a minimal instance of the schema, or the default
    assert result.mode == mode and result.value == Answer(answer="example", confidence=confidence)
    body = _bodies(sim, start)[0]
    fmt: Any = body.get("response_format")
    first = body["messages"][0]
    described = first["role"] == "system" and '"confidence": <number>' in first["content"]
    if mode == "json_schema":
        assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
        assert fmt["json_schema"]["schema"]["additionalProperties"] is False and not described
    elif mode == "json_object":
        assert fmt == {"type": "json_object"} and described
    else:
        assert fmt is None and described


def test_anthropic_gets_a_forced_tool_and_an_explicit_tool_mode_works_on_chat(sim: SimServer) -> None:
    with Client(config(sim)) as client:
        claude = client.structured(ASK, schema=Person, model="sim:sim-basic", mode="auto")
        assert claude.mode == "json_schema"
        tool = client.structured(ASK, schema=Person, model="sim:sim-tool-call", mode="tool")
    assert tool.mode == "tool" and tool.value == Person(name="example", age=0, tags=["example"])
    anthropic = Config.model_validate(
        {
            "providers": {"sim": {"kind": "sim", "base_url": sim.base_url}},
            "models": {"claude": {"target": "sim:sim-tool-call", "api": "messages"}},
        }
    )
    start = len(sim.requests)
    with Client(anthropic) as client:
        result = client.structured(ASK, schema=Person, model="claude")
    assert result.mode == "tool" and result.value == Person(name="example", age=0, tags=["example"])
    body = next(r.body for r in sim.requests[start:] if r.path.endswith("/messages"))
    assert body["tool_choice"] == {"type": "tool", "name": "Person"}


def test_asking_for_a_mode_the_target_lacks_is_refused(sim: SimServer) -> None:
    with Client(config(sim)) as client, pytest.raises(ConfigurationError, match="json_object_schema"):
        client.structured(ASK, schema=Person, mode="json_object_schema")


def test_a_downgrade_after_a_fallback_is_noted_on_the_result_and_the_span(sim: SimServer) -> None:
    cfg = Config.model_validate(
        {
            "providers": {
                "sim": {"kind": "sim", "base_url": sim.base_url},
                "weak": {
                    "kind": "openai_compatible",
                    "base_url": sim.base_url + "/v1",
                    "capabilities": {"response_formats": ["text"]},
                },
            },
            "models": {
                "main": {
                    "target": "sim:sim-500",
                    "fallbacks": ["weak:sim-json-prose"],
                    "retry": {"attempts": 1},
                }
            },
        }
    )
    spans: list[SpanRecord] = []

    class Sink:
        def record(self, span: SpanRecord) -> None:
            spans.append(span)

    with Client(cfg, tracer=Sink()) as client:
        result = client.structured([{"role": "user", "content": "Rate it."}], schema=Answer, model="main")
    assert result.value == Answer(answer="example", confidence=0.5)
    assert result.mode == "json_schema" and result.attempts[0].mode == "text"
    assert result.notes == ("downgraded: planned json_schema, weak answered in text mode",)
    *inner, parent = spans
    calls = [s for s in inner if s.kind == "llm"]  # the policies' attempt spans hang under it
    assert parent.name == "structured Answer" and parent.kind == "custom"
    assert len(calls) == 1 and calls[0].parent_id == parent.span_id
    assert calls[0].trace_id == parent.trace_id and parent.cost_usd is None  # the llm span is priced
    summary = parent.attributes["steadyhand.structured"]
    assert (summary["outcome"], summary["modes"], summary["attempts"]) == ("repaired", ["text"], 1)
    assert summary["notes"] == list(result.notes)
    noted = calls[0].attributes["steadyhand.structured"]
    assert (noted["planned_mode"], noted["mode"], noted["repairs"]) == (
        "json_schema",
        "text",
        ["surrounding_prose"],
    )


def test_a_prompt_object_brings_its_messages_model_and_schema(sim: SimServer) -> None:
    class FakePrompt:
        model = "sim:sim-json-fenced"
        output_model = Person
        params = {"temperature": 0.2, "max_tokens": 300, "n": 4}  # n is structured output's to set

        def render(self, variables: dict[str, Any]) -> list[dict[str, str]]:
            return [{"role": "user", "content": f"Describe {variables['who']}."}]

    start = len(sim.requests)
    with Client(config(sim)) as client:
        result = client.structured(FakePrompt(), variables={"who": "Ann"})
    assert result.value == Person(name="example", age=0, tags=["example"]) and result.outcome == "repaired"
    body = _bodies(sim, start)[0]
    assert body["messages"][-1]["content"] == "Describe Ann."
    assert (body["temperature"], body["max_tokens"], body.get("n")) == (0.2, 300, None)
    with Client(config(sim)) as client:
        client.structured(FakePrompt(), variables={"who": "Bo"}, temperature=0.9)
    assert _bodies(sim, start)[-1]["temperature"] == 0.9  # an explicit parameter wins


def test_self_consistency_votes_over_n_samples(sim: SimServer) -> None:
    start = len(sim.requests)
    with Client(
        config(sim, one={"kind": "sim", "base_url": sim.base_url, "capabilities": {"n": False}})
    ) as c:
        native = c.structured(ASK, schema=Person, n=3)
        repeated = c.structured(ASK, schema=Person, model="one:sim-json-prose", n=3)
    assert native.agreement == repeated.agreement == 1.0
    assert len(native.attempts) == len(repeated.attempts) == len(repeated.samples) == 3
    assert [b.get("n") for b in _bodies(sim, start)] == [3, None, None, None]
    assert native.cost_usd is not None and repeated.cost_usd is not None


def test_streaming_yields_closed_subtrees_then_the_final_value(sim: SimServer) -> None:
    with Client(config(sim)) as client:
        events = list(client.structured_stream(ASK, schema=Person, model="sim:sim-json-fenced"))
    *partials, last = events
    assert last.final is not None and last.final.value == Person(name="example", age=0, tags=["example"])
    assert last.final.outcome == "repaired" and [p.final for p in partials] == [None] * len(partials)
    values = [p.value for p in partials]
    assert {"name": "example"} in values and values[-1] == {"name": "example", "age": 0, "tags": ["example"]}
    for before, after in zip(values, values[1:], strict=False):
        assert set(before) <= set(after)  # progressively more complete


async def test_the_async_client_gives_the_same_answers(sim: SimServer) -> None:
    with Client(config(sim)) as sync_client:
        expected = [sync_client.structured(ASK, schema=Person, model="sim:sim-json-prose")]
    async with AsyncClient(config(sim)) as client:
        got: Structured[Any] = await client.structured(ASK, schema=Person, model="sim:sim-json-prose")
        with pytest.raises(StructuredOutputError) as caught:
            await client.structured(ASK, schema=Person, model="sim:same")
        events = [e async for e in client.structured_stream(ASK, schema=Person, model="sim:sim-json-fenced")]
    assert got.value == expected[0].value and got.repairs == expected[0].repairs
    assert caught.value.reason == "same_error"
    assert events[-1].final is not None and events[-1].final.value == expected[0].value


def test_the_responses_api_gets_text_format_json_schema(sim: SimServer) -> None:
    cfg = Config.model_validate(
        {
            "providers": {"sim": {"kind": "sim", "base_url": sim.base_url}},
            "models": {"default": {"target": "sim:sim-json-prose", "api": "responses"}},
        }
    )
    start = len(sim.requests)
    with Client(cfg) as client:
        result = client.structured(ASK, schema=Person, n=2)
    assert result.mode == "json_schema" and result.value == Person(name="example", age=0, tags=["example"])
    assert result.agreement == 1.0 and len(result.attempts) == 2  # no n on this API: two requests
    bodies = [r.body for r in sim.requests[start:] if r.path.endswith("/responses")]
    assert len(bodies) == 2 and bodies[0]["text"]["format"]["type"] == "json_schema"
    assert bodies[0]["text"]["format"]["strict"] is True


def test_a_truncated_stream_gives_its_partials_then_raises(sim: SimServer) -> None:
    seen: list[Any] = []
    with Client(config(sim)) as client, pytest.raises(StructuredOutputError) as caught:
        for event in client.structured_stream(ASK, schema=Person, model="sim:sim-json-truncated"):
            seen.append(event.value)
    assert caught.value.attempts[0].outcome == "truncated" and caught.value.reason == "reasks"
    assert seen and all(event is not None and "tags" not in event for event in seen)  # never past the cut


async def test_a_streamed_structured_call_is_traced_under_one_span(sim: SimServer) -> None:
    spans: list[SpanRecord] = []

    class Sink:
        def record(self, span: SpanRecord) -> None:
            spans.append(span)

    with Client(config(sim), tracer=Sink()) as client:
        events = list(client.structured_stream(ASK, schema=Person, model="sim:sim-json-fenced"))
    async with AsyncClient(config(sim), tracer=Sink()) as async_client:
        async_events = [e async for e in async_client.structured_stream(ASK, schema=Person)]
    assert events[-1].final is not None and async_events[-1].final is not None
    llm = [s for s in spans if s.kind == "llm"]
    parents = [s for s in spans if s.name == "structured Person"]
    assert len(llm) == len(parents) == 2
    for call, parent in zip(llm, parents, strict=True):
        assert call.parent_id == parent.span_id and call.trace_id == parent.trace_id
        assert parent.attributes["steadyhand.structured"]["outcome"] in ("clean", "repaired")


def test_a_steadyhand_prompt_links_each_attempt_to_its_version(sim: SimServer) -> None:
    from steadyhand.prompts import Prompt

    prompt = Prompt(
        name="describe",
        model="sim:sim-json-fenced",
        messages=[{"role": "user", "content": "Describe {{ who }}."}],
        variables={"who": "str"},
        params={"temperature": 0.3},
        output_schema=Person.model_json_schema(),
    )
    spans: list[SpanRecord] = []

    class Sink:
        def record(self, span: SpanRecord) -> None:
            spans.append(span)

    start = len(sim.requests)
    with Client(config(sim), tracer=Sink()) as client:
        result = client.structured(prompt, variables={"who": "Ann"})
    assert result.value == {"name": "example", "age": 0, "tags": ["example"]}  # a JSON Schema: plain data
    body = _bodies(sim, start)[0]
    assert body["messages"][-1]["content"] == "Describe Ann." and body["temperature"] == 0.3
    (call,) = [s for s in spans if s.kind == "llm"]
    assert call.prompt_version is not None and call.prompt_version == prompt.use({"who": "Ann"}).ref

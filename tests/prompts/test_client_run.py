"""``client.run`` against the simulator (sync, async, streamed): traces link the exact version, label and
source and keep the variables; replay re-renders those stored variables under another version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from steadyhand import AsyncClient, Client, PromptRenderError
from steadyhand.prompts import Registry, load, parse_query, replay
from steadyhand.sim import SimServer
from steadyhand.testing import FunctionProvider
from steadyhand.tracing import Tracer
from steadyhand.tracing.records import SpanRecord
from steadyhand.types import ModelRequest

from .conftest import TICKET, sim_config, write_prompt
from .test_registry import DEAD_URL


class Sink:
    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []

    def record(self, span: SpanRecord) -> None:
        self.spans.append(span)


def _prompt_fields(span: SpanRecord) -> tuple[Any, ...]:
    a = span.attributes
    return (
        span.prompt_version,
        a["steadyhand.prompt.version"],
        a.get("steadyhand.prompt.label"),
        a["steadyhand.prompt.source"],
        a["steadyhand.prompt.variables"],
    )


def test_run_renders_calls_and_traces(sim: SimServer) -> None:
    write_prompt()
    prompt = load("classify_ticket")
    sink = Sink()
    with Client(sim_config(sim.base_url), tracer=sink) as client:
        assert client.run(prompt, ticket="The site is down for everyone!", traffic="test").text == "urgent"
        streamed_call = client.run_stream(prompt, {"ticket": "Refund please"}, tier="pro", tags={"user": "1"})
        with streamed_call as stream:
            assert "".join(stream.text_stream()) == "normal"
        with pytest.raises(PromptRenderError, match="ticket"):
            client.run(prompt, ticket=1)
    plain, streamed = sink.spans  # the refused call sent nothing and left no span
    ref = f"classify_ticket@{prompt.version}"
    down = {"ticket": "The site is down for everyone!", "tier": "free"}
    assert _prompt_fields(plain) == (ref, prompt.version, None, "file", down)
    refund = {"ticket": "Refund please", "tier": "pro"}
    assert _prompt_fields(streamed) == (ref, prompt.version, None, "file", refund)
    assert streamed.tags == {
        "user": "1", "prompt": "classify_ticket", "prompt.version": prompt.version, "prompt.source": "file",
        "traffic": "production",
    }  # fmt: skip
    assert plain.tags["traffic"] == "test"  # this call's traffic class, not the client's
    assert plain.request is not None
    assert plain.request["messages"][1]["content"] == "Ticket (free plan): The site is down for everyone!"
    assert (plain.request["temperature"], plain.request["max_tokens"]) == (0.0, 20)  # the pinned params
    assert plain.model_alias == "default"  # the pinned model


async def test_async_run_and_run_stream(sim: SimServer) -> None:
    write_prompt()
    prompt = load("classify_ticket")
    sink = Sink()
    async with AsyncClient(sim_config(sim.base_url), tracer=sink) as client:
        assert (await client.run(prompt, ticket="The site is down for everyone!")).text == "urgent"
        async with client.run_stream(prompt, ticket="Refund please") as stream:
            assert "".join([t async for t in stream.text_stream()]) == "normal"
        with pytest.raises(PromptRenderError, match="does not declare"):
            await client.run(prompt, ticket="x", priority="high")
    assert [s.prompt_version for s in sink.spans] == [prompt.ref, prompt.ref]


def test_traces_say_where_the_prompt_came_from_when_the_registry_is_down(
    sim: SimServer, empty_url: str
) -> None:
    write_prompt()
    with Registry(empty_url, cache_dir="cache") as registry:
        version = load("classify_ticket", registry=registry).version
        registry.move_label("classify_ticket", "production", version)
        from_registry = load("classify_ticket", label="production", registry=registry)
    down = Registry(DEAD_URL, cache_dir="cache")
    from_cache = load("classify_ticket", label="production", registry=down)
    from_file = load("classify_ticket", label="production", registry=Registry(DEAD_URL, cache_dir=None))
    sink = Sink()
    with Client(sim_config(sim.base_url), tracer=sink) as client:
        for prompt in (from_registry, from_cache, from_file):
            assert client.run(prompt, ticket="Refund please").text == "normal"  # never fails for the registry
    sources = [(s.tags["prompt.source"], s.attributes["steadyhand.prompt.label"]) for s in sink.spans]
    assert sources == [("registry", "production"), ("cache", "production"), ("file", "production")]
    assert "steadyhand.prompt.fallback" not in sink.spans[0].attributes
    assert "cannot reach" in sink.spans[2].attributes["steadyhand.prompt.fallback"]
    assert {s.prompt_version for s in sink.spans} == {f"classify_ticket@{version}"}


def test_stored_calls_replay_under_another_version(sim: SimServer, empty_url: str) -> None:
    write_prompt()
    registry = Registry(empty_url, cache_dir="cache")
    v1 = load("classify_ticket", registry=registry)
    registry.move_label("classify_ticket", "production", v1.version)
    production = load("classify_ticket", label="production", registry=registry)
    tracer = Tracer(registry.store(), spool_dir=None)
    inputs = [{"ticket": "The site is down for everyone!"}, {"ticket": "Refund please", "tier": "pro"}]
    with Client(sim_config(sim.base_url), tracer=tracer) as client:
        for variables in inputs:
            client.run(production, variables)
        client.run(v1, ticket="not labelled")  # loaded from the file: no label
    with Client(sim_config(sim.base_url), tracer=tracer, traffic="test") as tests:
        tests.run(v1, ticket="a test's input")  # not production traffic: replayed only with traffic=any
    assert tracer.flush(10)

    write_prompt(TICKET.replace("Ticket ({{ tier }} plan): {{ ticket }}", "[{{ tier }}] {{ ticket|upper }}"))
    v2 = load("classify_ticket", registry=registry)
    assert v2.version != v1.version
    seen: list[ModelRequest] = []

    def echo(request: ModelRequest) -> str:
        seen.append(request)
        return request.messages[-1].text

    echoing = {"sim": FunctionProvider(echo)}
    with Client(sim_config(sim.base_url), providers=echoing, tracer=tracer) as replayer:
        results = replay(replayer, registry, v2, parse_query("label=production since=1h"))
        again = replay(replayer, registry, v2, parse_query("label=production"))
        everything = replay(replayer, registry, v2.replace(model="other"), parse_query("all"))
    assert tracer.flush(10)
    after = sorted(r.after or "" for r in results)
    assert after == ["[free] THE SITE IS DOWN FOR EVERYONE!", "[pro] REFUND PLEASE"]
    assert sorted(r.before or "" for r in results) == ["normal", "urgent"]
    assert all(r.from_version == v1.version and r.changed and r.error is None for r in results)
    assert {r.span_id for r in again} == {r.span_id for r in results}  # the replays themselves are not inputs
    assert [m.text for m in seen[0].messages][1].startswith("[")
    assert len(everything) == 3 and {r.error for r in everything} == {None}
    any_traffic = registry.calls("classify_ticket", **parse_query("traffic=any").filters(0))
    assert len(any_traffic) == 4 and "a test's input" in str([c.attributes for c in any_traffic])
    assert [r.model for r in seen] == ["sim-basic"] * 4 + ["sim-other-2024-01-01"] * 3  # under another model
    tracer.close()
    registry.close()


def test_stored_variables_are_redacted_like_the_rest_of_the_span(sim: SimServer, tmp_path: Path) -> None:
    write_prompt()
    registry = Registry(f"sqlite:///{tmp_path / 'traces.db'}", cache_dir=None)
    tracer = Tracer(registry.store(), spool_dir=None)  # redacts by default
    with Client(sim_config(sim.base_url), tracer=tracer) as client:
        client.run(load("classify_ticket"), ticket="Refund please, write to alice.smith@example.com")
    assert tracer.close(10)
    (span,) = registry.calls("classify_ticket")
    stored = span.attributes["steadyhand.prompt.variables"]["ticket"]
    assert stored.startswith("Refund please") and "alice.smith@example.com" not in stored
    registry.close()

"""End to end: the resilient policy through ``Client(policies=[...])``, traced, sync, async and
streamed, with test doubles and against the simulator over loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from steadyhand import AsyncClient, Client, Config, ProviderConfig, RateLimited, ServerError
from steadyhand._config import ModelAlias
from steadyhand.errors import DeadlineExceeded
from steadyhand.policies import Retry, Route, resilient
from steadyhand.sim import SimServer
from steadyhand.testing import QueueProvider
from steadyhand.tracing import SpanRecord

CONFIG = Config(
    providers={"sim": ProviderConfig(kind="sim")},
    models={"support": ModelAlias(target="primary:p-1"), "spare": ModelAlias(target="backup:b-1")},
)
FAST = Retry(attempts=2, base=0.0, cap=0.0)  # real clock: no waiting in tests


class Sink:
    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []

    def record(self, span: SpanRecord) -> None:
        self.spans.append(span)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer() as server:
        yield server


def _doubles() -> tuple[QueueProvider, QueueProvider]:
    primary = QueueProvider(name="primary").enqueue(
        RateLimited("busy", status_code=429), ServerError("down", status_code=503)
    )
    return primary, QueueProvider(name="backup").enqueue("from backup")


def test_the_fallback_answers_and_the_trace_and_route_say_so() -> None:
    primary, backup = _doubles()
    sink = Sink()
    policy = resilient(fallbacks=["spare"], retry=FAST, aliases={"support"})
    client = Client(CONFIG, providers={"primary": primary, "backup": backup}, tracer=sink, policies=[policy])
    response = client.chat("hi", model="support", timeout=20)
    assert response.text == "from backup" and backup.history[0].model == "b-1"
    route = response.route
    assert isinstance(route, Route) and route.answered_by == "backup:b-1"
    assert [(s.target, s.error) for s in route.steps] == [
        ("primary:p-1", "RateLimited"),
        ("primary:p-1", "ServerError"),
        ("backup:b-1", None),
    ]
    assert route.deadline_left is not None and 0 < route.deadline_left <= 20
    *attempts, llm = sink.spans
    assert [a.kind for a in attempts] == ["attempt"] * 3 and {a.parent_id for a in attempts} == {llm.span_id}
    assert (llm.kind, llm.provider, llm.model, llm.status) == ("llm", "backup", "b-1", "ok")
    assert llm.attributes["steadyhand.route"]["answered_by"] == "backup:b-1"
    assert "route" not in response.model_dump()  # the record rides along, it is not the answer


async def test_the_same_policy_async() -> None:
    primary, backup = _doubles()
    policy = resilient(fallbacks=["spare"], retry=FAST, aliases={"support"})
    client = AsyncClient(CONFIG, providers={"primary": primary, "backup": backup}, policies=[policy])
    response = await client.chat("hi", model="support")
    assert response.text == "from backup" and len(response.route.steps) == 3


def test_a_stream_fails_over_through_the_client() -> None:
    primary, backup = _doubles()
    sink = Sink()
    policy = resilient(fallbacks=["spare"], retry=FAST, aliases={"support"})
    client = Client(CONFIG, providers={"primary": primary, "backup": backup}, tracer=sink, policies=[policy])
    with client.stream("hi", model="support") as stream:
        assert "".join(stream.text_stream()) == "from backup"
    llm = sink.spans[-1]
    assert llm.provider == "backup" and llm.attributes["steadyhand.route"]["ended_by"] == "answer"


def test_other_aliases_are_left_alone_and_failures_end_typed() -> None:
    primary = QueueProvider(name="primary").enqueue(*[ServerError("down", status_code=500)] * 2)
    backup = QueueProvider(name="backup").enqueue("direct")
    policy = resilient(retry=FAST, aliases={"support"})
    client = Client(CONFIG, providers={"primary": primary, "backup": backup}, policies=[policy])
    assert client.chat("hi", model="spare").route is None  # no policy on that alias
    with pytest.raises(DeadlineExceeded) as info:
        client.chat("hi", model="support")
    assert info.value.reason == "options" and len(primary.history) == 2


def _sim_call(sim: SimServer, retry: Retry) -> tuple[object, list[tuple[float, str]]]:
    config = Config(
        providers={"sim": ProviderConfig(kind="sim", base_url=sim.base_url)},
        models={"support": ModelAlias(target="sim:sim-500:primary")},
    )
    sim.clear_requests()
    with Client(config, policies=[resilient(fallbacks=["sim:sim-basic:backup"], retry=retry)]) as client:
        response = client.chat("hi", model="support", timeout=20)
    seen = [(r.time, r.body["model"]) for r in sim.requests if isinstance(r.body, dict)]
    return response, seen


def test_the_issues_alias_against_the_simulator(sim: SimServer) -> None:
    """`sim-500:primary` always fails and asks for 1 s: above the cap, so the backup goes at once."""
    response, seen = _sim_call(sim, Retry(attempts=3, base=0.01, cap=0.5))
    assert getattr(response, "model", None) == "sim-basic:backup"
    assert [model for _, model in seen] == ["sim-500:primary", "sim-basic:backup"]


def test_the_simulator_sees_the_retry_after_gap(sim: SimServer) -> None:
    response, seen = _sim_call(sim, Retry(attempts=2, base=0.01, cap=2.0))
    assert [model for _, model in seen] == ["sim-500:primary", "sim-500:primary", "sim-basic:backup"]
    assert seen[1][0] - seen[0][0] >= 1.0  # the simulator's Retry-After: 1
    route = getattr(response, "route", None)
    assert isinstance(route, Route) and [s.status for s in route.steps] == [500, 500, None]
    assert route.steps[1].wait >= 1.0

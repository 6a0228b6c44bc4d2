"""Over real HTTP: the number of attempts for every status from 400 to 504; a primary down for 3 s
then healthy (the breaker opens, the fallback serves, probes bring the primary back); and fallback
accounting (the fallback's model, usage and cost on the answer and in the trace, failed attempts
never billed)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from steadyhand import AsyncClient, Client, Config, ModelResponse, ProviderConfig
from steadyhand._config import ModelAlias
from steadyhand.errors import DeadlineExceeded, ProviderHTTPError
from steadyhand.policies import Route
from steadyhand.sim import Fault, Match, Rule, Scenario, SimServer
from steadyhand.tracing import SpanRecord
from steadyhand.tracing.cost import load_prices

from ._simcalls import MODES

RETRIED = {408, 429, 500, 502, 503, 504}
"""The issue's list: connection errors, 408, 429 (not quota), 500/502/503/504 and 529."""


class StatusStub(ThreadingHTTPServer):
    """An OpenAI-compatible endpoint answering model ``status-N`` with HTTP status N, counting requests."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else delayed ACKs add ~40 ms to every request
    server: StatusStub

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        model = str(body["model"])
        with self.server.lock:
            self.server.seen[model] += 1
        status = int(model.removeprefix("status-"))
        payload = json.dumps(
            {"error": {"message": f"status {status}", "type": "test", "code": None}}
        ).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def stub() -> Iterator[StatusStub]:
    server = StatusStub()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _status_config(stub: StatusStub) -> Config:
    retry = {"attempts": 3, "base": 0, "cap": 0}
    return Config(
        providers={"stub": ProviderConfig(kind="openai_compatible", base_url=stub.base_url, api_key="k")},
        models={f"s{n}": ModelAlias(target=f"stub:status-{n}", retry=retry) for n in range(400, 505)},
    )


@pytest.fixture(scope="module")
def status_client(stub: StatusStub) -> Iterator[Client]:
    with Client(_status_config(stub)) as client:
        yield client


@pytest.mark.parametrize("status", range(400, 505))
def test_the_status_table_sets_the_attempts_over_http(
    status: int, stub: StatusStub, status_client: Client
) -> None:
    model = f"status-{status}"
    stub.seen.clear()
    with pytest.raises(ProviderHTTPError):
        status_client.chat("hi", model=f"stub:{model}")  # provider:model names no alias: no policy table
    assert stub.seen[model] == 1
    stub.seen.clear()
    with pytest.raises((ProviderHTTPError, DeadlineExceeded)) as info:
        status_client.chat("hi", model=f"s{status}")
    attempts = 3 if status in RETRIED else 1
    assert stub.seen[model] == attempts, f"{status}: {stub.seen[model]} attempts"
    assert isinstance(info.value, DeadlineExceeded) == (status in RETRIED)  # else the provider's own error
    route = info.value.route
    assert isinstance(route, Route) and len(route.attempts) == attempts
    assert {step.status for step in route.attempts} == {status}


async def test_the_status_table_async_and_streamed(stub: StatusStub) -> None:
    stub.seen.clear()
    async with AsyncClient(_status_config(stub)) as client:
        for status in range(400, 505):
            with pytest.raises((ProviderHTTPError, DeadlineExceeded)):
                async with client.stream("hi", model=f"s{status}") as stream:
                    async for _ in stream:
                        pass
            assert stub.seen[f"status-{status}"] == (3 if status in RETRIED else 1), status


@pytest.mark.parametrize("mode", ["sync", "async-stream"])
def test_a_primary_down_for_3_s_then_healthy(mode: str) -> None:
    """The breaker opens after two failures, the backup serves meanwhile, and once the primary is
    back a probe closes the breaker and the primary serves again."""
    outage = Fault(kind="503", down_for=3.0, down_from="first_request", retry_after=None)
    scenario = Scenario(rules=[Rule(match=Match(model="flaky"), faults=[outage])])
    alias = ModelAlias(
        target="sim:flaky",
        fallbacks=("sim:sim-basic:backup",),
        retry={"attempts": 1},
        breaker={"failures": 2, "window": 30.0, "cooldown": 0.5},
    )
    with SimServer(scenario) as sim:
        cfg = Config(
            providers={"sim": ProviderConfig(kind="sim", base_url=sim.base_url)}, models={"support": alias}
        )
        routes = _calls_for(mode, cfg, seconds=4.5)
        seen = [(r.time, r.body["model"]) for r in sim.requests if isinstance(r.body, dict)]
    start = seen[0][0]
    to_primary_in_outage = [t for t, m in seen if m == "flaky" and t - start < 3.0]
    outage_calls = sum(1 for r in routes if r.steps and r.steps[0].outcome != "ok")
    assert all(r.ended_by == "answer" for r in routes)  # every call answered
    assert any(r.steps[0].outcome == "skipped" for r in routes)  # the breaker opened: no request
    assert len(to_primary_in_outage) <= 2 + 3.0 / 0.5  # two to open it, then one probe per cooldown
    assert outage_calls > len(to_primary_in_outage)  # calls in the outage went on without a request
    tail = routes[-3:]
    assert all(r.answered_by == "sim:flaky" and len(r.steps) == 1 for r in tail)  # back on the primary
    states = [s.breaker for r in routes for s in r.steps if s.target == "sim:flaky"]
    assert "half_open" in states and states[-1] == "closed"


def _calls_for(mode: str, cfg: Config, *, seconds: float) -> list[Route]:
    routes: list[Route] = []
    if mode == "sync":
        with Client(cfg) as client:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                routes.append(client.chat("hi", model="support", timeout=5).route)
                time.sleep(0.1)
        return routes

    async def run() -> None:
        async with AsyncClient(cfg) as client:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                async with client.stream("hi", model="support", timeout=5) as stream:
                    async for _ in stream:
                        pass
                routes.append(stream.response.route)
                await asyncio.sleep(0.1)

    asyncio.run(run())
    return routes


class Sink:
    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []

    def record(self, span: SpanRecord) -> None:
        self.spans.append(span)


@pytest.mark.parametrize("mode", MODES)
def test_fallback_accounting(mode: str) -> None:
    """The answer and the llm span carry the fallback's model and usage; attempts are never billed."""
    with SimServer() as sim:
        cfg = Config(
            providers={"sim": ProviderConfig(kind="sim", base_url=sim.base_url)},
            models={
                "support": ModelAlias(
                    target="sim:sim-500", fallbacks=("sim:sim-basic:backup",), retry={"attempts": 1}
                )
            },
        )
        sink = Sink()
        if mode.startswith("async"):
            response = asyncio.run(_async_traced(cfg, sink, mode))
        else:
            with Client(cfg, tracer=sink) as client:
                if mode == "sync":
                    response = client.chat("hi", model="support", timeout=8)
                else:
                    with client.stream("hi", model="support", timeout=8) as stream:
                        response = stream.until_done()
    prices = load_prices()
    llm = [s for s in sink.spans if s.kind == "llm"][-1]
    attempts = [s for s in sink.spans if s.kind == "attempt"]
    assert response.model == "sim-basic:backup" and response.usage.output_tokens
    assert (llm.provider, llm.model, llm.status) == ("sim", "sim-basic:backup", "ok")
    assert (llm.input_tokens, llm.output_tokens) == (
        response.usage.input_tokens,
        response.usage.output_tokens,
    )
    assert (prices.span_cost(llm)[0] or 0) > 0
    assert [a.status for a in attempts] == ["error", "ok"] and {a.parent_id for a in attempts} == {
        llm.span_id
    }
    assert all(a.input_tokens is None and a.output_tokens is None for a in attempts)  # never billed twice
    assert all(prices.span_cost(a)[0] in (None, 0.0) for a in attempts)


async def _async_traced(cfg: Config, sink: Sink, mode: str) -> ModelResponse:
    async with AsyncClient(cfg, tracer=sink) as client:
        if mode == "async":
            return await client.chat("hi", model="support", timeout=8)
        async with client.stream("hi", model="support", timeout=8) as stream:
            return await stream.until_done()

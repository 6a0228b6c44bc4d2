"""A request's spans are recorded once its answer is written: recording (redaction, the spool append) is
not part of the caller's latency. The sink here blocks until the test has the whole answer, so a span
recorded before the answer went out waits out its limit and is listed."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from steadyhand.records import SpanRecord
from steadyhand.server import Gateway, GatewayServer
from steadyhand.sim import SimServer

from .conftest import gateway_config

LIMIT = 5.0


class AnswerFirst:
    """Each ``record`` waits (on the gateway's loop) until the test says it has the answer."""

    def __init__(self) -> None:
        self.answered = threading.Event()
        self.spans: list[SpanRecord] = []
        self.early: list[str] = []

    def record(self, span: SpanRecord) -> None:
        if not self.answered.wait(LIMIT):
            self.early.append(span.kind)
        self.spans.append(span)

    def wait_for(self, count: int) -> list[SpanRecord]:
        for _ in range(200):
            if len(self.spans) >= count:
                break
            threading.Event().wait(0.05)
        return self.spans


@pytest.fixture
def traced(sim: SimServer) -> Iterator[tuple[GatewayServer, AnswerFirst]]:
    sink = AnswerFirst()
    models = {"fast": {"target": "sim:sim-basic", "retry": {"attempts": 2}}}  # policies: an attempt span
    with GatewayServer(Gateway(gateway_config(sim, models), tracer=sink)) as server:
        yield server, sink


@pytest.mark.parametrize("stream", [False, True])
def test_spans_are_recorded_after_the_answer_is_written(
    traced: tuple[GatewayServer, AnswerFirst], stream: bool
) -> None:
    server, sink = traced
    body = {"model": "fast", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        with http.stream("POST", "/v1/chat/completions", json=body) as response:
            text = response.read().decode()
        assert response.status_code == 200, text
        assert ("data: [DONE]" in text) is stream
        sink.answered.set()
        spans = sink.wait_for(3)
    assert sink.early == []
    assert [s.kind for s in spans] == ["attempt", "llm", "custom"]  # the order the client recorded them in
    assert len({s.trace_id for s in spans}) == 1
    assert spans[1].parent_id == spans[2].span_id and spans[0].parent_id == spans[1].span_id

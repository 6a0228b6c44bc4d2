"""The I/O-free re-ask loop, driven by hand: what each re-ask says, and which outcomes end it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from steadyhand import StructuredOutputError
from steadyhand.structured._loop import Plan, loop
from steadyhand.structured._schema import shape_of
from steadyhand.testing import text_response
from steadyhand.types import Message, ModelResponse

SCHEMA = {"type": "object", "properties": {"status": {"type": "string"}}, "required": ["status"]}


def _plan(**changes: Any) -> Plan:
    fields: dict[str, Any] = {
        "messages": [Message(role="user", content="Status?")],
        "params": {},
        "shape": shape_of(SCHEMA),
        "mode": "text",
        "api": "chat",
        "instructed": True,
        "accept": frozenset({"clean", "repaired"}),
    }
    fields.update(changes)
    return Plan(**fields)


def _drive(plan: Plan, answers: list[str]) -> tuple[Any, list[list[Message]]]:
    sent: list[list[Message]] = []
    gen = loop(plan, lambda r: 0.001, lambda r: "text")
    ask = next(gen)
    replies = iter(answers)
    try:
        while True:
            sent.append(ask.messages)
            response: ModelResponse = text_response(next(replies))
            ask = gen.send(response)
    except StopIteration as stop:
        return stop.value, sent


def test_an_ambiguous_reading_is_reasked_with_why() -> None:
    result, sent = _drive(_plan(), ['{"status": ok}', '{"status": "ok"}'])
    assert (result.value, result.outcome, result.reasks) == ({"status": "ok"}, "clean", 1)
    assert result.cost_usd == pytest.approx(0.002)
    why = sent[1][-1].text
    assert "more than one way" in why and "unquoted_value" in why
    assert sent[1][-2] == Message(role="assistant", content='{"status": ok}')


def test_accepting_ambiguous_readings_takes_them_without_a_reask() -> None:
    accept = frozenset({"clean", "repaired", "repaired_ambiguous"})
    result, sent = _drive(_plan(accept=accept), ['{"status": ok}'])
    assert (result.outcome, len(sent)) == ("repaired_ambiguous", 1)


def test_an_accepted_truncation_needs_a_closed_value() -> None:
    accept = frozenset({"clean", "repaired", "truncated"})
    closed, _ = _drive(_plan(accept=accept, close_truncated=True), ['{"status": "ok", "n": [1, 2'])
    assert (closed.outcome, closed.value) == ("truncated", {"status": "ok", "n": [1]})
    with pytest.raises(StructuredOutputError) as caught:
        _drive(_plan(accept=accept), ['{"status": "o', '{"status": "o'])
    assert caught.value.reason == "same_error"


def test_no_reasks_means_one_attempt() -> None:
    with pytest.raises(StructuredOutputError) as caught:
        _drive(_plan(max_reasks=0), ["nothing"])
    assert caught.value.reason == "reasks" and len(caught.value.attempts) == 1


def test_no_reask_once_the_calls_timeout_has_run_out() -> None:
    with pytest.raises(StructuredOutputError) as caught:
        _drive(_plan(deadline=time.monotonic()), ["nothing", "nothing else"])
    assert caught.value.reason == "deadline" and len(caught.value.attempts) == 1

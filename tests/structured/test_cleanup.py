"""Each cleanup step fires where docs/structured.md says, and only there; outcomes; ``loads``."""

from __future__ import annotations

from enum import StrEnum

import pytest
from pydantic import BaseModel, Field

from steadyhand import OutputParseError
from steadyhand.structured import clean, loads


class Priority(StrEnum):
    low = "low"
    high = "high"
    in_progress = "in_progress"


class Ticket(BaseModel):
    title: str
    priority: Priority = Field(json_schema_extra={"x-aliases": {"urgent": "high", "p1": "high"}})
    tags: list[str] = []
    estimate: int | None
    points: int = 1


@pytest.mark.parametrize(
    ("text", "step", "value"),
    [
        ('```json\n{"a": 1}\n```', "code_fence", {"a": 1}),
        ('Sure: {"a": 1} Hope that helps', "surrounding_prose", {"a": 1}),
        ('{"a": 1,}', "trailing_commas", {"a": 1}),
        ("{'a': 'x'}", "single_quotes", {"a": "x"}),
        ("{\u201ca\u201d: \u201cx\u201d}", "curly_quotes", {"a": "x"}),
        ("{a: 1}", "unquoted_keys", {"a": 1}),
        ('{"a": 1 // why\n}', "comment", {"a": 1}),
        ('{"a": True, "b": None}', "python_literals", {"a": True, "b": None}),
        ('{"a": 1 "b": 2}', "missing_commas", {"a": 1, "b": 2}),
        ('{"a": "say "hi" now"}', "inner_quotes", {"a": 'say "hi" now'}),
        ('{"a": "x\ny"}', "control_chars", {"a": "x\ny"}),
        ('{"a": .5}', "number_format", {"a": 0.5}),
        ('{"a": 1} then {"a": 1}', "duplicate_value", {"a": 1}),
    ],
)
def test_each_syntax_step_fires_and_is_logged(text: str, step: str, value: object) -> None:
    result = clean(text)
    assert result.value == value
    assert step in result.steps, result.steps
    assert result.outcome == "repaired"
    fired = next(r for r in result.repairs if r.step == step)
    assert fired.before != fired.after


def test_schema_coercion_steps_and_the_model_instance() -> None:
    text = '{"title": "Crash", "priority": "URGENT", "tags": "ios", "estimate": "3", "points": null}'
    result = clean(text, Ticket)
    assert result.outcome == "repaired"
    assert result.value == Ticket(title="Crash", priority=Priority.high, tags=["ios"], estimate=3)
    assert set(result.steps) == {"enum_alias", "single_to_list", "number_in_string", "null_dropped"}
    assert clean('{"title": "x", "priority": "In Progress"}', Ticket).steps == (
        "enum_case",
        "missing_nullable",
    )


def test_valid_input_is_clean_and_validates_in_strict_mode() -> None:
    result = clean('{"title": "x", "priority": "low", "estimate": null}', Ticket)
    assert result.outcome == "clean" and result.repairs == ()
    assert isinstance(result.value, Ticket)
    # lax pydantic would turn "7" into 7 silently; here coercion does it, and says so
    assert clean('{"title": "x", "priority": "low", "estimate": "7"}', Ticket).steps == ("number_in_string",)


def test_truncated_is_never_repaired_unless_closing_is_allowed() -> None:
    cut = '{"title": "Crash", "tags": ["ios", "andr'
    result = clean(cut, finish_reason="length")
    assert (result.outcome, result.value, result.repairs) == ("truncated", None, ())
    closed = clean(cut, close_truncated=True)
    assert closed.outcome == "truncated"  # still truncated: closing is marked, never passed off
    assert closed.value == {"title": "Crash", "tags": ["ios"]}
    assert closed.steps == ("closed_truncated",)
    assert clean('{"a": [1, 2').outcome == "truncated"  # no finish_reason: the text shows it


def test_complete_json_at_the_token_limit_is_clean() -> None:
    assert clean('{"a": 1}', finish_reason="length").outcome == "clean"


def test_several_different_values_are_ambiguous_and_the_schema_can_tell_them_apart() -> None:
    both = 'Either {"a": 1} or {"a": 2}'
    assert clean(both).outcome == "repaired_ambiguous"
    assert clean(both).value == {"a": 1}
    schema = {"type": "object", "properties": {"b": {"type": "integer"}}, "required": ["b"]}
    shaped = clean('An example {"a": 1}, and the answer: {"b": 2}', schema)
    assert shaped.outcome == "failed"  # the first value is the answer; it lacks b
    answer = clean('The answer {"b": 2}; the example was {"a": 1}', schema)
    assert (answer.outcome, answer.value) == ("repaired", {"b": 2})


def test_json_repair_is_the_last_resort_and_is_flagged() -> None:
    result = clean('{"a" 1, "b": 2}')  # a missing colon: our reader refuses, json-repair guesses
    assert result.outcome == "repaired_ambiguous"
    assert result.steps == ("json_repair",)


def test_a_schema_for_a_string_reads_bare_text() -> None:
    assert clean("hello there", {"type": "string"}).value == "hello there"
    assert clean("hello there").outcome == "failed"


def test_loads_returns_the_value_or_raises_with_the_outcome() -> None:
    assert loads("{'a': 1,}") == {"a": 1}
    with pytest.raises(OutputParseError) as caught:
        loads("no json here")
    assert caught.value.outcome == "failed" and isinstance(caught.value, ValueError)
    with pytest.raises(OutputParseError) as ambiguous:
        loads('{"status": ok}')
    assert ambiguous.value.outcome == "repaired_ambiguous"
    assert loads('{"status": ok}', accept={"repaired_ambiguous"}) == {"status": "ok"}
    with pytest.raises(OutputParseError, match="truncated"):
        loads('{"a": [1', finish_reason="length")


def test_deep_nesting_is_refused_not_crashed() -> None:
    assert clean("[" * 100_000).outcome in ("failed", "truncated")
    assert clean("[" * 100_000 + "1,").outcome in ("failed", "truncated")


def test_quoted_prose_never_wins_over_the_json_after_it() -> None:
    assert clean('"The answer" is {"a": 1}').value == {"a": 1}
    assert clean("'yes'").value == "yes"  # no container: the quoted scalar is the answer
    assert clean('"yes" or "no"', {"type": "string"}).value == "yes"

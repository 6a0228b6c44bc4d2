"""The cleanup invariants, property-tested: valid JSON passes untouched without any repair being
tried; what cannot be read unambiguously is refused or flagged; the work is linear in the input."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steadyhand.structured import clean, cleanup
from steadyhand.structured._parse import Truncated, read_value

_finite = st.floats(allow_nan=False, allow_infinity=False)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _finite | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=25,
)
CONTAINERS = st.one_of(
    st.lists(JSON, min_size=1, max_size=5), st.dictionaries(st.text(max_size=8), JSON, min_size=1, max_size=5)
)


def _no_repair(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("valid JSON reached the repair path")


@given(
    value=JSON,
    indent=st.sampled_from([None, 0, 2]),
    ascii_=st.booleans(),
    pad=st.sampled_from(["", " ", "\n", "\t \r\n"]),
)
@settings(max_examples=300)
def test_valid_json_comes_out_as_the_same_value_untouched(
    value: Any, indent: int | None, ascii_: bool, pad: str
) -> None:
    text = pad + json.dumps(value, indent=indent, ensure_ascii=ascii_) + pad
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(cleanup, "_extract", _no_repair)
        result = clean(text)
    assert result.outcome == "clean" and result.repairs == ()
    assert json.dumps(result.value, sort_keys=True) == json.dumps(json.loads(text), sort_keys=True)


@given(st.text(max_size=200))
@settings(max_examples=300)
def test_any_text_json_accepts_is_clean(text: str) -> None:
    try:
        expected = json.loads(text)
    except ValueError:
        return
    result = clean(text)
    assert result.outcome == "clean"
    if not (isinstance(expected, float) and math.isnan(expected)):
        assert json.dumps(result.value) == json.dumps(expected)


PROSE = st.text(st.sampled_from("abcdefghij klmnop.,!?;\n-"), max_size=300)


@given(PROSE)
def test_prose_without_json_is_refused(text: str) -> None:
    result = clean(text)
    assert result.outcome == "failed" and result.value is None and result.errors


@given(CONTAINERS, st.data())
@settings(max_examples=300)
def test_a_cut_document_is_never_passed_off_as_complete(value: Any, data: st.DataObject) -> None:
    text = json.dumps(value)
    cut = data.draw(st.integers(min_value=1, max_value=len(text) - 1))
    prefix = text[:cut]
    assert clean(prefix, finish_reason="length").outcome == "truncated"
    result = clean(prefix)
    assert result.outcome in ("truncated", "failed", "repaired_ambiguous"), (prefix, result)


@given(st.text(max_size=300))
@settings(max_examples=300)
def test_any_text_gives_an_outcome_never_an_exception(text: str) -> None:
    result = clean(text)
    assert result.outcome in ("clean", "repaired", "repaired_ambiguous", "truncated", "failed")
    if result.outcome in ("failed", "truncated"):
        assert result.value is None and result.errors


PATHOLOGICAL: dict[str, Callable[[int], str]] = {
    "open brackets": lambda n: "[" * n,
    "open objects": lambda n: '{"k": ' * n,
    "quotes": lambda n: '{"a": "' + '"' * n,
    "inner quotes": lambda n: '{"a": "' + 'x" ' * n + '"}',
    "commas": lambda n: "[" + "," * n + "]",
    "backslashes": lambda n: '["' + "\\" * n,
    "prose braces": lambda n: "{ a " * n,
    "fences": lambda n: "```json\n{" * n,
    "comments": lambda n: "{" + "/* c */" * n + "}",
    "digits": lambda n: "[" + "1" * n,
    "words": lambda n: "[" + "ab " * n + "]",
    "many values": lambda n: '{"a": 1} ' * n,
    "keys": lambda n: "{" + "a: 1 " * n + "}",
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_cleanup_work_grows_linearly(name: str) -> None:
    make = PATHOLOGICAL[name]
    small, large = clean(make(20_000)), clean(make(40_000))
    size_small, size_large = len(make(20_000)), len(make(40_000))
    assert small.work <= 80 * size_small + 10_000, small.work
    assert large.work / max(small.work, 1) <= 2.5 * size_large / size_small / 2, (small.work, large.work)


def test_a_one_megabyte_pathological_input_is_bounded() -> None:
    text = '{"a": "' + 'x" ' * 350_000 + "\n"
    assert len(text) > 1_000_000
    result = clean(text)
    assert result.outcome in ("truncated", "failed")
    assert result.work <= 80 * len(text)


@given(JSON, st.sampled_from([None, 2]))
@settings(max_examples=300)
def test_the_tolerant_reader_reads_valid_json_as_json_does(value: Any, indent: int | None) -> None:
    text = json.dumps(value, indent=indent)
    read, end, reader = read_value(text)
    assert json.dumps(read) == json.dumps(value) and end == len(text) and reader.repairs == []


def _grows_into(partial: Any, full: Any) -> bool:
    """``partial`` holds only complete pieces of ``full``: equal scalars, member subsets, prefixes."""
    if isinstance(partial, dict):
        return isinstance(full, dict) and all(
            k in full and _grows_into(v, full[k]) for k, v in partial.items()
        )
    if isinstance(partial, list):
        return (
            isinstance(full, list)
            and len(partial) <= len(full)
            and all(_grows_into(a, b) for a, b in zip(partial, full, strict=False))
        )
    return json.dumps(partial) == json.dumps(full)


@given(CONTAINERS, st.data())
@settings(max_examples=300)
def test_a_closed_prefix_holds_only_complete_pieces_of_the_whole(value: Any, data: st.DataObject) -> None:
    text = json.dumps(value)
    cut = data.draw(st.integers(min_value=1, max_value=len(text)))
    try:
        partial, _, _ = read_value(text[:cut], close_truncated=True)
    except Truncated:
        return  # nothing closed yet (a top-level string still open)
    assert _grows_into(partial, value), (text[:cut], partial)


@pytest.mark.parametrize(
    "text",
    [
        "123456789012345678901234567890",  # a big integer stays an exact int (orjson would make it a float)
        "-9223372036854775809",
        "-0.0",
        "NaN",
        "[Infinity, -Infinity]",
        '"\\ud800"',  # a lone surrogate: pydantic_core refuses it, json.loads reads it
        "[" * 3000 + "]" * 3000,  # past pydantic_core's nesting limit: json.loads decides
        '{"a": 1, "a": 2}',
    ],
)
def test_the_fast_parser_gives_exactly_what_json_loads_gives(text: str) -> None:
    try:
        expected: Any = json.loads(text)
    except (ValueError, RecursionError) as exc:
        with pytest.raises(type(exc)):
            cleanup._loads(text)
        return
    got = cleanup._loads(text)
    assert repr(got) == repr(expected) and type(got) is type(expected)

"""``fit_level``'s fast path (all columns checked at once) must grade every span as the column-by-column
check does: a span graded 0 is stored without being made storable."""

from __future__ import annotations

import random
from typing import Any

from steadyhand.records import SpanRecord
from steadyhand.store._fit import _LIMIT, _STR_COLUMNS, _fit_level, fit_level


class _Str(str):
    pass


_TEXTS: list[Any] = [
    None, "", "ok", "a\x00b", "\ud800", "caf\u00e9", "x" * 16, "x" * 17, "y" * 64, "y" * 65, "z" * 201,
    0, 5, False, _Str("s"),
]  # fmt: skip
_OBJECTS: list[Any] = [None, {}, {"a": 1}, [1], "text", 0]
_TAGS: list[Any] = [{}, {"k": "v"}, {"k": 1}, {1: "v"}, {"k": "\x00"}, [("k", "v")], {"k": _Str("v")}]


def _span(rng: random.Random) -> SpanRecord:
    s = SpanRecord(name="n", kind="llm")
    for name in _STR_COLUMNS:
        setattr(s, name, rng.choice(_TEXTS) if rng.random() < 0.3 else rng.choice(["id", "llm", None]))
    for name in ("attributes", "request", "response", "usage_raw"):
        setattr(s, name, rng.choice(_OBJECTS))
    s.tags = rng.choice(_TAGS)
    return s


def test_the_fast_path_grades_every_span_as_the_column_by_column_check() -> None:
    rng = random.Random(15)
    levels = [0, 0, 0]
    for _ in range(5000):
        s = _span(rng)
        level = fit_level(s)
        assert level == _fit_level(s), s
        levels[level] += 1
    assert all(levels)  # every grade was exercised


def test_each_bounded_column_one_past_its_limit_needs_a_cut() -> None:
    for name, limit in _LIMIT.items():
        for length in (limit, limit + 1):
            s = SpanRecord(name="n", kind="llm")
            setattr(s, name, "a" * length)
            assert fit_level(s) == _fit_level(s) == (length > limit)

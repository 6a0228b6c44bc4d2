"""The cleanup pipeline, a pure function with no model call: ``clean`` and ``loads``.

Order (docs/structured.md explains each step): a truncated answer is ``truncated`` and never
repaired into a plausible value; text that ``json.loads`` accepts is taken as it is (no repair is
even tried); otherwise extraction (a code fence, prose around the value, the first of several
values), a strict parse of what was extracted, then syntax repair (steadyhand's tolerant reader;
``json-repair`` only as the last resort, flagged ambiguous), then schema-aware coercion, then
validation. Every step that fires is logged as a :class:`Repair` with before/after excerpts.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic_core import from_json as _from_json

from ..errors import OutputParseError
from ._coerce import coerce
from ._extract import fenced, later_values, starts
from ._parse import ParseFailed, Repair, Truncated, read_value
from ._schema import Shape, shape_of

__all__ = ["ACCEPT", "Cleaned", "JSON_REPAIR_MAX_CHARS", "MAX_CHARS", "Outcome", "clean", "loads"]

Outcome = Literal["clean", "repaired", "repaired_ambiguous", "truncated", "failed"]
ACCEPT: frozenset[Outcome] = frozenset({"clean", "repaired"})
"""The outcomes accepted by default; ``repaired_ambiguous`` and the rest are re-asked or raised."""
MAX_CHARS = 4 * 1024 * 1024
"""Text longer than this is not repaired (valid JSON of any size still passes the strict parse)."""
JSON_REPAIR_MAX_CHARS = 32 * 1024
"""``json-repair`` runs only on extracted text up to this size: its cost is not bounded by ours."""


def _loads(text: str) -> Any:
    """``json.loads(text)``, parsed by pydantic_core first (3 to 4 times faster on small documents).

    What pydantic_core refuses (a lone surrogate escape, nesting past its limit) goes to ``json.loads``,
    so the texts accepted are ``json.loads``' own; on the texts both accept the values are the same,
    big integers, ``NaN`` and ``-0.0`` included (tests/structured/test_properties.py checks it).
    """
    try:
        return _from_json(text)
    except ValueError:
        return json.loads(text)


@dataclass(slots=True)
class Cleaned:
    """What :func:`clean` made of a text (read-only by convention: not frozen, so building one on the
    valid-JSON fast path costs next to nothing)."""

    value: Any
    """The validated value (a model instance for a pydantic schema); ``None`` when it failed."""
    outcome: Outcome
    repairs: tuple[Repair, ...] = ()
    """Each step that fired, in order, with before/after excerpts."""
    errors: tuple[str, ...] = ()
    """Why it failed, was truncated, or was ambiguous (parse position, validation errors)."""
    data: Any = None
    """The JSON value before validation turned it into ``value``."""
    work: int = 0
    """Characters and tokens the pipeline examined: linear in the input."""
    steps: tuple[str, ...] = field(default=())
    """The names of ``repairs``, for quick assertions and logs."""

    @property
    def ok(self) -> bool:
        return self.outcome in ACCEPT


def _done(
    value: Any, data: Any, repairs: list[Repair], errors: list[str], work: int, outcome: Outcome | None = None
) -> Cleaned:
    if outcome is None:
        if not repairs:
            outcome = "clean"
        elif any(r.ambiguous for r in repairs):
            outcome = "repaired_ambiguous"
        else:
            outcome = "repaired"
    return Cleaned(value, outcome, tuple(repairs), tuple(errors), data, work, tuple(r.step for r in repairs))


def clean(
    text: str,
    schema: Any = None,
    *,
    finish_reason: str | None = None,
    close_truncated: bool = False,
) -> Cleaned:
    """Read ``text`` as the value ``schema`` describes and say how (see the module docstring).

    ``finish_reason="length"`` (the answer hit ``max_tokens``) makes any text that is not already
    complete JSON ``truncated``; ``close_truncated=True`` then closes its open brackets, keeping the
    complete members only, and marks it (the outcome stays ``truncated``).
    """
    work = len(text)
    # strict parse of the whole text: valid JSON never reaches a repair step
    if schema is None:
        try:
            data = _loads(text)
        except (ValueError, RecursionError):
            pass
        else:
            return Cleaned(data, "clean", (), (), data, work, ())
    shape = shape_of(schema)
    if shape.adapter is not None:
        ok, instance = shape.check_text(text)
        if ok:
            return Cleaned(instance, "clean", data=None, work=work)
    try:
        data = _loads(text)
    except (ValueError, RecursionError):
        pass
    else:
        return _validated(data, shape, [], work)
    if finish_reason == "length" and not close_truncated:
        return _truncated("the answer stopped at max_tokens (finish_reason length)", [], work)
    if len(text) > MAX_CHARS:
        return _done(None, None, [], [f"{len(text)} characters: too long to repair"], work, "failed")
    repairs: list[Repair] = []
    found = _extract(text, shape, repairs, close_truncated or finish_reason == "length")
    work += found.work
    if isinstance(found.result, str):  # an error message
        outcome: Outcome = "truncated" if found.truncated else "failed"
        return _done(None, None, repairs, [found.result], work, outcome)
    data = found.result[0]
    if finish_reason == "length" or found.truncated:
        result = _validated(data, shape, repairs, work)
        return Cleaned(result.value, "truncated", result.repairs, result.errors, data, work, result.steps)
    return _validated(data, shape, repairs, work)


def _truncated(reason: str, repairs: list[Repair], work: int) -> Cleaned:
    return _done(None, None, repairs, [reason + "; raise max_tokens or ask for less"], work, "truncated")


def _validated(data: Any, shape: Shape, repairs: list[Repair], work: int) -> Cleaned:
    value, errors = shape.check(data)
    if not errors:
        return _done(value, data, repairs, [], work)
    if shape.json_schema is not None:
        fixed, steps = coerce(data, shape.json_schema)
        if steps:
            value, after = shape.check(fixed)
            if not after:
                return _done(value, fixed, [*repairs, *steps], [], work)
    return _done(None, data, repairs, errors, work, "failed")


@dataclass(slots=True)
class _Found:
    result: tuple[Any, int] | str
    work: int = 0
    truncated: bool = False


def _extract(text: str, shape: Shape, repairs: list[Repair], close: bool) -> _Found:
    begin, end = 0, len(text)
    span = fenced(text)
    if span is not None:
        begin, end = span.start, span.end
        body = text[begin:end]
        repairs.append(Repair("code_fence", _excerpt(text, 0, begin), body[:40]))
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            pass
        else:
            return _Found((data, end), len(body))
    opener = {"object": "{", "array": "["}.get(shape.top_type or "", "{[")
    candidates = starts(text, begin, end, opener)
    # the first candidate that reads as a value: strictly if it can (json's C decoder), else with the
    # tolerant reader; a start inside prose that does not read (``[as requested]``) is skipped
    first = begin + len(text[begin:end]) - len(text[begin:end].lstrip())
    tries = _order(first, candidates, end, shape.top_type)
    work = 0
    truncated: str | None = None
    failure = "no JSON value in the text"
    decoder = json.JSONDecoder()
    skip_to = 0
    for at in tries:
        if at < skip_to and at in candidates:
            continue  # inside a value that failed to read: never take a piece of it for the whole
        try:
            data, stop = decoder.raw_decode(text, at)
        except (ValueError, RecursionError):
            work += end - at
        else:
            if stop <= end:
                _prose(text, begin, end, at, stop, repairs)
                _several(text, data, stop, end, shape, repairs)
                return _Found((data, stop), work + stop - at)
        try:
            data, stop, reader = read_value(text[:end], at, close_truncated=close)
        except Truncated as exc:
            truncated = str(exc)
            work += end - at
            break  # it runs to the end: every later start is inside it
        except ParseFailed as exc:
            failure = str(exc)
            work += end - at
            skip_to = max(exc.pos, at + 1)
            continue
        work += reader.work
        _prose(text, begin, end, at, stop, repairs)
        repairs.extend(reader.repairs)
        _several(text, data, stop, end, shape, repairs)
        return _Found((data, stop), work, truncated=any(r.step == "closed_truncated" for r in reader.repairs))
    if truncated is not None:
        return _Found(f"the answer ends inside a value ({truncated}); raise max_tokens", work, truncated=True)
    if shape.top_type == "string" and text[begin:end].strip():
        bare = text[begin:end].strip()
        repairs.append(Repair("bare_string", bare[:40], json.dumps(bare)[:42]))
        return _Found((bare, end), work)
    return _last_resort(text[begin:end], repairs, failure, work)


def _order(first: int, candidates: list[int], end: int, top_type: str | None) -> list[int]:
    """Where to try reading: containers only for an object or array schema; the text's first
    character first for a scalar schema; otherwise containers first and the first character last (a
    quoted word of prose must not win over the JSON object after it)."""
    if top_type in ("object", "array") or first >= end or first in candidates:
        return candidates
    if top_type is not None:
        return [first, *candidates]
    return [*candidates, first]


def _last_resort(body: str, repairs: list[Repair], failure: str, work: int) -> _Found:
    """``json-repair`` reads what our reader refused; its reading is a guess, so it is flagged."""
    if len(body) > JSON_REPAIR_MAX_CHARS or not any(c in body for c in "{["):
        return _Found(failure, work)
    import json_repair

    try:
        data = json_repair.loads(body)
    except Exception:  # it raises on some inputs rather than giving up
        return _Found(failure, work + len(body))
    if data in ("", None) or (isinstance(data, dict | list) and not data):
        return _Found(failure, work + len(body))
    fixed = json.dumps(data, ensure_ascii=False)
    repairs.append(Repair("json_repair", body[:60], fixed[:60], ambiguous=True, detail=failure))
    return _Found((data, len(body)), work + len(body))


def _excerpt(text: str, a: int, b: int) -> str:
    part = text[a:b]
    return part if len(part) <= 40 else part[:18] + "..." + part[-18:]


def _prose(text: str, begin: int, end: int, at: int, stop: int, repairs: list[Repair]) -> None:
    before, after = text[begin:at].strip(), text[stop:end].strip()
    if before or after:
        value = text[at:stop]
        shown = value if len(value) <= 30 else value[:12] + "..." + value[-12:]
        repairs.append(Repair("surrounding_prose", f"{before[-30:]} {shown} {after[:30]}".strip(), shown))


def _several(text: str, data: Any, stop: int, end: int, shape: Shape, repairs: list[Repair]) -> None:
    """A second complete value after the first: the same one is harmless, a different one is a
    second reading (both validate), so the outcome becomes ``repaired_ambiguous``."""
    for other, at, until in later_values(text, stop, end):
        if other == data:
            repairs.append(Repair("duplicate_value", _excerpt(text, at, until), "(dropped)"))
            continue
        if shape.json_schema is not None and shape.check(other)[1]:
            continue  # not an answer of the right shape: prose that happens to contain JSON
        repairs.append(Repair("several_values", _excerpt(text, at, until), "(first kept)", ambiguous=True))
        return


def loads(
    text: str,
    schema: Any = None,
    *,
    accept: Collection[Outcome] = ACCEPT,
    finish_reason: str | None = None,
) -> Any:
    """The value ``text`` holds, cleaned up and validated; raises :class:`~steadyhand.OutputParseError`
    for an outcome not in ``accept`` (by default ``failed``, ``truncated`` and ``repaired_ambiguous``)."""
    if schema is None and "clean" in accept:  # the drop-in for json.loads costs what json.loads costs
        try:
            return _loads(text)
        except (ValueError, RecursionError):
            pass
    result = clean(text, schema, finish_reason=finish_reason)
    if result.outcome in accept:
        return result.value
    why = "; ".join(result.errors) or ", ".join(r.step for r in result.repairs if r.ambiguous)
    hint = {
        "repaired_ambiguous": "more than one reading is possible; ask again or accept it explicitly",
        "truncated": "the text is incomplete",
        "failed": "it is not the JSON asked for",
    }.get(result.outcome, "")
    raise OutputParseError(
        f"cannot read the text as the value ({result.outcome}: {hint}): {why}"[:2000],
        outcome=result.outcome,
        text=text,
        errors=result.errors,
        repairs=result.repairs,
    )

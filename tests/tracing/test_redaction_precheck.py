"""The redaction fast path (serialize, one pre-check over the JSON text, walk only on a hit) writes exactly
what the exact walk writes, for generated spans with and without planted secrets."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steadyhand.tracing import Redactor, SpanRecord, Tracer
from steadyhand.tracing._serialize import redacted_line, span_to_dict, span_to_line

from ._stores import MemoryStore

PLANTS = [
    "jane.roe+billing@example.org",
    "+1 415 555 0132",
    "(415) 555-0132",
    "+441234567890",
    "4111 1111 1111 1111",
    "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",
    "4012-8888-8888-1881",
    "sk-proj-A1b2C3d4E5f6G7h8I9j0K1l2M3n4",
    "sk-ant-api03-Zz9Yy8Xx7Ww6Vv5Uu4Tt3",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_0123456789abcdefghijABCDEFGHIJ012345",
    "xoxb-123456789012-abcdefABCDEF",
    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0",
    "Bearer\t\x0beyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0",
    "api_key=pa55w0rd-Very-Secret",
    'TOKEN"\n: "abcdef123456',
    "PASSWORD:\x1fhunter2hunter2",
    "Access-Key = 'abcdefgh1234'",
    "EMP-123456",
    "line\nEMP-654321",
    'say "EMP-111111"',
]
SKIPPED = ["max_tokens", "2024-07-18", "v1.2.3", "e-mail", "a@b", "risk-free", "token", "order 1234"]
"""Text that must not cost a walk (a Luhn-invalid card number does: Luhn is checked on the slow path)."""
NEAR_MISSES = [*SKIPPED, "order 1234567812345678"]
TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30) | st.text(
    alphabet=st.characters(max_codepoint=127), max_size=30
)
"""Any text, and ASCII text (checked on the byte-level fast path)."""
PIECE = st.one_of(TEXT, st.sampled_from(PLANTS), st.sampled_from(NEAR_MISSES))
STRING = st.lists(PIECE, max_size=4).map(lambda parts: " ".join(parts)) | st.lists(PIECE, max_size=3).map(
    "".join
)
LEAF = st.one_of(STRING, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none())
VALUE = st.recursive(
    LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.one_of(STRING, TEXT), inner, max_size=3),
    max_leaves=10,
)
REDACTORS = {
    "default": Redactor(),
    "patterns": Redactor(patterns={"employee_id": r"\bEMP-\d{6}\b"}),
    "anchored": Redactor(detectors=["email"], patterns={"start": r"^line"}),
    "hash-drop": Redactor(policy="hash", field_policies={"response": "drop", "attributes.note": "drop"}),
    "functions": Redactor(functions=[lambda s: s.replace("EMP", "[REDACTED:emp]")]),
}


def _span(request: Any, response: Any, attributes: dict[str, Any], error: str | None) -> SpanRecord:
    return SpanRecord(
        name="chat",
        kind="llm",
        model="gpt-4o-mini-2024-07-18",
        request={"messages": [{"role": "user", "content": request}], "max_tokens": 300},
        response={"text": response},
        attributes=attributes,
        error_message=error,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    request=VALUE,
    response=VALUE,
    attributes=st.dictionaries(st.sampled_from(["note", "user", "k"]), VALUE, max_size=3),
    error=st.none() | STRING,
    which=st.sampled_from(sorted(REDACTORS)),
)
def test_fast_path_writes_what_the_exact_walk_writes(
    request: Any, response: Any, attributes: dict[str, Any], error: str | None, which: str
) -> None:
    redactor = REDACTORS[which]
    span = _span(request, response, attributes, error)
    exact = copy.deepcopy(span)
    redactor.apply(exact)
    assert json.loads(redacted_line(span, redactor)) == json.loads(span_to_line(exact))


@settings(max_examples=500, deadline=None)
@given(text=STRING, which=st.sampled_from(sorted(REDACTORS)))
def test_the_precheck_never_misses_a_finding(text: str, which: str) -> None:
    redactor = REDACTORS[which]
    for encoded in (
        json.dumps(text, ensure_ascii=False),
        json.dumps({"content": [text]}, ensure_ascii=False),
    ):
        if redactor.redact_text(text) != text:
            assert redactor.may_find(encoded.encode()), (text, encoded)


def test_every_plant_is_caught_and_ordinary_text_skips_the_walk() -> None:
    r = REDACTORS["patterns"]
    for plant in PLANTS:
        for wrapped in (plant, f"x {plant} y", f'"{plant}"\n'):
            assert r.redact_text(wrapped) != wrapped, wrapped
            assert r.may_find(json.dumps({"c": wrapped}, ensure_ascii=False).encode()), wrapped
            assert r.may_find(json.dumps({"c": f"{wrapped} é"}, ensure_ascii=False).encode()), wrapped
    ordinary = _span(
        "Hi, my order 1234 arrived broken on 2024-07-18.", "Sorry! A new one ships today.", {}, None
    )
    assert not r.may_find(json.dumps(span_to_dict(ordinary)["request"]).encode())
    for text in SKIPPED:
        assert not Redactor().may_find(json.dumps({"max_tokens": 1, "c": text}).encode()), text
        assert not Redactor().may_find(json.dumps({"c": f"{text} é"}, ensure_ascii=False).encode()), text


def test_without_a_spool_the_store_still_gets_the_redacted_span() -> None:
    store = MemoryStore()
    tracer = Tracer(store, spool_dir=None, exit_timeout=None)
    secret = _span("mail jane.roe@example.org", "ok", {"note": "call +1 415 555 0132"}, None)
    clean = _span("Hi, my order 1234 arrived broken.", "Sorry!", {}, None)
    clean_request = clean.request
    tracer.record(secret)
    tracer.record(clean)
    assert tracer.flush(5)
    tracer.close()
    stored = {s.span_id: s for s in store.spans.values()}
    assert stored[secret.span_id].request == {
        "messages": [{"role": "user", "content": "mail [REDACTED:email]"}],
        "max_tokens": 300,
    }
    assert stored[secret.span_id].attributes == {"note": "call [REDACTED:phone]"}
    assert stored[clean.span_id].request is clean_request

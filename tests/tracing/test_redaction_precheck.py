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
    "DB_PASSWORD=hunter2",
    "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI",
    "export GITHUB_TOKEN=abc",
    "token_ghp_0123456789abcdefghijABCDEFGHIJ012345",
    "key_id_AKIAIOSFODNN7EXAMPLE",
    "mysk-proj-A1b2C3d4E5f6G7h8I9j0K1l2M3n4",
    "4111.1111.1111.1111",
    "4111/1111/1111/1111",
    "4111  1111  1111  1111",
    "4155550132",
    "jürgen@müller.de",
    "sk-proj-\u200bA1b2C3d4E5f6G7h8I9j0K1l2M3n4",
    "\u0410KIAIOSFODNN7EXAMPLE",
    "Authorization: Basic dXNlcjpwYXNzd29yZA==",
    "postgres://app:Tr0ub4dor@db/app",
    "-----BEGIN PRIVATE KEY-----\nMIIE",
    "PassWord: x1",
]
SKIPPED = [
    "max_tokens", "2024-07-18", "v1.2.3", "e-mail", "a@b", "risk-free", "token", "order 1234", "keyboard",
    "tokens: 3",
]  # fmt: skip
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
NUMBER = (
    st.integers() | st.sampled_from([1796165534, 4155550132, 4111111111111111]) | st.floats(allow_nan=False)
)
LEAF = st.one_of(STRING, NUMBER, st.booleans(), st.none())
KEYS = st.sampled_from(
    ["id", "created", "user_id", "created_at", "api_key", "password", "Authorization", "max_tokens", "note"]
)
"""Identifier and timestamp keys (no card/phone scan), secret keys (the value goes), ordinary ones."""
VALUE = st.recursive(
    LEAF,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.one_of(STRING, TEXT, KEYS), inner, max_size=3)
    ),
    max_leaves=10,
)
REDACTORS = {
    "default": Redactor(),
    "patterns": Redactor(patterns={"employee_id": r"\bEMP-\d{6}\b"}),
    "anchored": Redactor(detectors=["email"], patterns={"start": r"^line"}),
    "hash-drop": Redactor(
        policy="hash", field_policies={"response": "drop", "attributes.note": "drop", "tags": "drop"}
    ),
    "no-secret": Redactor(detectors=["email", "card", "phone"]),
    "functions": Redactor(functions=[lambda s: s.replace("EMP", "[REDACTED:emp]")]),
}


def _span(
    request: Any,
    response: Any,
    attributes: dict[str, Any],
    error: str | None,
    tags: dict[str, str] | None = None,
    name: str = "chat",
    model: str = "gpt-4o-mini-2024-07-18",
) -> SpanRecord:
    return SpanRecord(
        name=name,
        kind="llm",
        model=model,
        request={"messages": [{"role": "user", "content": request}], "max_tokens": 300},
        response={"text": response, "id": "chatcmpl-000000000000000000000001", "created": 1796165534},
        attributes=attributes,
        tags=tags or {},
        error_message=error,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    request=VALUE,
    response=VALUE,
    attributes=st.dictionaries(
        st.sampled_from(["note", "user", "k", "request_id", "token"]), VALUE, max_size=3
    ),
    error=st.none() | STRING,
    tags=st.dictionaries(st.one_of(KEYS, STRING), STRING, max_size=2),
    name=STRING,
    model=STRING,
    which=st.sampled_from(sorted(REDACTORS)),
)
def test_fast_path_writes_what_the_exact_walk_writes(
    request: Any,
    response: Any,
    attributes: dict[str, Any],
    error: str | None,
    tags: dict[str, str],
    name: str,
    model: str,
    which: str,
) -> None:
    redactor = REDACTORS[which]
    span = _span(request, response, attributes, error, tags, name or "chat", model)
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
        json.dumps({text: 1}, ensure_ascii=False, separators=(",", ":")),
        json.dumps({"id": [text], "note": text}, ensure_ascii=False, separators=(",", ":")),
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


def test_a_number_right_after_a_key_is_passed_over_but_the_same_digits_in_a_string_are_not() -> None:
    """The pre-check rules a digit run out as a number from the two bytes before it (a key's closing
    quote and colon); a string whose text starts with a colon, or an identifier value, must not fool it."""
    r = Redactor()
    numbers: tuple[Any, ...] = (
        {"created": 4155550132},
        {"note:": 4155550132},
        {'say \\"': 4155550132},
        {"id": "chatcmpl-4155550132"},
    )
    for value in numbers:  # as the spool writes JSON (compact); spaced, a false alarm costs a walk
        assert not r.may_find(json.dumps(value, separators=(",", ":")).encode()), value
    texts: tuple[Any, ...] = (
        {"note": ":4155550132"},
        {"note": 'a":4155550132'},
        {"note": 'a\\":4155550132'},
        [":4155550132"],
        {"k": "x", ":4155550132": 1},
        {"a": {"b": ":4155550132"}},
        {"id": 1, "note": "call 4155550132"},
    )
    for value in texts:
        for separators in ((",", ":"), (", ", ": ")):
            encoded = json.dumps(value, separators=separators)
            assert r.may_find(encoded.encode()), encoded
            assert r.redact_value(value, field="request")[0] != value, encoded


def test_a_token_name_next_to_token_counts_is_still_found() -> None:
    """The token scan runs over text where ``tokens`` was rewritten (so token counts are no prefix hits):
    a secret name ending in ``token`` glued to, or right after, ``tokens`` must still be found."""
    r = Redactor()
    for text in (
        "tokens_token: zz9yy8xx7",
        "max_tokens_token=zz9yy8xx7",
        "prompt_tokens token: zz9yy8xx7",
        "TOKENS_TOKEN=zz9yy8xx7",
    ):
        assert r.redact_text(text) != text, text
        assert r.may_find(json.dumps({"prompt_tokens": 3, "c": text}).encode()), text
    usage = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7, "reasoning_tokens": 0}
    assert not r.may_find(json.dumps({"usage": usage, "c": "counted in tokens: 7"}).encode())

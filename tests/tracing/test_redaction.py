"""Redaction runs before anything touches disk: no planted secret reaches the spool or the database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from steadyhand.errors import ConfigurationError
from steadyhand.store import open_store
from steadyhand.tracing import Redactor, SpanRecord, Tracer

SECRETS = {
    "email": "jane.roe+billing@example.org",
    "phone": "+1 415 555 0132",
    "card": "4111 1111 1111 1111",
    "openai": "sk-proj-A1b2C3d4E5f6G7h8I9j0K1l2M3n4",
    "anthropic": "sk-ant-api03-Zz9Yy8Xx7Ww6Vv5Uu4Tt3",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "github": "ghp_0123456789abcdefghijABCDEFGHIJ012345",
    "slack": "xoxb-123456789012-abcdefABCDEF",
    "bearer": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    "generic": "pa55w0rd-Very-Secret",
}
VISIBLE = "MARKER-visible-text-7f3a"


def _planted_span(i: int) -> SpanRecord:
    s = SECRETS
    return SpanRecord(
        name=f"chat-{i}",
        kind="llm",
        model="gpt-4o-mini",
        input_tokens=10,
        output_tokens=3,
        request={
            "messages": [
                {"role": "system", "content": f"{VISIBLE} support bot"},
                {"role": "user", "content": f"I am {s['email']}, call me on {s['phone']}, card {s['card']}"},
                {"role": "user", "content": [{"type": "text", "text": f"{s['openai']} {s['anthropic']}"}]},
            ],
            "extra": {"headers": {"Authorization": f"Bearer {s['bearer']}"}},
        },
        response={"choices": [{"message": {"content": f"use {s['aws']} and {s['github']}"}}]},
        attributes={"note": f"slack {s['slack']}", "config": f"api_key={s['generic']}"},
        error_message=f"failed for {s['email']}",
    )


def _raw_bytes_under(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


def test_no_planted_secret_reaches_spool_or_database(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    store = open_store(f"sqlite:///{db}")
    tracer = Tracer(store, spool_dir=tmp_path / "spool", exit_timeout=None, flush_interval=60)
    try:
        for i in range(5):
            tracer.record(_planted_span(i))
        spool_bytes = _raw_bytes_under(tmp_path / "spool")
        assert VISIBLE.encode() in spool_bytes, "the spool should hold the spans (test is blind otherwise)"
        assert tracer.flush(10)
        everything = _raw_bytes_under(tmp_path)
        assert VISIBLE.encode() in everything
        assert {p.name for p in tmp_path.iterdir()} >= {"traces.db", "spool"}
        for label, secret in SECRETS.items():
            for data in (spool_bytes, everything):
                assert secret.encode() not in data, f"{label} leaked"
                assert secret.replace(" ", "").encode() not in data, f"{label} leaked"
        assert b"[REDACTED:email]" in everything and b"[REDACTED:card]" in everything
    finally:
        tracer.close()
        store.close()
    for label, secret in SECRETS.items():
        assert secret.encode() not in _raw_bytes_under(tmp_path), f"{label} leaked"


def test_luhn_invalid_numbers_and_ordinary_text_are_left_alone() -> None:
    r = Redactor()
    text = "order 1234567812345678, ip 192.168.100.200, date 2024-01-15, version 1.2.3, total 12.50"
    assert r.redact_text(text) == text
    assert r.redact_text("card 4012-8888-8888-1881") == "card [REDACTED:card]"


def test_hash_policy_is_stable_and_salted() -> None:
    a = Redactor(policy="hash").redact_text("to bob@example.com and bob@example.com")
    assert a is not None
    digests = re.findall(r"\[email:sha256-([0-9a-f]{8})\]", a)
    assert len(digests) == 2 and digests[0] == digests[1]
    assert Redactor(policy="hash", salt="x").redact_text("bob@example.com") != f"[email:sha256-{digests[0]}]"


def test_field_policies_drop_and_keep_the_rest() -> None:
    r = Redactor(field_policies={"response": "drop", "attributes.user": "hash"})
    span = SpanRecord(
        name="x",
        request={"messages": [{"role": "user", "content": "hi bob@example.com"}]},
        response={"text": "call +1 415 555 0132"},
        attributes={"user": "bob@example.com", "clean": "nothing here"},
    )
    original_request = span.request
    r.apply(span)
    assert span.request == {"messages": [{"role": "user", "content": "hi [REDACTED:email]"}]}
    assert original_request == {"messages": [{"role": "user", "content": "hi bob@example.com"}]}
    assert span.response is None
    assert span.attributes["clean"] == "nothing here"
    assert re.fullmatch(r"\[email:sha256-[0-9a-f]{8}\]", span.attributes["user"])


def test_user_patterns_and_functions() -> None:
    r = Redactor(
        detectors=["email"],
        patterns={"employee_id": r"\bEMP-\d{6}\b"},
        functions=[lambda s: s.replace("Project Falcon", "[REDACTED:codename]")],
    )
    assert r.redact_text("EMP-123456 on Project Falcon, a@b.io, +1 415 555 0132") == (
        "[REDACTED:employee_id] on [REDACTED:codename], [REDACTED:email], +1 415 555 0132"
    )
    dropper = Redactor(functions=[lambda s: s.replace("Falcon", "*")], policy="drop")
    assert dropper.redact_text("Falcon") is None


def test_bad_configuration_says_what_to_fix() -> None:
    with pytest.raises(ConfigurationError, match="unknown detectors"):
        Redactor(detectors=["ssn"])
    with pytest.raises(ConfigurationError, match="not a valid regex"):
        Redactor(patterns={"bad": "("})
    with pytest.raises(ConfigurationError, match="mask, hash, drop"):
        Redactor(policy="shred")  # type: ignore[arg-type]


def test_inline_images_are_not_scanned() -> None:
    image = "data:image/png;base64," + "A" * 100 + "bob@example.com"
    assert Redactor().redact_text(image) == image

"""What is scanned: every stored text of a span (keys included), never its ids, times and numbers; and
the spans the client really produces cost no walk."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest

from steadyhand import Client, Config
from steadyhand.sim import SimServer
from steadyhand.tracing import Redactor, SpanRecord
from steadyhand.tracing._serialize import _REDACTED, FIELDS, encode, redacted_line, span_to_line

FIXTURE = Path(__file__).parent / "fixtures" / "client_spans.json"
EMAIL = "bob.roe@example.com"
NOT_TEXT = {
    "kind", "trace_id", "span_id", "parent_id", "start_time", "end_time", "first_token_time", "status",
    "input_tokens", "output_tokens", "cached_input_tokens", "cache_write_tokens", "reasoning_tokens",
    "usage_estimated", "cost_usd", "price_version",
}  # fmt: skip
"""Generated ids, literals, times and counts: the only fields not scanned (``price_version`` is ours)."""


def _body(span: SpanRecord) -> bytes:
    return encode({n: v for n in _REDACTED if (v := getattr(span, n)) is not None})


def test_every_stored_text_field_is_scanned() -> None:
    assert set(FIELDS) - set(_REDACTED) == NOT_TEXT, "a new SpanRecord field must be scanned or listed here"
    fields: dict[str, Any] = {}
    for name in _REDACTED:
        tree = name in ("request", "response", "usage_raw", "attributes", "tags")
        fields[name] = {EMAIL: f"to {EMAIL}"} if tree else f"for {EMAIL}"
    span = SpanRecord(**fields)
    line = redacted_line(span, Redactor())
    assert EMAIL.encode() not in line
    assert line.count(b"[REDACTED:email]") == len(_REDACTED) + 5  # the five keys too


def _client_spans() -> dict[str, SpanRecord]:
    return {name: SpanRecord(**f) for name, f in json.loads(FIXTURE.read_text()).items()}


class _Capture:
    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []

    def record(self, span: SpanRecord) -> None:
        self.spans.append(span)


def test_the_spans_the_client_produces_cost_no_walk() -> None:
    """A real response carries ``created`` (a 10-digit Unix time) and an id full of digits: neither may
    make the pre-check fire, or every span pays for the exact walk."""
    sink = _Capture()
    with SimServer() as sim:
        config = Config.model_validate(
            {
                "providers": {"sim": {"kind": "sim", "base_url": sim.base_url}},
                "models": {"default": "sim:gpt-4o"},
            }
        )
        with Client(config, tracer=sink) as client:
            client.chat("Say hello.", max_tokens=50, tags={"user": "user-42"})
    spans = {"live": sink.spans[0], **_client_spans()}
    redactor = Redactor()
    for name, span in spans.items():
        if name in ("live", "chat_app", "chat_bare", "chat_tools", "completions"):
            assert isinstance(span.response and span.response.get("created"), int), name  # not blind
        assert not redactor.may_find(_body(span)), name
        exact = copy.deepcopy(span)
        redactor.apply(exact)
        assert span_to_line(exact) == span_to_line(span), name


def test_ids_timestamps_and_numbers_are_not_cards_or_phones() -> None:
    r = Redactor()
    kept = {"id": "4155550132", "created": "1796165534", "user_id": "4111111111111111", "n": 4155550132}
    assert r.redact_value(kept, field="response") == (kept, False)
    assert r.redact_value({"note": "4155550132"}, field="response")[0] == {"note": "[REDACTED:phone]"}
    assert r.redact_text("created 1796165534 or 1700000000123 ms") == "created 1796165534 or 1700000000123 ms"
    # an id key does not hide a key or an address
    found = r.redact_value({"id": "sk-proj-A1b2C3d4E5f6G7h8I9j0K1l2", "user_id": EMAIL}, field="response")[0]
    assert found == {"id": "[REDACTED:secret]", "user_id": "[REDACTED:email]"}


def test_a_secret_key_hides_its_value_whatever_it_is() -> None:
    r = Redactor()
    value = {
        "api_key": "short",
        "password": 1234,
        "auth": {"user": "a"},
        "token": None,
        "secret": "",
        "ok": "x",
    }
    assert r.redact_value(value, field="request")[0] == {
        "api_key": "[REDACTED:secret]", "password": "[REDACTED:secret]", "auth": "[REDACTED:secret]",
        "token": None, "secret": "", "ok": "x",
    }  # fmt: skip
    hashed = Redactor(policy="hash").redact_value({"DB_PASSWORD": "hunter2"}, field="request")[0]
    assert re.fullmatch(r"\[secret:sha256-[0-9a-f]{8}\]", hashed["DB_PASSWORD"])
    assert r.redact_text("export DB_PASSWORD=hunter2 GITHUB_TOKEN=abc max_tokens=300") == (
        "export DB_PASSWORD=[REDACTED:secret] GITHUB_TOKEN=[REDACTED:secret] max_tokens=300"
    )


def test_rewritten_keys_do_not_overwrite_each_other() -> None:
    out = Redactor().redact_value({"a@example.com": 1, "b@example.com": 2}, field="request")[0]
    assert out == {"[REDACTED:email]": 1, "[REDACTED:email]#2": 2}


def test_hidden_and_look_alike_characters_are_seen_and_the_rest_kept() -> None:
    r = Redactor()
    zw = "\u200b"
    text = f"keep{zw}this sk-proj-{zw}A1b2C3d4E5f6G7h8I9j0K1l2 and ＡKIAIOSFODNN7EXAMPLE é"
    assert r.redact_text(text) == f"keep{zw}this [REDACTED:secret] and [REDACTED:secret] é"
    assert r.redact_text("jürgen@müller.de, bob＠example.com") == "[REDACTED:email], [REDACTED:email]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4111.1111.1111.1111", "[REDACTED:card]"),
        ("4111/1111/1111/1111", "[REDACTED:card]"),
        ("4111  1111  1111  1111", "[REDACTED:card]"),
        ("12 4111 1111 1111 1111", "[REDACTED:card]"),  # overlapping finds: their union goes
        ("2024-01-15 2024-01-16", "2024-01-15 2024-01-16"),
        ("call 4155550132.", "call [REDACTED:phone]."),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: [REDACTED:secret]"),
        ("Basic Introduction to Python", "Basic Introduction to Python"),
        ("token_ghp_0123456789abcdefghijABCDEFGHIJ012345", "token_[REDACTED:secret]"),
        ("risk-free-and-easy-to-use-product-launch", "risk-free-and-easy-to-use-product-launch"),
    ],
)
def test_forms(text: str, expected: str) -> None:
    assert Redactor().redact_text(text) == expected


def test_drop_on_a_required_field_masks_and_tags_have_their_own_policies() -> None:
    r = Redactor(policy="drop", field_policies={"tags.user": "hash"})
    span = SpanRecord(name=f"lookup {EMAIL}", tags={"user": EMAIL, "where": f"at {EMAIL}", "env": "prod"})
    r.apply(span)
    assert span.name == "lookup [REDACTED:email]"
    assert set(span.tags) == {"user", "env"}
    assert span.tags["user"].startswith("[email:sha256-")


def test_keys_that_are_not_strings_are_written_as_json_dumps_writes_them() -> None:
    """The spool line is encoded without orjson's slower non-string-key path first: a key that is not
    a string, however deep, must still come out as ``json.dumps(default=str)`` writes it."""
    attributes: dict[Any, Any] = {1: "one", "deep": [{2.5: True, None: {False: EMAIL}}]}
    attributes["on"] = dt.date(2024, 7, 18)
    plain = json.dumps(attributes, default=str, separators=(",", ":"))
    for redactor, want in ((None, plain), (Redactor(), plain.replace(EMAIL, "[REDACTED:email]"))):
        span = SpanRecord(name="chat", attributes=copy.deepcopy(attributes))
        line = json.loads(redacted_line(span, redactor))
        assert json.dumps(line["attributes"], separators=(",", ":")) == want

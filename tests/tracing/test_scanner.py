"""The Hyperscan pre-check (``_scanner``) against the pattern-by-pattern one it replaces (``_precheck``
without a compiled scanner): it may never say no where that one says yes, and on the spans the client
produces and the text that must skip the walk it says no just as often."""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steadyhand.tracing import Redactor, SpanRecord
from steadyhand.tracing._precheck import Precheck
from steadyhand.tracing._scanner import compiled
from steadyhand.tracing._serialize import _REDACTED, encode

from .test_redaction_precheck import KEYS, PLANTS, SKIPPED, STRING, VALUE

FIXTURE = Path(__file__).parent / "fixtures" / "client_spans.json"
DETECTOR_SETS = [
    frozenset({"email", "secret", "card", "phone"}),
    frozenset({"card"}),
    frozenset({"phone", "email"}),
    frozenset({"secret"}),
]


def _prechecks(builtin: frozenset[str]) -> tuple[Precheck, Precheck]:
    """(compiled, pattern by pattern) for one set of detectors."""
    fast = Precheck(builtin=builtin, patterns=[], functions=False)
    slow = Precheck(builtin=builtin, patterns=[], functions=False)
    slow._scan = None
    assert fast._scan is not None
    return fast, slow


PAIRS = {b: _prechecks(b) for b in DETECTOR_SETS}


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=st.dictionaries(st.one_of(KEYS, STRING), VALUE, max_size=4) | VALUE,
    spaced=st.booleans(),
    which=st.sampled_from(range(len(DETECTOR_SETS))),
)
def test_the_compiled_scan_says_yes_wherever_the_pattern_scan_does(
    value: Any, spaced: bool, which: int
) -> None:
    fast, slow = PAIRS[DETECTOR_SETS[which]]
    separators = (", ", ": ") if spaced else (",", ":")
    for data in (
        json.dumps(value, ensure_ascii=False, separators=separators).encode(),
        encode(value) if not spaced else b"",
    ):
        if data and slow.may_find(data):
            assert fast.may_find(data), data


def test_on_the_spans_the_client_produces_both_say_no() -> None:
    """Every recorded response carries digit runs (a ``created`` time, the simulator's ``id`` of 24
    digits): neither may cost a walk."""
    fast, slow = PAIRS[DETECTOR_SETS[0]]
    for name, fields in json.loads(FIXTURE.read_text()).items():
        span = SpanRecord(**fields)
        body = encode({k: v for k in _REDACTED if (v := getattr(span, k)) is not None})
        assert re.search(rb"[0-9]{10}", body) or name == "chat_error", name
        assert not slow.may_find(body), name
        assert not fast.may_find(body), name


def test_plants_are_found_and_near_misses_pass_in_every_placement() -> None:
    fast, slow = PAIRS[DETECTOR_SETS[0]]
    for text in [*PLANTS, *SKIPPED]:
        for value in (
            {"content": text},
            {"content": [text]},
            {text: 1},
            {"id": "chatcmpl-000000000000000000000001", "note": text, "created": 1796165534},
            {"note": f"a,\\{text}"},
        ):
            data = encode(value)
            assert fast.may_find(data) == slow.may_find(data), data


def test_digit_runs_are_read_in_their_own_string() -> None:
    """A run is ruled out only where ``_precheck`` rules it out: in a number, or in an identifier's value."""
    fast, _ = PAIRS[frozenset({"card"})]
    assert not fast.may_find(b'{"id":"chatcmpl-4111111111111111","created":4111111111111111}')
    assert not fast.may_find(b'{"a,":4111111111111111,"b":[4111111111111111]}')
    for found in (
        b'{"id":"x","note":"4111111111111111"}',
        b'{"note":"4111 1111 1111 1111"}',
        b'{"4111111111111111":1}',
        b'["4111111111111111"]',
        b'{"user_id":"x","content":"tel:4111.1111.1111.1111"}',
        b'{"id\\u0041":"4111111111111111"}',  # an escaped key is never trusted
        b'{"note":"4111111111111111',  # unterminated
    ):
        assert fast.may_find(found), found


def test_threads_scan_at_once() -> None:
    """Hyperscan needs a scratch space per scan in progress: one per thread, or they collide."""
    fast, _ = PAIRS[DETECTOR_SETS[0]]
    clean = b'{"id":"chatcmpl-000000000000000000000001","created":1796165534,"text":"fine"}'
    dirty = b'{"id":"chatcmpl-000000000000000000000001","created":1796165534,"text":"4111111111111111"}'
    wrong: list[bytes] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3000):
                for data, expected in ((clean, False), (dirty, True)):
                    if fast.may_find(data) != expected:
                        wrong.append(data)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and not wrong


def test_one_database_per_set_of_detectors() -> None:
    assert compiled(frozenset({"card"})) is compiled(frozenset({"card"}))
    nothing = compiled(frozenset())
    assert nothing is not None and not nothing(b'{"a":"4111111111111111"}')


def test_a_text_of_many_numbers_is_read_in_linear_time() -> None:
    """Each digit run was read back by counting the quotes from the start of the text: 20,000 numbers
    (an embedding's ids, a tool's table) took seconds in ``record()``, the caller's thread."""
    n = 40_000
    data = encode(
        {
            "request": {"ids": [1796196616 + i for i in range(n)], "scores": [0.1234567891234] * n},
            "response": {"id": "chatcmpl-" + "0" * 24, "trace_id": "1" * 100_000},
        }
    )
    for precheck in PAIRS[DETECTOR_SETS[0]]:
        began = time.perf_counter()
        assert not precheck.may_find(data)
        assert time.perf_counter() - began < 3.0  # quadratic: over 10 s; linear: tens of ms


def test_without_hyperscan_the_pattern_scan_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the wheel is missing (no ``hyperscan`` for the platform), ``compiled`` says so and the
    Redactor scans pattern by pattern, with the same answers."""
    monkeypatch.setitem(sys.modules, "hyperscan", None)  # import hyperscan raises ImportError
    compiled.cache_clear()
    try:
        assert compiled(DETECTOR_SETS[0]) is None
        redactor = Redactor()
        assert not redactor.may_find(b'{"id":"chatcmpl-4111111111111111","text":"fine"}')
        assert redactor.may_find(b'{"text":"card 4111 1111 1111 1111"}')
        assert redactor.redact_text("mail jane@example.org") == "mail [REDACTED:email]"
    finally:
        compiled.cache_clear()

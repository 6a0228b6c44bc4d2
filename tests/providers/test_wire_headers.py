"""Retry-After and rate-limit reset parsing, from each header form."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steadyhand.providers.ratelimit_headers import (
    format_duration,
    parse_go_duration,
    parse_retry_after,
    parse_timestamp,
    retry_after_seconds,
)

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("12ms", 0.012),
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("1h2m3.5s", 3723.5),
        ("0.5s", 0.5),
        ("250us", 0.00025),
        ("2", 2.0),
        ("1m30s", 90.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "1x", "-1s", "s1", "1h-2m", "nan"])
def test_parse_duration_rejects_garbage(text: str) -> None:
    assert parse_go_duration(text) is None


@given(st.floats(min_value=0, max_value=200_000, allow_nan=False))
def test_duration_round_trip(seconds: float) -> None:
    parsed = parse_go_duration(format_duration(seconds))
    assert parsed == pytest.approx(seconds, abs=1e-5)


@given(st.integers(0, 99), st.integers(0, 59), st.integers(0, 59), st.integers(0, 999))
def test_duration_components(h: int, m: int, s: int, ms: int) -> None:
    assert parse_go_duration(f"{h}h{m}m{s}s") == pytest.approx(h * 3600 + m * 60 + s)
    assert parse_go_duration(f"{ms}ms") == pytest.approx(ms / 1000)


def test_retry_after_forms() -> None:
    assert parse_retry_after("7", now=NOW) == 7.0
    assert parse_retry_after("1.5", now=NOW) == 1.5
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:30 GMT", now=NOW) == pytest.approx(30.0)
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=NOW) == 0.0  # in the past: no wait
    assert parse_retry_after("whenever", now=NOW) is None
    assert parse_retry_after("-3", now=NOW) is None


def test_timestamp() -> None:
    assert parse_timestamp("2025-01-01T12:00:05Z") == NOW + 5
    assert parse_timestamp("2025-01-01T12:00:05") is None  # no zone: ambiguous
    assert parse_timestamp("tomorrow") is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"x-ms-retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "9"}, 9.0),
        ({"retry-after": "Wed, 01 Jan 2025 12:00:10 GMT"}, 10.0),
        ({"retry-after-ms": "junk", "retry-after": "3"}, 3.0),
        ({}, None),
    ],
)
def test_header_priority(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers, rate_limited=True, now=NOW) == expected


def test_openai_reset_headers_only_for_rate_limits() -> None:
    headers = {"x-ratelimit-reset-requests": "12ms", "x-ratelimit-reset-tokens": "6m0s"}
    assert retry_after_seconds(headers, rate_limited=False, now=NOW) is None
    # nothing says which limit is exhausted: the longest wait of those present
    assert retry_after_seconds(headers, rate_limited=True, now=NOW) == 360.0
    # the error's type names the limit
    assert retry_after_seconds(headers, rate_limited=True, now=NOW, limit_kind="requests") == 0.012
    # the exhausted limit (remaining 0) is the one that counts
    exhausted = {**headers, "x-ratelimit-remaining-requests": "0", "x-ratelimit-remaining-tokens": "5000"}
    assert retry_after_seconds(exhausted, rate_limited=True, now=NOW) == 0.012


def test_anthropic_reset_headers() -> None:
    headers = {
        "anthropic-ratelimit-requests-reset": "2025-01-01T12:00:03Z",
        "anthropic-ratelimit-tokens-reset": "2025-01-01T12:00:40Z",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-tokens-remaining": "10000",
    }
    assert retry_after_seconds(headers, rate_limited=True, now=NOW) == 3.0
    del headers["anthropic-ratelimit-requests-remaining"]
    assert retry_after_seconds(headers, rate_limited=True, now=NOW) == 40.0
    past = {"anthropic-ratelimit-tokens-reset": "2025-01-01T11:00:00Z"}
    assert retry_after_seconds(past, rate_limited=True, now=NOW) == 0.0

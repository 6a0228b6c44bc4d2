"""Pure parsing of the headers that say how long to wait: Retry-After and rate-limit resets.

Times are seconds (floats). ``now`` is a Unix timestamp passed in by the caller, so tests pin it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

__all__ = [
    "format_duration",
    "parse_go_duration",
    "parse_retry_after",
    "parse_timestamp",
    "retry_after_seconds",
]

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_WHOLE = re.compile(r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+")


def parse_go_duration(text: str) -> float | None:
    """Seconds in a Go-style duration (OpenAI's ``x-ratelimit-reset-*``): ``12ms``, ``6m0s``, ``1h2m3.5s``.

    A bare number is taken as seconds. Anything else gives ``None`` rather than a guess.
    """
    s = text.strip()
    if not s:
        return None
    try:
        value = float(s)
    except ValueError:
        if not _WHOLE.fullmatch(s):
            return None
        return sum(float(num) * _UNITS[unit] for num, unit in _PART.findall(s))
    return value if math.isfinite(value) and value >= 0 else None


def format_duration(seconds: float) -> str:
    """The Go-style duration string for ``seconds`` (the inverse of :func:`parse_go_duration`)."""
    if seconds < 1:
        return f"{_decimal(seconds * 1000, 3)}ms"
    hours, rest = divmod(seconds, 3600.0)
    minutes, secs = divmod(rest, 60.0)
    out = f"{int(hours)}h" if hours else ""
    if hours or minutes:
        out += f"{int(minutes)}m"
    return out + f"{_decimal(secs, 6)}s"


def _decimal(value: float, places: int) -> str:
    return f"{value:.{places}f}".rstrip("0").rstrip(".") or "0"


def parse_timestamp(text: str) -> float | None:
    """Unix seconds of an RFC 3339 timestamp (Anthropic's ``anthropic-ratelimit-*-reset``), or None."""
    try:
        stamp = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return stamp.timestamp() if stamp.tzinfo is not None else None


def parse_retry_after(value: str, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP-date; never negative."""
    s = value.strip()
    try:
        seconds = float(s)
    except ValueError:
        try:
            when = parsedate_to_datetime(s)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        return max(0.0, when.timestamp() - now)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _millis(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        ms = float(value.strip())
    except ValueError:
        return None
    return ms / 1000 if math.isfinite(ms) and ms >= 0 else None


def _reset_wait(
    headers: Mapping[str, str],
    *,
    remaining: str,
    limit_kind: str | None,
    waits: Mapping[str, float | None],
) -> float | None:
    """The longest reset among the limits that are exhausted (or named), else among all present."""
    present = {k: v for k, v in waits.items() if v is not None}
    if not present:
        return None
    relevant = [
        v
        for k, v in present.items()
        if k == limit_kind or headers.get(remaining.format(k), "").strip() == "0"
    ]
    return max(relevant or present.values())


def retry_after_seconds(
    headers: Mapping[str, str], *, rate_limited: bool, now: float, limit_kind: str | None = None
) -> float | None:
    """How long to wait before retrying, from lower-cased response headers; None when not said.

    Priority: ``retry-after-ms``, ``x-ms-retry-after-ms`` (Azure), ``retry-after`` (seconds or
    HTTP-date). Only for rate limits, then: OpenAI's ``x-ratelimit-reset-{requests,tokens}`` and
    Anthropic's ``anthropic-ratelimit-*-reset``. Of those, the limit named by ``limit_kind`` (OpenAI's
    error ``type`` is ``requests`` or ``tokens``) or whose ``-remaining-`` header is ``0`` counts; when
    none is identified, all present do. The longest wait of the ones that count is returned, since a
    retry before every exhausted limit has reset fails again.
    """
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        if (ms := _millis(headers.get(name))) is not None:
            return ms
    if (value := headers.get("retry-after")) is not None and (
        seconds := parse_retry_after(value, now=now)
    ) is not None:
        return seconds
    if not rate_limited:
        return None
    openai_kinds = ("requests", "tokens")
    openai = {k: parse_go_duration(v) for k in openai_kinds if (v := headers.get(f"x-ratelimit-reset-{k}"))}
    wait = _reset_wait(headers, remaining="x-ratelimit-remaining-{}", limit_kind=limit_kind, waits=openai)
    if wait is not None:
        return wait
    anthropic_kinds = ("requests", "tokens", "input-tokens", "output-tokens")
    stamps = {
        k: max(0.0, t - now)
        for k in anthropic_kinds
        if (v := headers.get(f"anthropic-ratelimit-{k}-reset")) and (t := parse_timestamp(v)) is not None
    }
    return _reset_wait(
        headers, remaining="anthropic-ratelimit-{}-remaining", limit_kind=limit_kind, waits=stamps
    )

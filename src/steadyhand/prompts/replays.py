"""Replay: re-render the variables stored with past calls under another version (or model) and run them.

Every traced ``client.run`` keeps its variables beside the rendered messages, so production inputs are
the raw material of migration reports and evals: pick calls with a query, render each one's variables
under version B, call, and compare B's answer with the one production gave.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, SteadyhandError

if TYPE_CHECKING:
    from ..client import Client
    from ..store import SpanView
    from .prompt import Prompt
    from .registry import Registry

__all__ = ["ReplayQuery", "ReplayResult", "parse_query", "replay", "replay_span", "stored_variables"]

VARIABLES_ATTRIBUTE = "steadyhand.prompt.variables"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_KEYS = ("version", "label", "since", "status", "traffic", "limit")
_TRAFFIC = ("production", "test", "shadow", "eval", "any")


@dataclass(frozen=True, slots=True)
class ReplayQuery:
    """Which stored calls to replay: ``version=`` (hash or prefix), ``label=``, ``since=`` (seconds
    back), ``status=`` (``ok``/``error``), ``traffic=`` (default ``production``) and at most ``limit``
    of them, newest first."""

    version: str | None = None
    label: str | None = None
    since: float | None = None
    status: str | None = None
    traffic: str | None = "production"
    """The calls' traffic class (``production``, ``test``, ``shadow``, ``eval``); ``None``: any."""
    limit: int = 100

    def filters(self, now: float) -> dict[str, Any]:
        return {
            "version": self.version,
            "label": self.label,
            "since": None if self.since is None else now - self.since,
            "status": self.status,
            "traffic": self.traffic,
            "limit": self.limit,
        }


def parse_query(text: str) -> ReplayQuery:
    """``"label=production since=7d limit=50"``: space-separated ``key=value`` terms (``all`` or an
    empty text: the latest 100 production calls of any version; ``traffic=any`` for every class)."""
    fields: dict[str, Any] = {}
    for term in text.split():
        if term == "all":
            continue
        key, sep, value = term.partition("=")
        if not sep or key not in _KEYS or not value:
            raise ConfigurationError(
                f"replay query term {term!r} is not key=value with a key of {', '.join(_KEYS)} "
                '(e.g. "label=production since=7d limit=50")'
            )
        if key == "since":
            match = _DURATION.match(value)
            if match is None:
                raise ConfigurationError(f"since={value!r}: use a number and a unit, e.g. 30m, 12h, 7d")
            fields["since"] = float(match.group(1)) * _UNITS[match.group(2)]
        elif key == "limit":
            if not value.isdigit() or not 1 <= int(value) <= 10_000:
                raise ConfigurationError(f"limit={value!r}: use a whole number from 1 to 10000")
            fields["limit"] = int(value)
        elif key == "status" and value not in ("ok", "error"):
            raise ConfigurationError(f"status={value!r}: use ok or error")
        elif key == "traffic":
            if value not in _TRAFFIC:
                raise ConfigurationError(f"traffic={value!r}: use one of {', '.join(_TRAFFIC)}")
            fields["traffic"] = None if value == "any" else value
        else:
            fields[key] = value
    return ReplayQuery(**fields)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """One stored call run again: its variables, what it answered then and what the new version says."""

    span_id: str
    trace_id: str
    from_version: str | None
    variables: dict[str, Any]
    before: str | None
    after: str | None
    error: str | None = None
    """Why the call could not be replayed (its variables do not fit version B, the call failed)."""

    @property
    def changed(self) -> bool:
        return self.error is None and (self.before or "").strip() != (self.after or "").strip()


def stored_variables(span: SpanView) -> dict[str, Any] | None:
    """The variables a traced prompt call kept (``None`` for a span that was not a prompt call)."""
    value = span.attributes.get(VARIABLES_ATTRIBUTE)
    return dict(value) if isinstance(value, Mapping) else None


def _answer(response: Mapping[str, Any] | None) -> str | None:
    try:
        content = response["choices"][0]["message"]["content"]  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        return None
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
    return content if isinstance(content, str) else None


def replay_span(client: Client, prompt: Prompt, span: SpanView) -> ReplayResult:
    """Render ``span``'s stored variables under ``prompt`` and run them (tagged ``replay_of``)."""
    version = (span.prompt_version or "").partition("@")[2] or None
    variables = stored_variables(span)
    before = _answer(span.response)
    if variables is None:
        return ReplayResult(span.span_id, span.trace_id, version, {}, before, None, "no stored variables")
    try:
        after = client.run(prompt, variables, tags={"replay_of": span.span_id}).text
    except SteadyhandError as e:
        error = f"{type(e).__name__}: {e}"
        return ReplayResult(span.span_id, span.trace_id, version, variables, before, None, error)
    return ReplayResult(span.span_id, span.trace_id, version, variables, before, after)


def replay(
    client: Client, registry: Registry, prompt: Prompt, query: ReplayQuery, *, now: float | None = None
) -> list[ReplayResult]:
    """Replay the stored calls of ``prompt.name`` that ``query`` selects under ``prompt``."""
    import time

    spans = registry.calls(prompt.name, **query.filters(time.time() if now is None else now))
    return [replay_span(client, prompt, span) for span in spans]

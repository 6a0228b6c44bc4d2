"""The model alias tables: targets, fallbacks and the policy tables of ``[models]``, and their checks.

Split from ``_config`` so the settings module stays about loading; :mod:`steadyhand._config` re-exports
every name here. See docs/policies.md for what each table does.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .context import TrafficClass
from .errors import ConfigurationError

__all__ = [
    "Api",
    "BreakerTable",
    "CacheTable",
    "DegradedTable",
    "FallbackTable",
    "ModelAlias",
    "RateLimitTable",
    "RetryTable",
    "TargetTable",
    "check_alias_policies",
    "known_names",
]

Api = Literal["chat", "completions", "messages", "responses"]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class RetryTable(_Table):
    """``retry = { attempts = 3, base = 0.25, cap = 8.0 }``: see docs/policies.md."""

    attempts: int = Field(default=3, ge=1)
    base: float = Field(default=0.25, ge=0)
    cap: float = Field(default=8.0, ge=0)


class BreakerTable(_Table):
    """``breaker = { failures = 5, window = 30.0, cooldown = 15.0 }``."""

    failures: int = Field(default=5, ge=1)
    window: float = Field(default=30.0, gt=0)
    cooldown: float = Field(default=15.0, ge=0)
    probes: int = Field(default=1, ge=1)


class FallbackTable(_Table):
    """``{ target = "provider:model" or "alias", on = ["context_window"] }``."""

    target: str
    on: tuple[str, ...] = ("any",)


class RateLimitTable(_Table):
    """``rate_limit = { rpm = 600, tpm = 200000, shares = { test = 0.2 } }``: see docs/policies.md."""

    rpm: int | None = Field(default=None, gt=0)
    """Requests per minute, per target of the alias."""
    tpm: int | None = Field(default=None, gt=0)
    """Tokens per minute (estimated input + max_tokens reserved, settled to the real usage)."""
    window: float = Field(default=60.0, gt=0)
    """Seconds the limits are measured over (the minute's budget scaled to it)."""
    shares: dict[TrafficClass, float] = Field(default_factory=dict)
    """The most a traffic class may use of both limits, e.g. ``{ test = 0.2 }``."""
    output_tokens: int = Field(default=1024, ge=0)
    """Tokens reserved for the answer of a call that sets no max_tokens."""

    @model_validator(mode="after")
    def _checked(self) -> RateLimitTable:
        from .policies.limits import RateLimit

        try:
            RateLimit.from_table(self)
        except ConfigurationError as exc:
            raise ValueError(str(exc)) from None
        return self


class TargetTable(_Table):
    """One of an alias's balanced ``targets``: ``{ target = "provider:model", weight = 2 }``."""

    target: str
    weight: float = Field(default=1.0, gt=0)


class CacheTable(_Table):
    """``cache = { ttl = 3600, sampled = false }``: the exact cache (docs/policies.md)."""

    ttl: float = Field(default=3600.0, gt=0)
    """Seconds an answer is served from the cache."""
    sampled: bool = False
    """Also cache requests with ``temperature > 0`` (repeated sampled calls then get one answer)."""


class DegradedTable(_Table):
    """``degraded = { cached = true, text = "..." }``: the last cached answer, else ``text``."""

    text: str | None = None
    cached: bool = False
    """Serve the last answer the cache stored for the request, even past its ttl (needs ``cache``)."""
    max_age: float = Field(default=86_400.0, gt=0)
    """Seconds a cached answer may be old to be served degraded."""


class ModelAlias(BaseModel):
    """What an alias points at: ``provider:model``, which API of that provider to call, and the
    policies for its calls (fallbacks, deadline, retry, breaker: docs/policies.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    target: str = ""
    """``provider:model``, e.g. ``openai:gpt-4o-2024-08-06`` (the first of ``targets`` when omitted)."""
    targets: tuple[str | TargetTable, ...] = ()
    """Several ``provider:model`` (or ``{ target, weight }``) serving the alias, balanced per attempt."""
    balance: Literal["weighted", "least_busy"] = "weighted"
    """How ``targets`` share the calls: at random by weight, or to the one with fewest in flight."""
    api: Api | None = None
    """``chat`` (default), ``completions`` (OpenAI legacy text completions), ``responses`` (OpenAI's
    Responses API) or ``messages`` (Anthropic); ``None`` picks the provider kind's native API."""
    fallbacks: tuple[str | FallbackTable, ...] = ()
    """Targets (aliases or ``provider:model``) tried in order when this one cannot answer."""
    deadline: float | None = Field(default=None, gt=0)
    """Seconds for the whole call: every attempt, wait and fallback."""
    attempt_timeout: float | None = Field(default=None, gt=0)
    retry: RetryTable | None = None
    breaker: BreakerTable | None = None
    rate_limit: RateLimitTable | None = None
    cache: CacheTable | None = None
    degraded: str | DegradedTable | None = None
    """Returned (marked ``response.degraded``) when every option is exhausted: a fixed text, or a
    table asking for the last cached answer."""

    @property
    def has_policies(self) -> bool:
        """Whether any policy key is set (else calls go straight to the target)."""
        return (
            bool(self.fallbacks)
            or bool(self.targets)
            or any(
                getattr(self, key) is not None
                for key in (
                    "deadline",
                    "attempt_timeout",
                    "retry",
                    "breaker",
                    "rate_limit",
                    "cache",
                    "degraded",
                )
            )
        )

    def target_names(self) -> list[tuple[str, float]]:
        """Each balanced target with its weight (just ``target`` when there is no ``targets`` list)."""
        if not self.targets:
            return [(self.target, 1.0)]
        return [(t, 1.0) if isinstance(t, str) else (t.target, t.weight) for t in self.targets]

    @model_validator(mode="before")
    @classmethod
    def _first_target(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and not data.get("target") and data.get("targets"):
            first = data["targets"][0]
            name = first.get("target") if isinstance(first, Mapping) else getattr(first, "target", first)
            return {**data, "target": name}
        return data

    @model_validator(mode="after")
    def _has_provider(self) -> ModelAlias:
        if not self.target:
            raise ValueError("an alias needs target = 'provider:model' (or targets = [...])")
        for value, _ in self.target_names():
            provider, sep, model = value.partition(":")
            if not sep or not provider or not model:
                raise ValueError(
                    f"target {value!r} must be 'provider:model', e.g. 'openai:gpt-4o-2024-08-06'"
                )
        return self


def check_alias_policies(
    models: Mapping[str, ModelAlias], providers: Collection[str], where: str | os.PathLike[str]
) -> None:
    """Each alias's fallbacks name known aliases or providers and known error kinds, without a cycle."""
    from .policies.fallback import KINDS

    for name, alias in models.items():
        for entry in alias.fallbacks:
            target, on = (entry, ("any",)) if isinstance(entry, str) else (entry.target, entry.on)
            unknown = sorted(set(on) - KINDS)
            if unknown:
                raise ConfigurationError(
                    f"models.{name}.fallbacks in {str(where)!r}: unknown error kind(s) {unknown} in "
                    f"`on`; use some of {', '.join(sorted(KINDS))}"
                )
            provider, sep, _ = target.partition(":")
            if not sep and target not in models:
                raise ConfigurationError(
                    f"models.{name}.fallbacks in {str(where)!r} names {target!r}, which is not an alias; "
                    + known_names("aliases", target, list(models), "[models]")
                    + " or write 'provider:model'"
                )
            if sep and provider not in providers:
                raise ConfigurationError(
                    f"models.{name}.fallbacks in {str(where)!r} names provider {provider!r}, which is "
                    "not configured; "
                    + known_names("providers", provider, list(providers), "[providers.NAME]")
                )
    for name, alias in models.items():
        table = alias.degraded
        if isinstance(table, DegradedTable) and table.cached and alias.cache is None:
            raise ConfigurationError(
                f"models.{name}.degraded in {str(where)!r} asks for the last cached answer, but the "
                "alias has no cache: add `cache = { ttl = 3600 }` to it, or drop `cached = true`"
            )
        if isinstance(table, DegradedTable) and not table.cached and table.text is None:
            raise ConfigurationError(
                f"models.{name}.degraded in {str(where)!r} gives neither `text` nor `cached = true`: "
                'write degraded = "a fixed answer" or degraded = { cached = true, text = "..." }'
            )
    for name in models:
        _check_cycle(name, models, [], where)


def _fallback_aliases(alias: ModelAlias, models: Mapping[str, ModelAlias]) -> list[str]:
    names = [e if isinstance(e, str) else e.target for e in alias.fallbacks]
    return [n for n in names if n in models]


def _check_cycle(name: str, models: Mapping[str, ModelAlias], path: list[str], where: object) -> None:
    if name in path:
        loop = " -> ".join([*path[path.index(name) :], name])
        raise ConfigurationError(
            f"models in {str(where)!r}: the fallbacks form a cycle ({loop}); remove one of these fallbacks"
        )
    for child in _fallback_aliases(models[name], models):
        _check_cycle(child, models, [*path, name], where)


def known_names(what: str, name: str, known: list[str], section: str) -> str:
    """The "did you mean" hint plus the known names, so a config error says what to write instead."""
    import difflib  # only an error message needs it: not an import-time cost

    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    listed = ", ".join(sorted(known)) or "none"
    return f"{hint}known {what}: {listed}; add it under {section} in steadyhand.toml"

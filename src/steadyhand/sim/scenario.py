"""Scenario files: rules that pick an answer, a latency model and faults for each request.

A scenario is YAML or TOML validated by these pydantic models, so a bad file fails at load time with
the path of the offending field instead of misbehaving mid-test.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigurationError

FaultKind = Literal[
    "429",
    "quota",
    "500",
    "502",
    "503",
    "529",
    "overloaded",
    "error-in-stream",
    "reset",
    "hang",
    "slow-first-token",
    "stall",
    "cut",
    "malformed-sse",
    "no-done",
    "context-length",
    "content-filter",
    "content-filter-prompt",
    "content-filter-finish",
    "no-prefill",
    "json-prose",
    "json-fenced",
    "json-trailing-comma",
    "json-truncated",
    "json-wrong-types",
]
TEMPLATE_VARS = frozenset({"last_user", "model", "seed", "request_number"})
_TEMPLATE_VAR = re.compile(r"\{\{\s*(\w+)\s*\}\}")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Latency(_Model):
    """How long the simulated model takes: ``ttft`` before the first token, ``per_token`` after each."""

    ttft: float = Field(default=0.0, ge=0)
    per_token: float = Field(default=0.0, ge=0)


class Fault(_Model):
    """One fault and when it fires; every condition must hold, all deterministic under the seed."""

    kind: FaultKind
    rate: float = Field(default=1.0, ge=0, le=1)
    """Probability of firing on an eligible request (seeded RNG, one per fault)."""
    times: int | None = Field(default=None, ge=1)
    """Fire at most this many times, then stay quiet."""
    after: int = Field(default=0, ge=0)
    """Let this many matching requests through before the fault becomes eligible."""
    down_for: float | None = Field(default=None, gt=0)
    """Only fire during the first ``down_for`` seconds (counted from ``down_from``)."""
    down_from: Literal["start", "first_request"] = "start"
    retry_after: float | None = Field(default=1.0, ge=0)
    """Seconds sent as ``retry-after`` (and ``retry-after-ms``) on 429/503/529; null sends none."""
    delay: float = Field(default=2.0, ge=0)
    """Seconds before the first token for ``slow-first-token``."""
    after_chunks: int = Field(default=2, ge=0)
    """Stream faults (stall, cut, malformed-sse, error-in-stream) strike after this many content chunks."""


class ToolCallSpec(_Model):
    """A tool call to answer with; ``arguments`` is sent JSON-encoded."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class Respond(_Model):
    """The answer: exactly one of ``text``, ``template``, ``json``, ``tool_calls``."""

    text: str | None = None
    template: str | None = None
    """Text with ``{{ last_user }}``, ``{{ model }}``, ``{{ seed }}``, ``{{ request_number }}`` filled."""
    json_: Any = Field(default=None, alias="json")
    tool_calls: list[ToolCallSpec] | Literal["auto"] | None = None
    """``auto`` calls the request's first tool with arguments generated from its schema."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("template")
    @classmethod
    def _known_vars(cls, value: str | None) -> str | None:
        for name in _TEMPLATE_VAR.findall(value or ""):
            if name not in TEMPLATE_VARS:
                raise ValueError(f"unknown template variable {name!r}; use one of {sorted(TEMPLATE_VARS)}")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Respond:
        given = [self.text, self.template, self.json_, self.tool_calls]
        if sum(v is not None for v in given) != 1:
            raise ValueError("give exactly one of text, template, json, tool_calls")
        return self


class Match(_Model):
    """Which requests a rule applies to; every given condition must hold (none given matches all)."""

    model: str | None = None
    """Model name, exact or a glob such as ``gpt-4o*``."""
    prompt_contains: str | None = None
    """Substring of the last user message."""
    prompt_regex: str | None = None
    """Regular expression searched in the last user message."""
    last_role: Literal["system", "developer", "user", "assistant", "tool"] | None = None
    """Role of the conversation's last message; ``tool`` when it carries tool results (both wires)."""
    tool_result: bool | None = None
    """True: the current turn holds a tool result (sent after the last user message); False: it does not."""
    tool_result_contains: str | None = None
    """Substring of one of the current turn's tool results."""

    @field_validator("prompt_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class Rule(_Model):
    """First matching rule wins: its faults are tried in order, else it answers with ``respond``."""

    name: str | None = None
    match: Match = Field(default_factory=Match)
    respond: Respond | None = None
    latency: Latency | None = None
    faults: list[Fault] = Field(default_factory=list)


class RateLimit(_Model):
    """Real sliding-window limits (60 s) per model; a 429 carries an accurate retry-after."""

    model: str = "*"
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)


class Scenario(_Model):
    """A whole simulator script. An empty scenario answers every model with a default reply."""

    seed: int = 0
    latency: Latency = Field(default_factory=Latency)
    default_text: str | None = None
    """Replaces the built-in default answer."""
    rules: list[Rule] = Field(default_factory=list)
    rate_limits: list[RateLimit] = Field(default_factory=list)


def load_scenario(source: str | Path) -> Scenario:
    """Read a ``.yaml``/``.yml``/``.toml`` scenario; raises ConfigurationError naming the bad field."""
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot read scenario file {path}: {exc}") from exc
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"scenario file {path} is not valid {path.suffix[1:]}: {exc}") from exc
    return parse_scenario(data or {}, source=str(path))


def parse_scenario(data: Any, *, source: str = "scenario") -> Scenario:
    """Validate already-parsed data; errors list each bad field as a dotted path."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigurationError(f"invalid scenario {source}: {problems}") from exc

"""The re-ask loop, free of I/O: a generator that yields each request and receives each answer.

The sync and async clients drive the same generator (like the policies' ``decide()``), so the rules
exist once: at most ``max_reasks`` re-asks (default 2, hard cap 3); a re-ask sends the original
messages plus only the latest bad output and what was wrong with it (context grows by one exchange at
most); two identical errors in a row stop the loop; a token or cost budget is checked before each
re-ask. Transport errors are not caught here: retries and fallbacks are the policies' business.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Generator
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigurationError, StructuredOutputError
from ..types import Message, ModelResponse
from ._schema import Shape
from .cleanup import Cleaned, Outcome, clean
from .modes import Mode, instruction, rank
from .result import Attempt, Structured, sum_cost, sum_usage

__all__ = ["HARD_MAX_REASKS", "Ask", "Plan", "loop", "vote"]

HARD_MAX_REASKS = 3
_OUTPUT_BACK = 8000
"""At most this many characters of the bad output go back to the model."""


@dataclass(frozen=True, slots=True)
class Ask:
    """One request to send: the messages and the chat parameters (``n`` for self-consistency)."""

    messages: list[Any]
    params: dict[str, Any]


@dataclass(slots=True, kw_only=True)
class Plan:
    """Everything the loop needs, decided before the first request."""

    messages: list[Any]
    """The messages to send (``Message`` objects or message mappings, checked when each request is built)."""
    params: dict[str, Any]
    shape: Shape
    mode: Mode
    api: str
    instructed: bool
    accept: frozenset[Outcome]
    max_reasks: int = 2
    close_truncated: bool = False
    budget_tokens: int | None = None
    budget_usd: float | None = None
    deadline: float | None = None
    """``time.monotonic()`` by which the whole structured call must end (``timeout=``): no re-ask after."""
    n: int = 1
    n_native: bool = False
    notes: list[str] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    """Every attempt so far (the client's hook notes the latest on its span)."""

    def __post_init__(self) -> None:
        if not 0 <= self.max_reasks <= HARD_MAX_REASKS:
            raise ConfigurationError(
                f"max_reasks must be 0..{HARD_MAX_REASKS}, not {self.max_reasks}: a model that fails three "
                "re-asks needs a better prompt or schema, not a fourth"
            )
        if self.n < 1:
            raise ConfigurationError(f"n must be at least 1, not {self.n}")


Pricer = Callable[[ModelResponse], float | None]
ModeOf = Callable[[ModelResponse], Mode]


def answer_text(response: ModelResponse, mode: Mode, api: str, index: int = 0) -> str:
    """The text to clean: a forced tool call's arguments in chat ``tool`` mode, else the text."""
    choice = response.choices[index] if index < len(response.choices) else None
    if choice is None:
        return ""
    calls = choice.message.tool_calls
    if mode == "tool" and api != "messages" and calls:
        return calls[0].arguments
    return choice.message.text


def _attempt(
    plan: Plan, response: ModelResponse, price: Pricer, mode: Mode, index: int = 0
) -> tuple[Attempt, Cleaned]:
    text = answer_text(response, plan.mode, plan.api, index)
    finish = response.choices[index].finish_reason if index < len(response.choices) else "unknown"
    cleaned = clean(text, plan.shape, finish_reason=finish, close_truncated=plan.close_truncated)
    errors = cleaned.errors
    if cleaned.outcome == "repaired_ambiguous":
        errors = tuple(
            f"it can be read more than one way ({r.step}: {r.before!r})"
            for r in cleaned.repairs
            if r.ambiguous
        )
    first = index == 0
    attempt = Attempt(
        output=text,
        outcome=cleaned.outcome,
        repairs=cleaned.repairs,
        errors=errors,
        usage=response.usage if first else type(response.usage)(),
        cost_usd=price(response) if first else None,
        mode=mode,
        finish_reason=finish,
        model=response.model,
        provider=response.provider,
    )
    return attempt, cleaned


def _reask(plan: Plan, attempt: Attempt, instruct: bool) -> list[Message]:
    if attempt.outcome == "truncated":
        why = "It was cut off before the JSON was complete (it reached the token limit). Answer more briefly."
    else:
        why = "It could not be used:\n" + "\n".join(f"- {e}" for e in attempt.errors[:20])
    ask = f"{why}\nReply with only the corrected JSON, no other text."
    if instruct:
        ask += "\n" + instruction(plan.shape)
    return [
        *plan.messages,
        Message(role="assistant", content=attempt.output[:_OUTPUT_BACK] or "(empty answer)"),
        Message(role="user", content=f"Your previous answer was not valid. {ask}"),
    ]


def _over_budget(plan: Plan, attempts: list[Attempt]) -> bool:
    if plan.budget_tokens is not None:
        used = sum(a.usage.total_tokens or 0 for a in attempts)
        if used >= plan.budget_tokens:
            return True
    if plan.budget_usd is not None:
        spent = sum_cost([a.cost_usd for a in attempts])
        if spent is not None and spent >= plan.budget_usd:
            return True
    return False


def _noted(plan: Plan, attempt: Attempt) -> None:
    if rank(attempt.mode) > rank(plan.mode):
        note = f"downgraded: planned {plan.mode}, {attempt.provider} answered in {attempt.mode} mode"
        if note not in plan.notes:
            plan.notes.append(note)


def _result(plan: Plan, attempts: list[Attempt], cleaned: Cleaned, **extra: Any) -> Structured[Any]:
    return Structured(
        value=cleaned.value,
        outcome=cleaned.outcome,
        repairs=cleaned.repairs,
        attempts=tuple(attempts),
        usage=sum_usage([a.usage for a in attempts]),
        cost_usd=sum_cost([a.cost_usd for a in attempts]),
        mode=plan.mode,
        notes=tuple(plan.notes),
        **extra,
    )


def loop(plan: Plan, price: Pricer, mode_of: ModeOf) -> Generator[Ask, ModelResponse, Structured[Any]]:
    """Ask, clean, re-ask; returns the :class:`Structured` answer or raises StructuredOutputError."""
    attempts = plan.attempts
    messages = plan.messages
    last: tuple[str, ...] | None = None
    reason = "reasks"
    for number in range(plan.max_reasks + 1):
        response = yield Ask(messages, plan.params)
        mode = mode_of(response)
        attempt, cleaned = _attempt(plan, response, price, mode)
        attempts.append(attempt)
        _noted(plan, attempt)
        # an accepted truncated (or failed) outcome is taken only with a value: a closed one
        usable = cleaned.outcome not in ("truncated", "failed") or cleaned.value is not None
        if cleaned.outcome in plan.accept and usable:
            return _result(plan, attempts, cleaned)
        signature = (attempt.outcome, *attempt.errors)
        if number == plan.max_reasks:
            break
        if signature == last:
            reason = "same_error"
            break
        if _over_budget(plan, attempts):
            reason = "budget"
            break
        if plan.deadline is not None and time.monotonic() >= plan.deadline:
            reason = "deadline"
            break
        last = signature
        instruct = not plan.instructed and mode in ("json_object", "text")
        messages = _reask(plan, attempt, instruct)
    raise _failure(reason, attempts)


def _failure(reason: str, attempts: list[Attempt]) -> StructuredOutputError:
    last = attempts[-1]
    why = {
        "reasks": f"no usable answer after {len(attempts)} attempt(s)",
        "same_error": "the model made the same mistake twice in a row",
        "budget": "the token or cost budget ran out before another re-ask",
        "deadline": "the call's timeout ran out before another re-ask",
        "samples": f"none of the {len(attempts)} samples was usable",
    }[reason]
    errors = "; ".join(last.errors[:5]) or last.outcome
    return StructuredOutputError(
        f"{why} (last: {last.outcome}: {errors}); raise max_reasks, loosen accept= or fix the prompt/schema",
        reason=reason,
        attempts=tuple(attempts),
        last_output=last.output,
    )


def _key(shape: Shape, value: Any) -> str:
    if shape.adapter is not None:
        return str(shape.adapter.dump_json(value).decode())
    return json.dumps(value, sort_keys=True, default=str)


def vote(plan: Plan, price: Pricer, mode_of: ModeOf) -> Generator[Ask, ModelResponse, Structured[Any]]:
    """Self-consistency: ``n`` samples (one request with ``n`` where the target supports it, else
    ``n`` requests), each cleaned; the most common valid value wins, with its agreement rate."""
    attempts = plan.attempts
    results: list[Cleaned] = []
    asks = 1 if plan.n_native else plan.n
    params = {**plan.params, "n": plan.n} if plan.n_native else plan.params
    for _ in range(asks):
        response = yield Ask(plan.messages, params)
        mode = mode_of(response)
        for index in range(len(response.choices) if plan.n_native else 1):
            attempt, cleaned = _attempt(plan, response, price, mode, index)
            attempts.append(attempt)
            _noted(plan, attempt)
            if cleaned.outcome in plan.accept and cleaned.value is not None:
                results.append(cleaned)
    if not results:
        raise _failure("samples", attempts)
    counts: dict[str, int] = {}
    for r in results:
        k = _key(plan.shape, r.value)
        counts[k] = counts.get(k, 0) + 1
    best = max(counts, key=lambda k: counts[k])  # first seen wins a tie
    chosen = next(r for r in results if _key(plan.shape, r.value) == best)
    if len(counts) > 1:
        plan.notes.append(f"vote: {len(counts)} distinct values among {len(results)} valid samples")
    return _result(
        plan,
        attempts,
        chosen,
        agreement=counts[best] / len(results),
        samples=tuple(r.value for r in results),
    )


def accept_set(accept: Collection[str]) -> frozenset[Outcome]:
    known = {"clean", "repaired", "repaired_ambiguous", "truncated", "failed"}
    unknown = sorted(set(accept) - known)
    if unknown:
        raise ConfigurationError(f"unknown outcomes {unknown} in accept=; use some of {sorted(known)}")
    return frozenset(accept)  # type: ignore[arg-type]

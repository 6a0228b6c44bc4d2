"""Few-shot checks: does the model reproduce the prompt's own examples, and has an eval set seen them?

A model that gets its own examples wrong, with the answers in front of it, is reading an unclear prompt.
An eval dataset that contains the examples measures recall, not skill (leakage): both are cheap to
check before trusting a score.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ConfigurationError, SteadyhandError

if TYPE_CHECKING:
    from ..client import Client
    from .prompt import Prompt

__all__ = ["ExampleCheck", "FewShotReport", "Leak", "check_examples", "find_leaks", "read_dataset"]

MIN_CONTAINED = 20
"""Characters an example's input text needs before "the row contains it" counts as a leak."""
_OUTPUT_KEYS = frozenset({"output", "expected", "id", "label", "metadata"})


@dataclass(frozen=True, slots=True)
class ExampleCheck:
    """One example run through its own prompt: what came back and whether it matched."""

    index: int
    input: dict[str, Any]
    expected: Any
    got: str | None
    matched: bool
    error: str | None = None
    """The error of a call that failed (then ``got`` is None)."""


@dataclass(frozen=True, slots=True)
class Leak:
    """Dataset row ``row`` (0-based) holds example ``example``: its whole input, or its text inside."""

    example: int
    row: int
    kind: Literal["input", "contains"]
    field: str | None = None


@dataclass(frozen=True, slots=True)
class FewShotReport:
    """The checks of one prompt version; ``ok`` when every example came back and nothing leaked."""

    prompt: str
    checks: list[ExampleCheck] = field(default_factory=list)
    leaks: list[Leak] = field(default_factory=list)

    @property
    def reproduced(self) -> int:
        return sum(c.matched for c in self.checks)

    @property
    def ok(self) -> bool:
        return self.reproduced == len(self.checks) and not self.leaks


def _normal(text: str) -> str:
    return " ".join(text.split())


def matches(expected: Any, text: str) -> bool:
    """Whether a model's ``text`` is the example's output: the same words (whitespace aside) for a
    string, the same JSON value for anything else."""
    if isinstance(expected, str):
        return _normal(expected) == _normal(text)
    try:
        return bool(json.loads(text) == expected)
    except ValueError:
        return False


def check_examples(
    client: Client,
    prompt: Prompt,
    *,
    dataset: Sequence[Mapping[str, Any]] | str | Path | None = None,
    tags: Mapping[str, str] | None = None,
) -> FewShotReport:
    """Run ``prompt`` on each of its examples' inputs and compare with their outputs; with ``dataset``
    (rows, or a .jsonl/.json/.csv file) also flag rows that contain an example."""
    checks = []
    call_tags = {"check": "few-shot", **(tags or {})}
    for i, example in enumerate(prompt.examples):
        try:
            text = client.run(prompt, example.input, tags=call_tags).text
        except SteadyhandError as e:
            error = f"{type(e).__name__}: {e}"
            checks.append(ExampleCheck(i, example.input, example.output, None, False, error))
            continue
        checks.append(ExampleCheck(i, example.input, example.output, text, matches(example.output, text)))
    rows = read_dataset(dataset) if isinstance(dataset, str | Path) else dataset
    leaks = find_leaks(prompt, rows) if rows is not None else []
    return FewShotReport(prompt.ref, checks, leaks)


def _row_input(row: Mapping[str, Any]) -> Mapping[str, Any]:
    inner = row.get("input")
    if isinstance(inner, Mapping):
        return inner
    return {k: v for k, v in row.items() if k not in _OUTPUT_KEYS}


def _strings(value: Any, at: str = "") -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(at, value)]
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in _strings(v, f"{at}.{k}" if at else str(k))]
    if isinstance(value, list | tuple):
        return [s for i, v in enumerate(value) for s in _strings(v, f"{at}[{i}]")]
    return []


def _canon(value: Any) -> Any:
    if isinstance(value, str):
        return _normal(value).casefold()
    if isinstance(value, Mapping):
        return {k: _canon(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canon(v) for v in value]
    return value


def find_leaks(prompt: Prompt, rows: Sequence[Mapping[str, Any]]) -> list[Leak]:
    """Rows whose input is an example's input (whitespace and case aside), or that contain an
    example's input text of at least :data:`MIN_CONTAINED` characters."""
    leaks = []
    shots = [(_canon(e.input), [(k, _canon(v)) for k, v in _strings(e.input)]) for e in prompt.examples]
    for r, row in enumerate(rows):
        given = _row_input(row)
        canon = _canon(dict(given))
        texts = [(k, _canon(v)) for k, v in _strings(row)]
        for j, (inputs, pieces) in enumerate(shots):
            if canon == inputs:
                leaks.append(Leak(j, r, "input"))
                continue
            hit = next(
                (
                    where
                    for _, piece in pieces
                    if len(piece) >= MIN_CONTAINED
                    for where, text in texts
                    if piece in text
                ),
                None,
            )
            if hit is not None:
                leaks.append(Leak(j, r, "contains", hit))
    return leaks


def read_dataset(path: str | Path) -> list[dict[str, Any]]:
    """Rows of an eval dataset: JSON Lines (one object a line), a JSON array of objects, or CSV."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigurationError(f"cannot read dataset {file}: {e.strerror or e}") from None
    try:
        if file.suffix == ".csv":
            return [dict(r) for r in csv.DictReader(text.splitlines())]
        if file.suffix == ".json":
            rows = json.loads(text)
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError as e:
        kind = file.suffix[1:] or "JSON Lines"
        raise ConfigurationError(f"dataset {file} is not valid {kind}: {e}") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ConfigurationError(f"dataset {file} must hold objects (one per row)")
    return rows

"""The cleanup corpus (tests/structured/corpus/, built by build.py): every malformed case gives its
expected value and outcome, every valid document passes unchanged, every rejected input is refused or
flagged. A failure names the category and the case."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from steadyhand.structured import clean

CORPUS = Path(__file__).parent / "corpus"
MALFORMED: list[dict[str, Any]] = json.loads((CORPUS / "malformed.json").read_text("utf-8"))
VALID: list[str] = json.loads((CORPUS / "valid.json").read_text("utf-8"))
REJECTED: list[dict[str, Any]] = json.loads((CORPUS / "rejected.json").read_text("utf-8"))
SCHEMAS: dict[str, Any] = json.loads((CORPUS / "schemas.json").read_text("utf-8"))


def _same(a: Any, b: Any) -> bool:
    """Equal with the types JSON distinguishes (True is not 1, 2.0 is not 2 here)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_the_corpus_has_the_sizes_the_issue_asks_for() -> None:
    assert len(MALFORMED) >= 200 and len(VALID) >= 60 and len(REJECTED) >= 30
    categories = Counter(c["category"] for c in MALFORMED)
    assert len(categories) >= 15, categories


@pytest.mark.parametrize("case", MALFORMED, ids=lambda c: f"{c['category']}:{c['text'][:30]!r}")
def test_malformed_case_reads_as_expected(case: dict[str, Any]) -> None:
    result = clean(case["text"], SCHEMAS.get(case.get("schema", "")))
    assert result.outcome == case["outcome"], (result.outcome, result.steps, result.errors)
    assert _same(result.value, case["expected"]), result.value
    assert result.repairs, "a malformed text must log at least one step"
    for repair in result.repairs:
        assert repair.step and (repair.before or repair.after)


@pytest.mark.parametrize("text", VALID, ids=lambda t: repr(t[:30]))
def test_valid_document_passes_unchanged(text: str) -> None:
    result = clean(text)
    expected = json.loads(text)
    assert result.outcome == "clean" and result.repairs == ()
    assert json.dumps(result.value, sort_keys=True) == json.dumps(expected, sort_keys=True)


@pytest.mark.parametrize("case", REJECTED, ids=lambda c: f"{c['category']}:{c['text'][:30]!r}")
def test_rejected_input_is_refused_or_flagged(case: dict[str, Any]) -> None:
    schema = SCHEMAS.get(case.get("schema", ""))
    result = clean(case["text"], schema, finish_reason=case.get("finish_reason"))
    assert result.outcome in ("failed", "truncated", "repaired_ambiguous"), (result.outcome, result.value)
    assert result.errors or result.outcome == "repaired_ambiguous"
    if result.outcome != "repaired_ambiguous":
        assert result.value is None

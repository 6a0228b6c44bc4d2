"""Redaction quality on the planted-secret corpus: recall on secrets and near-misses, false positives on
innocent look-alikes, and the time ``redacted_line`` takes per case.

Run: ``.venv/bin/python benchmarks/bench_redaction.py``. Prints a table and writes
``benchmarks/results/bench_redaction.json``. The corpus lives in ``tests/tracing/redaction_corpus.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.tracing.redaction_corpus import INNOCENT, NEAR_MISSES, SECRETS, Case, score

from _common import report
from steadyhand.tracing import Redactor
from steadyhand.tracing._serialize import redacted_line


def _mean_us(cases: list[Case], redactor: Redactor) -> float:
    spans = [case.span() for case in cases]
    t0 = time.perf_counter()
    for span in spans:
        redacted_line(span, redactor)
    return (time.perf_counter() - t0) / len(spans) * 1e6


def main() -> None:
    redactor = Redactor()
    rows = []
    results = {}
    for name, cases, innocent in (
        ("planted secrets (13 kinds x 20 placements)", SECRETS, False),
        ("near-misses (forms once leaked)", NEAR_MISSES, False),
        ("innocent look-alikes", INNOCENT, True),
    ):
        s = score(cases, redactor, innocent=innocent)
        rate = s.rate if not innocent else 1 - s.rate
        rows.append([name, s.total, s.caught if not innocent else s.total - s.caught, f"{rate:.1%}",
                     _mean_us(cases, redactor)])  # fmt: skip
        results[name] = {"total": s.total, "caught_or_changed": rows[-1][2], "missed": s.missed}
    report(
        "bench_redaction",
        "Redaction on the planted-secret corpus (recall on the first two rows, false positives on the last)",
        ["corpus", "cases", "caught / changed", "recall / FP rate", "µs per span"],
        rows,
        results=results,
    )


if __name__ == "__main__":
    main()

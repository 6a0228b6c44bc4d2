"""Structured output: cleanup throughput and a structured call's overhead, side by side in one run.

1. Valid documents (the corpus's 60, and answers of ~1 KB and ~200 KB): ``json.loads`` vs
   ``steadyhand.structured.clean`` (the value plus its outcome and steps) and ``loads`` (the value)
   vs ``json_repair.loads``. Target: within 1.1x of ``json.loads``: on this path both *are*
   ``json.loads``, ``clean`` plus a result object (~0.3 us, visible on 60-byte documents).
2. Malformed documents (the corpus's 300): ``clean`` vs ``json_repair.loads``, and what each got right
   (the corpus's expected value).
3. A structured call vs a plain ``chat`` call through the same client and an in-process provider
   (no HTTP, no model time), so the difference is steadyhand's structured-output overhead per call.

The corpus report per category is ``python benchmarks/bench_structured.py --corpus``.

Run: .venv/bin/python benchmarks/bench_structured.py [--rounds N] [--corpus]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import json_repair
from pydantic import BaseModel

from _common import report
from steadyhand import Client, Config
from steadyhand.structured import clean, loads
from steadyhand.testing import FunctionProvider

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "structured" / "corpus"


def _load(name: str) -> Any:
    return json.loads((CORPUS / name).read_text("utf-8"))


def _per_doc(fns: list[Callable[[str], Any]], docs: list[str], repeat: int) -> list[float]:
    """Microseconds per document for each function: the best of 7 rounds (noise only adds), interleaved
    within each round so machine noise hits them alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(7):
        for i, fn in enumerate(fns):
            gc.collect()
            gc.disable()  # a collection triggered by one function's garbage must not bill the next
            start = time.perf_counter()
            for _ in range(repeat):
                for d in docs:
                    fn(d)
            times[i].append((time.perf_counter() - start) / (repeat * len(docs)) * 1e6)
            gc.enable()
    return [min(t) for t in times]


def _safe_repair(text: str) -> Any:
    try:
        return json_repair.loads(text)
    except Exception:
        return None


def throughput(rounds: int) -> list[list[Any]]:
    valid: list[str] = _load("valid.json")
    medium = json.dumps(
        [{"id": i, "name": f"item {i}", "tags": ["a", "b"], "price": i * 1.5} for i in range(30)]
    )
    large = json.dumps(
        [{"id": i, "name": f"item {i}", "tags": ["a", "b"], "price": i * 1.5} for i in range(3000)]
    )
    malformed = [c["text"] for c in _load("malformed.json")]
    rows = []
    for label, docs, n in (
        (f"valid: corpus ({len(valid)} docs, ~{sum(map(len, valid)) // len(valid)} B)", valid, rounds * 10),
        (f"valid: one answer of {len(medium) // 1024} KB", [medium], rounds * 100),
        (f"valid: one answer of {len(large) // 1024} KB", [large], rounds),
    ):
        base, ours, plain, theirs = _per_doc([json.loads, clean, loads, _safe_repair], docs, n)
        row = [base, ours, plain, theirs, ours / base, plain / base, theirs / base]
        rows.append([label, *(f"{v:.2f}x" if i > 3 else f"{v:.2f}" for i, v in enumerate(row))])
    ours, theirs = _per_doc([clean, _safe_repair], malformed, max(1, rounds // 2))
    name = f"malformed: corpus ({len(malformed)} docs)"
    rows.append([name, "-", f"{ours:.2f}", "-", f"{theirs:.2f}", "-", "-", f"{theirs / ours:.2f}x of clean"])
    return rows


class Person(BaseModel):
    name: str
    age: int
    city: str


def overhead(rounds: int) -> list[list[Any]]:
    answer = '{"name": "Alice", "age": 34, "city": "Paris"}'
    fixed = FunctionProvider(lambda request: answer)
    cfg = Config.model_validate({"providers": {"sim": {"kind": "sim"}}, "models": {"default": "fn:m-1"}})
    ask = [{"role": "user", "content": "Alice is 34 and lives in Paris."}]
    n = rounds * 100
    with Client(cfg, providers={"fn": fixed}) as client:
        client.chat(ask)
        client.structured(ask, schema=Person)
        plain, structured = [], []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(n):
                client.chat(ask)
            plain.append((time.perf_counter() - start) / n * 1e6)
            start = time.perf_counter()
            for _ in range(n):
                client.structured(ask, schema=Person)
            structured.append((time.perf_counter() - start) / n * 1e6)
    p, s = statistics.median(plain), statistics.median(structured)
    return [
        [
            "chat() vs structured(schema=Person), in-process provider",
            f"{p:.1f}",
            f"{s:.1f}",
            f"{s - p:.1f}",
            f"{s / p:.2f}x",
        ]
    ]


def corpus_report() -> None:
    schemas = _load("schemas.json")
    rows = []
    for name, cases in (("malformed", _load("malformed.json")), ("rejected", _load("rejected.json"))):
        total: Counter[str] = Counter()
        ours: Counter[str] = Counter()
        theirs: Counter[str] = Counter()
        for case in cases:
            cat = case["category"]
            total[cat] += 1
            result = clean(
                case["text"], schemas.get(case.get("schema", "")), finish_reason=case.get("finish_reason")
            )
            if name == "malformed":
                ours[cat] += result.outcome == case["outcome"] and json.dumps(
                    result.value, sort_keys=True
                ) == json.dumps(case["expected"], sort_keys=True)
                theirs[cat] += json.dumps(_safe_repair(case["text"]), sort_keys=True) == json.dumps(
                    case["expected"], sort_keys=True
                )
            else:
                ours[cat] += not result.ok
                theirs[cat] += _safe_repair(case["text"]) in ("", None, [], {})
        rows += [[name, cat, total[cat], ours[cat], theirs[cat]] for cat in sorted(total)]
    valid = _load("valid.json")
    unchanged = sum(clean(t).outcome == "clean" for t in valid)
    rows.append(
        [
            "valid",
            "unchanged",
            len(valid),
            unchanged,
            sum(_safe_repair(t) == json.loads(t) for t in valid if "NaN" not in t),
        ]
    )
    title = "Cleanup corpus per category: cases, right by steadyhand, right by json_repair.loads alone"
    report("structured_corpus", title, ["set", "category", "cases", "steadyhand", "json_repair"], rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--corpus", action="store_true")
    args = parser.parse_args()
    if args.corpus:
        corpus_report()
        return
    report(
        "structured_cleanup",
        "Cleanup: microseconds per document (best of 7 interleaved rounds), same run",
        [
            "documents",
            "json.loads",
            "clean",
            "loads",
            "json_repair",
            "clean/json",
            "loads/json",
            "json_repair/json",
        ],
        throughput(args.rounds),
    )
    report(
        "structured_overhead",
        "A structured call's overhead, excluding model time (microseconds per call, median of 5)",
        ["calls", "plain", "structured", "overhead", "ratio"],
        overhead(args.rounds),
    )


if __name__ == "__main__":
    main()

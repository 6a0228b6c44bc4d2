"""Structured extraction against the real local model (llama.cpp + SmolLM2-135M), two modes side by side.

The 30 texts of tests/structured/extraction.py, each asked in ``text`` mode (the schema in the
prompt, the answer cleaned up) and in ``json_object_schema`` mode (llama.cpp's grammar enforces the
schema), with the same seed at temperature 0 and the default re-asks. Reported per mode: the share
of inputs that gave a valid value, the share whose value is right (name, age and city as stated),
re-asks, and prompt/completion tokens. ``--dump FILE`` writes every raw model output (the corpus's
``smollm2`` cases come from such a dump).

Run: .venv/bin/python benchmarks/bench_structured_local.py [--limit N] [--dump outputs.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "structured"))

from extraction import CASES, messages

from _common import report
from steadyhand import Client, StructuredOutputError
from steadyhand.local import LocalModelServer, local_config

MODES = ("text", "json_object_schema")


def run(client: Client, mode: str, limit: int, dump: list[dict[str, Any]]) -> dict[str, Any]:
    valid = right = reasks = prompt_tokens = completion_tokens = 0
    outcomes: dict[str, int] = {}
    for text, expected in CASES[:limit]:
        try:
            result = client.structured(
                messages(text), schema=type(expected), model="local", mode=mode,
                temperature=0.0, seed=7, max_tokens=80,
            )  # fmt: skip
            attempts = result.attempts
            valid += 1
            right += result.value == expected
            outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
        except StructuredOutputError as exc:
            attempts = exc.attempts
            outcomes["error:" + exc.reason] = outcomes.get("error:" + exc.reason, 0) + 1
        reasks += len(attempts) - 1
        for a in attempts:
            prompt_tokens += a.usage.input_tokens or 0
            completion_tokens += a.usage.output_tokens or 0
            dump.append({"mode": mode, "input": text, "output": a.output, "outcome": a.outcome,
                         "steps": [r.step for r in a.repairs], "finish_reason": a.finish_reason})  # fmt: skip
    n = min(limit, len(CASES))
    return {
        "mode": mode, "inputs": n, "valid": valid / n, "right": right / n, "reasks": reasks,
        "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "outcomes": outcomes,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=len(CASES))
    parser.add_argument("--dump", type=Path)
    args = parser.parse_args()
    dump: list[dict[str, Any]] = []
    with LocalModelServer(startup_timeout=120.0) as server, Client(local_config(server)) as client:
        results = [run(client, mode, args.limit, dump) for mode in MODES]
    rows = [
        [r["mode"], r["inputs"], f"{r['valid']:.0%}", f"{r['right']:.0%}", r["reasks"],
         r["prompt_tokens"], r["completion_tokens"], json.dumps(r["outcomes"], sort_keys=True)]
        for r in results
    ]  # fmt: skip
    report(
        "structured_local",
        "Structured extraction on SmolLM2-135M (llama.cpp): text + cleanup vs json_object + schema",
        ["mode", "inputs", "valid", "right", "re-asks", "prompt tok", "completion tok", "outcomes"],
        rows,
        results=results,
    )
    if args.dump:
        args.dump.write_text(json.dumps(dump, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()

"""Inbound codecs: CPU per decode/encode, side by side with the bare JSON parse and the simulator's
whole in-process request handling (which now includes the decode), interleaved in one run.

Run: .venv/bin/python benchmarks/bench_codecs.py [--ops 3000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import pydantic_core

from _common import report
from steadyhand.providers import inbound_anthropic, inbound_openai, inbound_openai_encode
from steadyhand.providers._common import json_bytes
from steadyhand.sim.router import Router
from steadyhand.sim.scenario import Scenario
from steadyhand.types import Choice, Chunk, Message, ModelResponse, Usage

MESSAGES = [
    {"role": "system", "content": "You are terse and precise."},
    {"role": "user", "content": "Summarise the following text in one sentence. " * 20},
    {"role": "assistant", "content": "Sure."},
    {"role": "user", "content": "Thanks, and now in French, s'il vous plaît."},
]
CHAT = json.dumps(
    {"model": "sim-basic", "messages": MESSAGES, "temperature": 0.2, "max_tokens": 200, "user": "u-1"}
).encode()
ANTHROPIC = json.dumps(
    {"model": "sim-basic", "max_tokens": 200, "system": MESSAGES[0]["content"], "messages": MESSAGES[1:]}
).encode()
BIG = json.dumps(
    {"model": "sim-basic", "messages": [{"role": "user", "content": "word " * 200_000}]}
).encode()
RESPONSE = ModelResponse(
    id="chatcmpl-1",
    model="sim-basic",
    provider="sim",
    created=1,
    choices=[Choice(message=Message(role="assistant", content="Bonjour ! " * 20))],
    usage=Usage(input_tokens=300, output_tokens=40),
)
CHUNKS = [Chunk(text=f"tok{i} ") for i in range(40)] + [
    Chunk(finish_reason="stop"),
    Chunk(usage=RESPONSE.usage),
]


def contenders() -> dict[str, Callable[[], object]]:
    router = Router(Scenario(), seed=0)
    parsed = json.loads(CHAT)

    def stream() -> object:
        encoder = inbound_openai_encode.ChatStreamEncoder(id="c", model="m", created=1, include_usage=True)
        docs = [d for c in CHUNKS for d in encoder.feed(c)] + encoder.close()
        return b"".join(inbound_openai_encode.sse_data(d) for d in docs)

    return {
        "json parse only (pydantic_core)": lambda: pydantic_core.from_json(CHAT),
        "decode_chat (bytes)": lambda: inbound_openai.decode_chat(CHAT),
        "decode_messages (bytes)": lambda: inbound_anthropic.decode_messages(ANTHROPIC),
        "sim: whole chat request, in-process": lambda: router.route(
            "POST", "/v1/chat/completions", {}, parsed
        ),
        "encode chat_completion + JSON": lambda: json_bytes(inbound_openai_encode.chat_completion(RESPONSE)),
        "encode 42-chunk chat stream + SSE": stream,
        "decode_chat, 1 MiB prompt": lambda: inbound_openai.decode_chat(BIG),
    }


def measure(fn: Callable[[], object], ops: int) -> float:
    """CPU µs per op."""
    start = time.process_time()
    for _ in range(ops):
        fn()
    return (time.process_time() - start) / ops * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ops", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    fns = contenders()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(args.rounds):  # interleaved: noise hits every contender alike
        for name, fn in fns.items():
            ops = max(args.ops // 100, 5) if "1 MiB" in name else args.ops
            samples[name].append(measure(fn, ops))
    base = statistics.median(samples["json parse only (pydantic_core)"])
    rows = [
        [name, round(statistics.median(v), 1), round(statistics.median(v) / base, 2)]
        for name, v in samples.items()
    ]
    report(
        "bench_codecs",
        f"Inbound codecs, CPU µs per op (median of {args.rounds} interleaved rounds)",
        ["operation", "µs/op", "× json parse"],
        rows,
        ops=args.ops,
        rounds=args.rounds,
    )


if __name__ == "__main__":
    main()

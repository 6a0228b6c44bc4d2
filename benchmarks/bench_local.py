"""Raw httpx vs steadyhand's Client against the real local model (llama.cpp + SmolLM2-135M).

Both stream the same prompts with the same seed at temperature 0 from the same server, interleaved
call by call over several rounds. Consecutive calls never share a prompt, so neither side benefits
from llama.cpp reusing the previous prompt's KV cache. Reported per side: time to first token,
decode tokens/s, wall time and the client process's CPU time per call, each as the median per
prompt averaged over the prompts (wall times on a shared 2-core machine vary by tens of percent from
call to call). steadyhand's share of the wall time is its extra client CPU per call (steadyhand
minus raw httpx) over its wall time. The server runs in its own process: its work is not counted.

Run: .venv/bin/python benchmarks/bench_local.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx

from _common import report
from steadyhand import Client
from steadyhand.local import LocalModelServer, local_config

PROMPTS = [
    "In one sentence, what is a timeout?",
    "Name three colours.",
    "Say hello to a new colleague.",
]
OPTIONS: dict[str, Any] = {"temperature": 0.0, "seed": 42, "max_tokens": 48}

Call = Callable[[str], tuple[float, int, str]]  # prompt -> (ttft seconds, tokens, text)


def raw_call(http: httpx.Client, url: str, model: str) -> Call:
    def call(prompt: str) -> tuple[float, int, str]:
        body = {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": True, **OPTIONS}
        t0 = time.perf_counter()
        ttft, tokens, text = 0.0, 0, []
        with http.stream("POST", f"{url}/chat/completions", json=body) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                delta = json.loads(line[6:])["choices"][0]["delta"].get("content")
                if delta:
                    ttft = ttft or time.perf_counter() - t0
                    tokens += 1
                    text.append(delta)
        return ttft, tokens, "".join(text)

    return call


def steadyhand_call(client: Client) -> Call:
    def call(prompt: str) -> tuple[float, int, str]:
        t0 = time.perf_counter()
        ttft, tokens, text = 0.0, 0, []
        with client.stream(prompt, model="local", **OPTIONS) as stream:
            for piece in stream.text_stream():
                ttft = ttft or time.perf_counter() - t0
                tokens += 1
                text.append(piece)
        return ttft, tokens, "".join(text)

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    samples: dict[str, list[dict[str, float]]] = {"raw httpx": [], "steadyhand": []}
    texts: dict[tuple[str, str], set[str]] = {}
    with (
        LocalModelServer(port=0) as server,
        httpx.Client(timeout=120, trust_env=False) as http,
        Client(local_config(server)) as client,
    ):
        calls = {
            "raw httpx": raw_call(http, server.base_url, server.model_name),
            "steadyhand": steadyhand_call(client),
        }
        for call in calls.values():  # warm-up: connections, imports, the server's first prompt
            call(PROMPTS[0])
        sides = list(calls)
        for r in range(args.rounds):
            for k in range(2 * len(PROMPTS)):
                side, prompt = sides[(k + r) % 2], PROMPTS[k % len(PROMPTS)]
                cpu0, wall0 = time.process_time(), time.perf_counter()
                ttft, tokens, text = calls[side](prompt)
                wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
                decode = (tokens - 1) / (wall - ttft) if tokens > 1 and wall > ttft else 0.0
                samples[side].append(
                    {
                        "prompt": k % len(PROMPTS),
                        "ttft": ttft,
                        "wall": wall,
                        "cpu": cpu,
                        "tokens": tokens,
                        "tps": decode,
                    }
                )
                texts.setdefault((side, prompt), set()).add(text)
    same_text = all(texts[("raw httpx", p)] == texts[("steadyhand", p)] for p in PROMPTS)

    def med(side: str, key: str) -> float:
        """The mean over prompts of each prompt's median: robust to noise, fair across prompt lengths."""
        per_prompt = [
            statistics.median(x[key] for x in samples[side] if x["prompt"] == i) for i in range(len(PROMPTS))
        ]
        return statistics.fmean(per_prompt)

    rows = []
    for side in samples:
        rows.append(
            [
                side, len(samples[side]), med(side, "ttft") * 1000, med(side, "tps"),
                med(side, "wall") * 1000, med(side, "cpu") * 1000,
                100 * med(side, "cpu") / med(side, "wall"),
            ]
        )  # fmt: skip
    extra_cpu = med("steadyhand", "cpu") - med("raw httpx", "cpu")
    share = 100 * extra_cpu / med("steadyhand", "wall")
    ratio_ttft = med("steadyhand", "ttft") / med("raw httpx", "ttft")
    ratio_tps = med("steadyhand", "tps") / med("raw httpx", "tps")
    report(
        "bench_local",
        f"Streaming chat against {server.model_name} via llama.cpp, "
        f"{args.rounds} rounds x {len(PROMPTS)} prompts per client, "
        f"interleaved (per-prompt medians, averaged). steadyhand's share of wall time: {share:.2f}% "
        f"(extra client CPU {extra_cpu * 1000:.2f} ms/call); TTFT ratio {ratio_ttft:.3f}, "
        f"tokens/s ratio {ratio_tps:.3f}; identical text: {same_text}",
        ["client", "calls", "TTFT ms", "decode tok/s", "wall ms/call", "client CPU ms/call", "CPU % of wall"],
        rows,
        steadyhand_share_percent=share,
        extra_cpu_ms_per_call=extra_cpu * 1000,
        ttft_ratio=ratio_ttft,
        tokens_per_second_ratio=ratio_tps,
        identical_text=same_text,
        options=OPTIONS,
        prompts=PROMPTS,
    )


if __name__ == "__main__":
    main()

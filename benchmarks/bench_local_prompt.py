"""Prompt processing on the real local model: time to first token of a long prompt per ``n_batch``.

For each ``n_batch`` a fresh llama.cpp server (SmolLM2-135M, threads for the machine) is started; a
server that crashes on its first multi-token prompt (the SIGSEGV some VMs give in llama.cpp's AMX
kernels) is reported as such. Each server then streams the same long prompt (about 1,370 prompt
tokens, inside the 2,048-token window) a few times, each time with a different first word so the KV
cache of the previous call is never reused, and once a short prompt. Reported: the server's own
prompt token count, the median time to the first token, and the prompt tokens processed per second.

Run: .venv/bin/python benchmarks/bench_local_prompt.py [--batches 1,64,512] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import httpx

from _common import report
from steadyhand.local import LocalModelServer, LocalServerError
from steadyhand.local.server import available_cores

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven"]


def long_prompt(seed: int, words: int = 1000) -> str:
    body = " ".join(WORDS[(i * 7 + seed) % len(WORDS)] for i in range(words))
    return f"Note {seed}: {body}\nIn one word, what animal was mentioned first?"


def first_token(http: httpx.Client, server: LocalModelServer, prompt: str) -> float:
    body = {
        "model": server.model_name,
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
        "max_tokens": 4,
        "temperature": 0.0,
    }
    t0 = time.perf_counter()
    with http.stream("POST", f"{server.base_url}/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("data: {") and json.loads(line[6:])["choices"][0]["delta"].get("content"):
                return time.perf_counter() - t0
    return time.perf_counter() - t0


def prompt_tokens(http: httpx.Client, server: LocalModelServer, prompt: str) -> int:
    body = {"model": server.model_name, "messages": [{"role": "user", "content": prompt}], "max_tokens": 1}
    answer = http.post(f"{server.base_url}/chat/completions", json=body).json()
    return int(answer["usage"]["prompt_tokens"])


def measure(n_batch: int, rounds: int, words: int) -> list[object]:
    server = LocalModelServer(n_batch=n_batch, startup_timeout=180)
    try:
        server.start()
    except LocalServerError as exc:
        print(f"n_batch={n_batch}: {exc}")
        return [n_batch, "crashed on its first prompt", "-", "-", "-", "-"]
    try:
        return _timed(server, n_batch, rounds, words)
    except httpx.TimeoutException:
        return [n_batch, "ok", "-", "over 600,000", "-", "-"]
    finally:
        server.stop()


def _timed(server: LocalModelServer, n_batch: int, rounds: int, words: int) -> list[object]:
    with httpx.Client(timeout=600, trust_env=False) as http:
        tokens = prompt_tokens(http, server, long_prompt(-1, words))
        times = [first_token(http, server, long_prompt(seed, words)) for seed in range(rounds)]
        short = first_token(http, server, "Say hello.")
    ttft = statistics.median(times)
    return [n_batch, "ok", tokens, round(ttft * 1000), round(tokens / ttft), round(short * 1000)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", default="1,64,512")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--words", type=int, default=1000, help="prompt length (1,000 words: ~1,370 tokens)")
    args = parser.parse_args()
    rows = []
    for batch in args.batches.split(","):
        rows.append(measure(int(batch), args.rounds, args.words))
        print(rows[-1], flush=True)
    report(
        "local_prompt",
        f"long-prompt time to first token per n_batch ({available_cores()} threads, median of {args.rounds})",
        ["n_batch", "start", "prompt tokens", "TTFT ms", "prompt tokens/s", "short TTFT ms"],
        rows,
        threads=available_cores(),
    )


if __name__ == "__main__":
    main()

"""What a prompt adds to a call: ``client.run(prompt, ...)`` vs ``client.chat(messages)`` with the same
rendered messages and parameters, over an in-process provider (no I/O), CPU per call.

The difference is binding and type-checking the variables, rendering the Jinja2 templates (compiled
once at load) and the trace record. Also: loading (parse, canonicalize, hash, compile) one prompt file.
Rounds are interleaved so machine noise hits every contender alike; the ratio is what to quote.
Target: ``run`` adds under 25 µs of CPU per call over ``chat`` (a real provider call costs milliseconds);
a message that reads no variable is rendered once and kept, so only the ones that do cost a render.
Run: .venv/bin/python benchmarks/bench_prompts.py [--calls 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _common import report
from steadyhand import Client, Config
from steadyhand.prompts import load_file
from steadyhand.testing import FunctionProvider

PROMPT = '''\
model = "default"
[params]
temperature = 0.0
max_tokens = 20
[variables]
ticket = "str"
tier = { type = "str", default = "free" }
[[messages]]
role = "system"
content = """
You label support tickets as urgent, normal or low.
{% for ex in examples %}
Ticket: {{ ex.input.ticket }} -> {{ ex.output }}
{% endfor %}
"""
[[messages]]
role = "user"
content = "Ticket ({{ tier }} plan): {{ ticket }}"
[[examples]]
input = { ticket = "The site is down for everyone!" }
output = "urgent"
'''


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "classify_ticket.toml"
        path.write_text(PROMPT)
        prompt = load_file(path)
        messages = [m.model_dump(exclude_none=True) for m in prompt.render(ticket="Refund please")]
        client = Client(Config(), providers={"fn": FunctionProvider(lambda r: "normal")})
        params = prompt.params

        def chat() -> None:
            for _ in range(args.calls):
                client.chat(messages, **params)

        def run() -> None:
            for _ in range(args.calls):
                client.run(prompt, ticket="Refund please")

        def render() -> None:
            for _ in range(args.calls):
                prompt.render(ticket="Refund please")

        def loading() -> None:
            for _ in range(args.calls // 10):
                load_file(path)

        cases = {"client.chat(messages)": chat, "client.run(prompt, ...)": run, "prompt.render(...)": render}
        samples: dict[str, list[float]] = {name: [] for name in [*cases, "load_file (one prompt)"]}
        for _ in range(args.rounds):
            for name, fn in cases.items():
                start = time.process_time()
                fn()
                samples[name].append((time.process_time() - start) / args.calls * 1e6)
            start = time.process_time()
            loading()
            samples["load_file (one prompt)"].append((time.process_time() - start) / (args.calls // 10) * 1e6)
    median = {name: statistics.median(values) for name, values in samples.items()}
    base = median["client.chat(messages)"]
    rows = [[name, f"{us:.1f}", f"{us / base:.2f}x"] for name, us in median.items()]
    report(
        "bench_prompts",
        f"prompt overhead, CPU µs per call (median of {args.rounds} rounds of {args.calls})",
        ["case", "µs/call", "vs chat"],
        rows,
        median_us=median,
        run_vs_chat=median["client.run(prompt, ...)"] / base,
        run_added_us=median["client.run(prompt, ...)"] - base,
    )


if __name__ == "__main__":
    main()

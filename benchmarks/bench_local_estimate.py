"""How close estimated usage is on the real local model: a stream's estimate vs the server's own count.

llama.cpp streams carry no usage, so steadyhand estimates it (``providers/token_estimate.py``). For each
prompt the same request (temperature 0, fixed seed) is sent once non-streamed, where the server counts
the tokens, and once streamed, where steadyhand estimates them; the table shows both and their ratio.

Run: .venv/bin/python benchmarks/bench_local_estimate.py
"""

from __future__ import annotations

from typing import Any

from _common import report
from steadyhand import Client, Timeouts
from steadyhand.local import LocalModelServer, local_config

DOCUMENT = " ".join(
    f"Item {i} is a {('red', 'blue', 'green')[i % 3]} box on shelf {i % 7}." for i in range(120)
)
CASES: list[tuple[str, list[dict[str, str]]]] = [
    ("one word", [{"role": "user", "content": "hi"}]),
    (
        "a question",
        [{"role": "user", "content": "In one sentence, why do production LLM calls need timeouts?"}],
    ),
    (
        "system + question",
        [
            {"role": "system", "content": "You are terse. Answer in five words or fewer."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
    ),
    (
        "three turns",
        [
            {"role": "user", "content": "Name a colour."},
            {"role": "assistant", "content": "Blue."},
            {"role": "user", "content": "Another one, please."},
        ],
    ),
    ("a document", [{"role": "user", "content": f"{DOCUMENT}\nHow many items are on shelf 3?"}]),
]
OPTIONS: dict[str, Any] = {"temperature": 0.0, "seed": 5, "max_tokens": 48}


def main() -> None:
    rows = []
    with (
        LocalModelServer(startup_timeout=180) as server,
        Client(local_config(server, timeouts=Timeouts(stall=600, total=900))) as client,
    ):
        for name, messages in CASES:
            exact = client.chat(messages, model="local", **OPTIONS)
            with client.stream(messages, model="local", **OPTIONS) as stream:
                "".join(stream.text_stream())
                estimated = stream.response.usage
            true_in, true_out = exact.usage.input_tokens or 0, exact.usage.output_tokens or 0
            est_in, est_out = estimated.input_tokens or 0, estimated.output_tokens or 0
            rows.append(
                [
                    name,
                    true_in,
                    est_in,
                    f"{est_in / true_in:.2f}",
                    true_out,
                    est_out,
                    f"{est_out / true_out:.2f}",
                ]
            )
    report(
        "local_estimate",
        "estimated (stream) vs counted (non-streamed) usage on SmolLM2-135M",
        ["prompt", "in counted", "in estimated", "ratio", "out counted", "out estimated", "ratio"],
        rows,
    )


if __name__ == "__main__":
    main()

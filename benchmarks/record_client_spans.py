"""Record the spans the Client really produces, from real calls through the simulator, as a fixture.

The tracer benchmark and the redaction tests replay these instead of a hand-made span: a real span
carries what a synthetic one forgets (the response ``id``, ``created`` as a Unix time, usage details).
Run: ``.venv/bin/python benchmarks/record_client_spans.py`` (rewrites
``tests/tracing/fixtures/client_spans.json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from steadyhand import Client, Config
from steadyhand.errors import SteadyhandError
from steadyhand.sim import SimServer
from steadyhand.tracing import SpanRecord
from steadyhand.tracing._serialize import span_to_dict

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "tracing" / "fixtures" / "client_spans.json"
SYSTEM = "You are the support assistant for ACME. Answer briefly, cite the policy, never promise refunds."
TOOL = {
    "name": "lookup_order",
    "description": "Find an order by its number.",
    "parameters": {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]},
}


class CaptureSink:
    """A SpanSink that keeps what the Client hands the tracer."""

    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []

    def record(self, span: SpanRecord) -> None:
        self.spans.append(span)


def record_spans() -> dict[str, dict[str, Any]]:
    """One span per kind of call: chat (bare, as bench_client sends it, and a realistic app call),
    a tool call, legacy completions, Anthropic messages, a stream, and a failed call."""
    sink = CaptureSink()
    with SimServer() as sim:
        config = Config.model_validate(
            {
                "providers": {"sim": {"kind": "sim", "base_url": sim.base_url}},
                "models": {
                    "default": "sim:gpt-4o-2024-08-06",
                    "legacy": {"target": "sim:gpt-3.5-turbo-instruct", "api": "completions"},
                    "claude": {"target": "sim:claude-3-5-haiku-20241022", "api": "messages"},
                    "flaky": "sim:sim-429",
                },
            }
        )
        names: list[str] = []
        with Client(config, tracer=sink) as client:
            client.chat(
                [
                    {"role": "system", "content": "You are terse."},
                    {"role": "user", "content": "Say hello to the benchmark."},
                ]
            )
            names.append("chat_bare")
            client.chat(
                [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": "Hi, my order 81723 arrived broken. What can I do about it?"},
                    {"role": "assistant", "content": "Sorry to hear that. Could you share a photo of it?"},
                    {"role": "user", "content": "Here it is. The box was crushed on one side."},
                ],
                temperature=0.2,
                max_tokens=300,
                tags={"user": "user-42", "feature": "support-chat", "env": "prod"},
            )
            names.append("chat_app")
            client.chat([{"role": "user", "content": "Where is order 81723?"}], tools=[TOOL])
            names.append("chat_tools")
            client.chat("Write a haiku about spools.", model="legacy")
            names.append("completions")
            client.chat("Say hello.", model="claude", max_tokens=100)
            names.append("anthropic_messages")
            with client.stream("Count to five.") as stream:
                for _ in stream:
                    pass
            names.append("chat_stream")
            try:
                client.chat("Hello?", model="flaky")
            except SteadyhandError:
                names.append("chat_error")
    return {name: span_to_dict(span) for name, span in zip(names, sink.spans, strict=True)}


def load_spans() -> dict[str, SpanRecord]:
    """The recorded spans, as fresh SpanRecords (the tracer mutates what it records)."""
    data = json.loads(FIXTURE.read_text())
    return {name: SpanRecord(**fields) for name, fields in data.items()}


def main() -> None:
    spans = record_spans()
    FIXTURE.write_text(json.dumps(spans, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(spans)} spans to {FIXTURE}")


if __name__ == "__main__":
    main()

"""``steadyhand local demo``: the model layer's tour against a real model, with timings.

Chat, a stream with its time to first token, JSON shaped by the llama.cpp capability profile (and
what actually went over the wire), truncation surfaced as such, and the server's validation 500
classified as a bad request. Runs in a few seconds on two cores.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from pydantic import BaseModel
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from ..client import Client
from ..errors import BadRequest
from ..providers.capabilities import OPENAI
from ..providers.http import HttpxTransport
from ..providers.http_provider import HTTPProvider
from ..providers.openai_chat import OpenAIChat
from ..providers.registry import build_provider
from ..types import Message, ModelRequest, ResponseFormat
from .config import local_config
from .server import LocalModelServer

__all__ = ["run_demo"]

QUESTION = "In one sentence, why do production LLM calls need timeouts?"


class Person(BaseModel):
    name: str
    age: int


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def run_demo(server: LocalModelServer, *, console: Console | None = None) -> int:
    """The tour against a started ``server``; returns the process exit code."""
    console = console or Console()
    config = local_config(server)
    sent: list[dict[str, Any]] = []
    hooks = {"request": [lambda request: sent.append(json.loads(request.content))]}
    provider = build_provider(
        "local", api="chat", config=config, transport=HttpxTransport(httpx.Client(event_hooks=hooks))
    )
    console.print(Panel.fit(f"steadyhand local demo: {server.model_name} via llama.cpp at {server.base_url}"))
    with Client(config, providers={"local": provider}) as client:
        console.rule("1. Chat")
        t0 = time.perf_counter()
        answer = client.chat(QUESTION, model="local", temperature=0.0, seed=1, max_tokens=48)
        elapsed = time.perf_counter() - t0
        table = Table("answer", "finish", "tokens in/out", "time", "tokens/s")
        out = answer.usage.output_tokens or 0
        table.add_row(
            answer.text.strip(), answer.finish_reason, f"{answer.usage.input_tokens}/{out}", _ms(elapsed),
            f"{out / elapsed:.0f}",
        )  # fmt: skip
        console.print(table)

        console.rule("2. Streaming, with time to first token")
        t0 = time.perf_counter()
        first: float | None = None
        with client.stream(QUESTION, model="local", temperature=0.0, seed=1, max_tokens=48) as stream:
            for piece in stream.text_stream():
                first = first or time.perf_counter() - t0
                console.print(piece, end="", highlight=False)
            streamed = stream.response
        total = time.perf_counter() - t0
        console.print()
        usage = streamed.usage
        console.print(
            f"TTFT {_ms(first or total)} (the prompt's KV cache is reused from call 1), total {_ms(total)}; "
            f"same text as the non-streamed call: "
            f"{streamed.text == answer.text}; usage {usage.input_tokens}/{usage.output_tokens} "
            f"estimated={usage.estimated} (llama.cpp sends no usage in streams)"
        )

        console.rule("3. JSON through the capability profile")
        sent.clear()
        fmt = ResponseFormat(type="json_schema", json_schema=Person.model_json_schema(), name="person")
        t0 = time.perf_counter()
        reply = client.chat("Describe a person as JSON.", model="local", response_format=fmt, max_tokens=60)
        person = Person.model_validate_json(reply.text)
        console.print(f"asked for: json_schema; sent on the wire: {json.dumps(sent[-1]['response_format'])}")
        console.print(f"answer ({_ms(time.perf_counter() - t0)}): {reply.text.strip()} -> {person!r}")

        console.rule("4. max_tokens reached is a truncated answer, never a complete one")
        cut = client.chat("Tell me a long story about a dragon.", model="local", max_tokens=8)
        console.print(f"{cut.text!r}: finish_reason={cut.finish_reason}, truncated={cut.truncated}")

    console.rule("5. Without the profile: llama.cpp answers json_schema with HTTP 500")
    raw = HTTPProvider(
        OpenAIChat(base_url=server.base_url, api_key=None, provider_name="raw", capabilities=OPENAI)
    )
    request = ModelRequest(
        model=server.model_name, messages=[Message(role="user", content="hi")], response_format=fmt
    )
    try:
        raw.complete(request)
        console.print("[red]the server accepted json_schema: update the llama_cpp profile[/red]")
        return 1
    except BadRequest as exc:
        console.print(
            f"{type(exc).__name__} (status {exc.status_code}, retryable={exc.retryable}): never retried"
        )
    finally:
        raw.close()
    return 0

"""What the simulated model says, independent of wire format: text or tool calls, plus token usage."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from .scenario import Respond
from .schema_instance import instance_of
from .tokens import count_tokens, split_pieces

DEFAULT_TEXT = "Hello! This is the steadyhand simulator answering as {model}."
DEFAULT_JSON: dict[str, Any] = {"answer": "example", "confidence": 0.5}
DEFAULT_TOOL = ("get_weather", {"city": "Paris"})
_TEMPLATE_VAR = re.compile(r"\{\{\s*(\w+)\s*\}\}")
JSON_FAULTS = frozenset({"json-prose", "json-fenced", "json-trailing-comma", "json-truncated"})


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call; ``key`` is the deterministic id suffix each wire format prefixes."""

    key: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Prompt:
    """The parts of a request an answer depends on, extracted once by the wire-format handler."""

    model: str
    last_user: str
    prompt_tokens: int
    request_number: int
    seed: int
    max_tokens: int | None = None
    tools: tuple[tuple[str, Any], ...] = ()
    """(name, JSON schema of the parameters) of each tool the request offers."""
    json_schema: Any = None
    """The ``response_format`` schema when the request asks for JSON, else None."""
    wants_json: bool = False


@dataclass(frozen=True, slots=True)
class Answer:
    """One complete answer; ``pieces`` are the streamed fragments and join to ``text``."""

    text: str
    pieces: tuple[str, ...]
    finish: str  # OpenAI vocabulary: stop, length, tool_calls
    prompt_tokens: int
    completion_tokens: int
    tool_calls: tuple[ToolCall, ...] = field(default=())


def render_template(template: str, prompt: Prompt) -> str:
    """Replace ``{{ name }}`` markers; names are checked when the scenario loads."""
    values = {
        "last_user": prompt.last_user,
        "model": prompt.model,
        "seed": str(prompt.seed),
        "request_number": str(prompt.request_number),
    }
    return _TEMPLATE_VAR.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def compose(
    prompt: Prompt, *, respond: Respond | None, output_fault: str | None, default_text: str | None
) -> Answer:
    """Build the answer for ``prompt`` following ``respond`` and an optional output fault."""
    if respond is not None and respond.tool_calls is not None:
        return _tool_answer(prompt, respond)
    if output_fault in JSON_FAULTS:
        value = respond.json_ if respond is not None and respond.json_ is not None else _json_value(prompt)
        return _json_fault(prompt, value, output_fault)
    if respond is None:
        if prompt.json_schema is not None or prompt.wants_json:
            text = json.dumps(_json_value(prompt))
        else:
            text = (default_text or DEFAULT_TEXT).replace("{model}", prompt.model)
    elif respond.json_ is not None:
        text = json.dumps(respond.json_)
    elif respond.template is not None:
        text = render_template(respond.template, prompt)
    else:
        text = respond.text or ""
    return _text_answer(prompt, text)


def _json_value(prompt: Prompt) -> Any:
    return instance_of(prompt.json_schema) if prompt.json_schema is not None else DEFAULT_JSON


def _text_answer(prompt: Prompt, text: str, *, finish: str = "stop") -> Answer:
    pieces = split_pieces(text)
    if prompt.max_tokens is not None and len(pieces) > prompt.max_tokens:
        pieces, finish = pieces[: prompt.max_tokens], "length"
        text = "".join(pieces)
    return Answer(text, tuple(pieces), finish, prompt.prompt_tokens, len(pieces) if text else 0)


def _json_fault(prompt: Prompt, value: Any, fault: str) -> Answer:
    body = json.dumps(value, indent=2)
    if fault == "json-prose":
        return _text_answer(
            prompt, f"Sure! Here is the JSON you asked for:\n{body}\nLet me know if you need more."
        )
    if fault == "json-fenced":
        return _text_answer(prompt, f"```json\n{body}\n```")
    if fault == "json-trailing-comma":
        return _text_answer(prompt, _add_trailing_commas(body))
    cut = body[: max(1, len(body) // 2)]
    pieces = split_pieces(cut)
    return Answer(cut, tuple(pieces), "length", prompt.prompt_tokens, len(pieces))


def _add_trailing_commas(body: str) -> str:
    """Insert a comma before each closing bracket that follows a value, as sloppy models do."""
    return re.sub(r"([\"\d\]}el])(\s*)([}\]])", r"\1,\2\3", body)


def _tool_answer(prompt: Prompt, respond: Respond) -> Answer:
    if respond.tool_calls == "auto":
        if prompt.tools:
            name, schema = prompt.tools[0]
            specs = [(name, instance_of(schema) if schema else {})]
        else:
            specs = [DEFAULT_TOOL]
    else:
        specs = [(spec.name, spec.arguments) for spec in respond.tool_calls or ()]
    calls = tuple(
        ToolCall(_key(prompt, i), name, json.dumps(args, separators=(",", ":")))
        for i, (name, args) in enumerate(specs)
    )
    used = sum(count_tokens(c.name) + count_tokens(c.arguments) + 1 for c in calls)
    return Answer("", (), "tool_calls", prompt.prompt_tokens, used, calls)


def _key(prompt: Prompt, index: int) -> str:
    digest = hashlib.sha256(f"{prompt.seed}/{prompt.request_number}/{index}".encode()).hexdigest()
    return digest[:24]

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
JSON_FAULTS = frozenset(
    {"json-prose", "json-fenced", "json-trailing-comma", "json-truncated", "json-wrong-types"}
)
OUTPUT_FAULTS = JSON_FAULTS | {"content-filter-finish"}
"""Faults that change the answer rather than the transport or the status."""
TOOL_RESULT_REPLY = "The tool returned: {result}"
"""What ``tool_calls: auto`` says once the conversation holds the tool's result (so agent loops end)."""
_REPLY_CHARS = 1000


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
    json_hint: Any = None
    """For ``json_object`` requests: a value shaped by the schema or example found in the prompt."""
    stop: tuple[str, ...] = ()
    """Stop sequences: the answer ends before the first one it contains."""
    tool_results: tuple[str, ...] = ()
    """Tool results sent since the last user message (the current turn of an agent loop)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """One complete answer; ``pieces`` are the streamed fragments and join to ``text``."""

    text: str
    pieces: tuple[str, ...]
    finish: str  # OpenAI vocabulary: stop, length, tool_calls
    prompt_tokens: int
    completion_tokens: int
    tool_calls: tuple[ToolCall, ...] = field(default=())
    stop_sequence: str | None = None
    """The stop sequence that ended the answer, if one did."""


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
    if output_fault == "content-filter-finish":
        return _filtered(compose(prompt, respond=respond, output_fault=None, default_text=default_text))
    if respond is not None and respond.tool_calls is not None:
        if respond.tool_calls == "auto" and prompt.tool_results:
            result = prompt.tool_results[-1][:_REPLY_CHARS]
            return _text_answer(prompt, TOOL_RESULT_REPLY.format(result=result))
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
    if prompt.json_schema is not None:
        return instance_of(prompt.json_schema)
    return prompt.json_hint if prompt.json_hint is not None else DEFAULT_JSON


def _filtered(answer: Answer) -> Answer:
    """The first half of ``answer``, ended by the provider's content filter (a 200, not an error)."""
    pieces = answer.pieces[: len(answer.pieces) // 2]
    return Answer("".join(pieces), pieces, "content_filter", answer.prompt_tokens, len(pieces))


def _cut_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, str | None]:
    hits = [(text.find(s), s) for s in stop if s and s in text]
    if not hits:
        return text, None
    at, sequence = min(hits)
    return text[:at], sequence


def _text_answer(prompt: Prompt, text: str, *, finish: str = "stop") -> Answer:
    text, sequence = _cut_at_stop(text, prompt.stop)
    pieces = split_pieces(text)
    if prompt.max_tokens is not None and len(pieces) > prompt.max_tokens:
        pieces, finish, sequence = pieces[: prompt.max_tokens], "length", None
        text = "".join(pieces)
    used = len(pieces) if text else 0
    return Answer(text, tuple(pieces), finish, prompt.prompt_tokens, used, stop_sequence=sequence)


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
    if fault == "json-wrong-types":
        return _text_answer(prompt, json.dumps(_wrong_types(value)))
    cut = body[: max(1, len(body) // 2)]
    pieces = split_pieces(cut)
    return Answer(cut, tuple(pieces), "length", prompt.prompt_tokens, len(pieces))


def _wrong_types(value: Any) -> Any:
    """Numbers and booleans as strings, one-item lists as their item: the near misses models make."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        items = [_wrong_types(v) for v in value]
        return items[0] if len(items) == 1 else items
    if isinstance(value, dict):
        return {k: _wrong_types(v) for k, v in value.items()}
    return value


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

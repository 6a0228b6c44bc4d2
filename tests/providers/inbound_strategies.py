"""Hypothesis strategies for the inbound-codec round trips: requests the builders encode losslessly."""

from __future__ import annotations

from typing import Any

import pydantic_core
from hypothesis import strategies as st

from steadyhand.types import ImagePart, Message, ModelRequest, Part, ResponseFormat, TextPart, Tool, ToolCall

NAMES = st.from_regex(r"[a-zA-Z0-9_-]{1,20}", fullmatch=True).filter(
    lambda n: n not in ("auto", "none", "required")
)
TEXT = st.text(max_size=30)
NONEMPTY = st.text(min_size=1, max_size=30).filter(lambda t: t == t.rstrip())
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=10,
)
SCHEMAS = st.dictionaries(TEXT, JSON, max_size=3)
IMAGES = st.builds(
    ImagePart, url=st.sampled_from(["https://x.test/a.png", "data:image/png;base64,iVBORw0KGgo="])
)


def extras(known: frozenset[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(
        st.text(min_size=1, max_size=12).filter(lambda k: k not in known), JSON, max_size=3
    )


def _calls() -> st.SearchStrategy[list[ToolCall]]:
    args = st.dictionaries(TEXT, JSON, max_size=3).map(lambda d: pydantic_core.to_json(d).decode())
    return st.lists(st.builds(ToolCall, id=NAMES, name=NAMES, arguments=args), min_size=1, max_size=2)


TOOLS = st.lists(
    st.builds(Tool, name=NAMES, description=st.none() | TEXT, parameters=SCHEMAS), min_size=1, max_size=3
)
TOOL_CHOICES = st.none() | st.sampled_from(["auto", "none", "required"]) | NAMES
STOPS = st.none() | st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=4)


# OpenAI chat ---------------------------------------------------------------------------------------


def _openai_parts(images: bool) -> st.SearchStrategy[list[Part]]:
    part: st.SearchStrategy[Part] = st.builds(TextPart, text=TEXT)
    if images:
        part = (
            part
            | IMAGES
            | st.builds(
                ImagePart,
                url=st.just("https://x.test/b.jpg"),
                detail=st.sampled_from(["low", "high", "auto"]),
            )
        )
    return st.lists(part, min_size=1, max_size=3)  # OpenAI refuses an empty content array


OPENAI_MESSAGES = st.one_of(
    st.builds(
        Message,
        role=st.sampled_from(["system", "user"]),
        content=TEXT | _openai_parts(False),
        name=st.none() | NAMES,
    ),
    st.builds(Message, role=st.just("user"), content=_openai_parts(True)),
    st.builds(Message, role=st.just("assistant"), content=st.none() | TEXT, tool_calls=st.none() | _calls()),
    st.builds(Message, role=st.just("tool"), content=TEXT, tool_call_id=NAMES),
)
OPENAI_FORMATS = (
    st.none()
    | st.just(ResponseFormat(type="json_object"))
    | st.builds(
        ResponseFormat,
        type=st.just("json_schema"),
        json_schema=SCHEMAS,
        name=NAMES,
        strict=st.none() | st.booleans(),
    )
)
CHAT_KEYS = frozenset(
    {"model", "messages", "temperature", "top_p", "max_tokens", "max_completion_tokens", "stop", "seed", "n"}
    | {"tools", "tool_choice", "response_format", "stream", "stream_options", "presence_penalty"}
    | {"frequency_penalty", "prompt"}
)


def _no_orphan_choice(r: ModelRequest) -> ModelRequest:
    """Both APIs refuse a tool_choice without tools."""
    return r if r.tools else r.model_copy(update={"tool_choice": None})


def openai_requests(*, chat: bool = True) -> st.SearchStrategy[ModelRequest]:
    messages = (
        OPENAI_MESSAGES
        if chat
        else OPENAI_MESSAGES.filter(lambda m: not isinstance(m.content, list) and not m.tool_calls)
    )
    return st.builds(
        ModelRequest,
        model=NAMES,
        messages=st.lists(messages, min_size=1, max_size=4),
        temperature=st.none() | st.floats(0, 2),
        top_p=st.none() | st.floats(0, 1),
        max_tokens=st.none() | st.integers(1, 2**31),
        # legacy completions add "\nUser:" to the stops, and OpenAI takes at most 4
        stop=STOPS if chat else st.none() | st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=3),
        seed=st.none() | st.integers(-(2**63), 2**63 - 1),
        n=st.none() | st.integers(1, 128),
        tools=st.none() | TOOLS if chat else st.none(),
        tool_choice=TOOL_CHOICES if chat else st.none(),
        response_format=OPENAI_FORMATS if chat else st.none(),
        extra=extras(CHAT_KEYS),
    ).map(_no_orphan_choice)


# Anthropic -----------------------------------------------------------------------------------------

ANTHROPIC_KEYS = frozenset(
    {"model", "max_tokens", "messages", "system", "temperature", "top_p", "stop_sequences", "stream"}
    | {"tools", "tool_choice", "top_k"}
)
_MANY_PARTS = st.lists(st.builds(TextPart, text=NONEMPTY) | IMAGES, min_size=2, max_size=3)


@st.composite
def _conversation(draw: st.DrawFn) -> list[Message]:
    """Alternating user/assistant turns; an assistant's tool calls are answered by tool messages."""
    out: list[Message] = []
    if draw(st.booleans()):
        out.append(Message(role="system", content=draw(NONEMPTY)))
    turns = draw(st.integers(1, 3))
    for turn in range(turns):
        pending = [m for m in out[-1:] if m.tool_calls] if out else []
        for call in pending[0].tool_calls or () if pending else ():
            content = draw(st.none() | NONEMPTY | _MANY_PARTS)
            out.append(Message(role="tool", tool_call_id=call.id, content=content))
        out.append(Message(role="user", content=draw(NONEMPTY | _MANY_PARTS)))
        if turn < turns - 1 or draw(st.booleans()):  # roles alternate: the builder merges neighbours
            calls = draw(st.none() | _calls())
            text = draw(NONEMPTY) if calls is None else draw(st.none() | NONEMPTY)
            out.append(Message(role="assistant", content=text, tool_calls=calls))
    return out


def anthropic_requests() -> st.SearchStrategy[ModelRequest]:
    return st.builds(
        ModelRequest,
        model=NAMES,
        messages=_conversation(),
        temperature=st.none() | st.floats(0, 1),
        top_p=st.none() | st.floats(0, 1),
        max_tokens=st.integers(1, 2**31),
        stop=STOPS,
        tools=st.none() | TOOLS,
        tool_choice=TOOL_CHOICES,
        extra=extras(ANTHROPIC_KEYS),
    ).map(_no_orphan_choice)


_LOOSE = st.one_of(
    st.builds(Message, role=st.just("system"), content=NONEMPTY),
    st.builds(
        Message,
        role=st.just("user"),
        content=NONEMPTY | st.lists(st.builds(TextPart, text=NONEMPTY) | IMAGES, min_size=1, max_size=3),
    ),
    st.builds(Message, role=st.just("assistant"), content=NONEMPTY, tool_calls=st.none() | _calls()),
    st.builds(Message, role=st.just("tool"), tool_call_id=NAMES, content=st.none() | NONEMPTY),
)


def loose_anthropic_requests() -> st.SearchStrategy[ModelRequest]:
    """Any order of roles: the builder merges neighbours and hoists system text; compare wire bodies."""
    return st.builds(
        ModelRequest,
        model=NAMES,
        messages=st.lists(_LOOSE, min_size=1, max_size=6).filter(
            lambda ms: any(m.role != "system" for m in ms)
        ),
        max_tokens=st.integers(1, 100),
        extra=extras(ANTHROPIC_KEYS),
    )


# OpenAI Responses API -------------------------------------------------------------------------------

RESPONSES_KEYS = frozenset(
    {"model", "input", "instructions", "tools", "tool_choice", "text", "temperature", "top_p"}
    | {"max_output_tokens", "stream", "stream_options", "previous_response_id", "conversation"}
    | {"prompt", "background"}
)
_RESPONSES_PARTS = st.lists(
    st.builds(TextPart, text=TEXT)
    | st.builds(
        ImagePart, url=st.just("https://x.test/c.png"), detail=st.sampled_from(["low", "high", "auto"])
    ),
    max_size=3,
)
_RESPONSES_MESSAGES = st.one_of(
    st.builds(Message, role=st.sampled_from(["system", "user"]), content=TEXT | _RESPONSES_PARTS),
    st.builds(Message, role=st.just("assistant"), content=TEXT, tool_calls=st.none() | _calls()),
    st.builds(Message, role=st.just("assistant"), content=st.none(), tool_calls=_calls()),
    st.builds(Message, role=st.just("tool"), content=TEXT, tool_call_id=NAMES),
)


def _no_adjacent_assistants(messages: list[Message]) -> bool:
    """Input items are flat: a function_call after an assistant message belongs to it."""
    return not any(a.role == b.role == "assistant" for a, b in zip(messages, messages[1:], strict=False))


def responses_requests() -> st.SearchStrategy[ModelRequest]:
    """Requests the Responses builder encodes losslessly (no stop, seed, n or message names)."""
    return st.builds(
        ModelRequest,
        model=NAMES,
        messages=st.lists(_RESPONSES_MESSAGES, min_size=1, max_size=5).filter(_no_adjacent_assistants),
        temperature=st.none() | st.floats(0, 2),
        top_p=st.none() | st.floats(0, 1),
        max_tokens=st.none() | st.integers(16, 2**31),
        tools=st.none() | TOOLS,
        tool_choice=TOOL_CHOICES,
        response_format=OPENAI_FORMATS,
        extra=extras(RESPONSES_KEYS),
    )

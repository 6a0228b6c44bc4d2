"""What a request's conversation says, for rule matching and answers: the last user text, the role of
the last message and the tool results of the current turn, read alike from both wire formats.

A tool result counts as role ``tool`` on both wires (Anthropic sends it as a user message made of
``tool_result`` blocks), so one scenario rule matches an agent loop whichever API it speaks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..types import Message
from .tokens import content_text


@dataclass(frozen=True, slots=True)
class Conversation:
    """Facts about one request's messages."""

    last_user: str
    """Text of the last user message that is not only tool results ("" when there is none)."""
    last_role: str | None
    """Role of the last message; ``tool`` when it carries tool results."""
    tool_results: tuple[str, ...]
    """Text of each tool result sent after ``last_user`` (the current turn of an agent loop)."""
    instructions: tuple[str, ...]
    """System and user texts, where a client states the JSON shape it wants."""


def _anthropic_results(content: Any) -> list[str] | None:
    """The tool results of an Anthropic user message, or None when it holds anything else too."""
    if not isinstance(content, list) or not content:
        return None
    results = []
    for block in content:
        if not isinstance(block, dict) or block.get("type") != "tool_result":
            return None
        results.append(content_text(block.get("content")))
    return results


def openai_conversation(messages: list[Any]) -> Conversation:
    """Facts of a chat ``messages`` array (roles ``tool`` and legacy ``function`` are tool results)."""
    last_user, results, instructions = "", [], []
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role in ("tool", "function"):
            results.append(content_text(message.get("content")))
        elif role == "user":
            last_user, results = content_text(message.get("content")), []
        if role in ("system", "developer", "user"):
            instructions.append(content_text(message.get("content")))
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    role = last.get("role")
    last_role = "tool" if role == "function" else role if isinstance(role, str) else None
    return Conversation(last_user, last_role, tuple(results), tuple(instructions))


def anthropic_conversation(messages: list[Any], *, system: Any = None) -> Conversation:
    """Facts of a Messages ``messages`` array; a user turn of only ``tool_result`` blocks is a tool turn."""
    last_user, results = "", []
    instructions = [content_text(system)] if system else []
    last_role: str | None = None
    for message in messages:
        if not isinstance(message, dict):
            last_role = None
            continue
        role, content = message.get("role"), message.get("content")
        last_role = role if isinstance(role, str) else None
        if role != "user":
            continue
        tool_results = _anthropic_results(content)
        if tool_results is not None:
            results.extend(tool_results)
            last_role = "tool"
        else:
            last_user, results = content_text(content), []
            instructions.append(last_user)
    return Conversation(last_user, last_role, tuple(results), tuple(instructions))


def request_conversation(messages: list[Message]) -> Conversation:
    """Facts of decoded messages (a ``ModelRequest``'s), for wires whose bodies are not chat-shaped
    (the Responses API's input items): a ``tool`` message is a tool result."""
    last_user, results, instructions = "", [], []
    for message in messages:
        if message.role == "tool":
            results.append(message.text)
        elif message.role == "user":
            last_user, results = message.text, []
        if message.role in ("system", "user"):
            instructions.append(message.text)
    last_role = messages[-1].role if messages else None
    return Conversation(last_user, last_role, tuple(results), tuple(instructions))

"""Normalized request and response types, the same whatever provider answers.

Adapters translate between these and each provider's wire format; the tracer stores them as they are.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Chunk",
    "Choice",
    "FinishReason",
    "ImagePart",
    "Message",
    "ModelRequest",
    "ModelResponse",
    "Part",
    "ResponseFormat",
    "Role",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "Usage",
]

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "refusal", "pause", "unknown"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=False, extra="forbid", defer_build=True)


class TextPart(_Model):
    """A piece of text in a multi-part message."""

    type: Literal["text"] = "text"
    text: str


class ImagePart(_Model):
    """An image, by URL or ``data:`` URL (base64)."""

    type: Literal["image"] = "image"
    url: str
    detail: Literal["auto", "low", "high"] | None = None


Part = TextPart | ImagePart


class ToolCall(_Model):
    """A function call the model asked for; ``arguments`` is the raw JSON text the model wrote."""

    id: str
    name: str
    arguments: str


class Message(_Model):
    """One conversation turn."""

    role: Role
    content: str | list[Part] | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    """For ``role="tool"``: the id of the call this message answers."""
    name: str | None = None
    reasoning: str | None = None
    """An assistant's reasoning summary, when the provider returns one (the Responses API's
    ``reasoning`` items); informational: adapters do not send it back."""

    @property
    def text(self) -> str:
        """The message's text, parts joined; empty when it has none."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


class Tool(_Model):
    """A function the model may call; ``parameters`` is its JSON schema."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ResponseFormat(_Model):
    """What shape the answer must take: free text, any JSON object, or JSON matching a schema."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: dict[str, Any] | None = None
    name: str = "response"
    strict: bool | None = None


class ModelRequest(_Model):
    """A provider-neutral chat request; ``model`` is the provider's own (pinned) model name."""

    model: str
    messages: list[Message]
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] | None = None
    seed: int | None = None
    n: int | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["auto", "none", "required"] | str | None = None
    """``auto``/``none``/``required``, or a tool's name to force that tool."""
    response_format: ResponseFormat | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    """Provider-specific body fields passed through untouched."""


class Usage(_Model):
    """Token counts in one convention: ``input_tokens`` includes cached and cache-write tokens.

    ``None`` means the provider did not report a count; ``0`` means it reported zero.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    estimated: bool = False
    """True when the provider sent no usage and steadyhand counted tokens itself."""
    raw: dict[str, Any] | None = None
    """The provider's usage object exactly as it was sent."""

    @property
    def total_tokens(self) -> int | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)


class Choice(_Model):
    """One alternative answer (``n`` > 1 gives several)."""

    index: int = 0
    message: Message
    finish_reason: FinishReason = "stop"
    raw_finish_reason: str | None = None
    """The provider's own word, e.g. Anthropic's ``end_turn``."""


class ModelResponse(_Model):
    """A complete answer."""

    id: str
    model: str
    """The model that answered, as the provider named it."""
    provider: str
    choices: list[Choice]
    usage: Usage = Field(default_factory=Usage)
    created: int | None = None
    route: Any = Field(default=None, exclude=True, repr=False)
    """The policies' decision record (:class:`steadyhand.policies.Route`) when a policy answered;
    not part of the response's JSON."""
    degraded: bool = Field(default=False, exclude=True)
    """True when no provider could answer and this is the alias's degraded answer (docs/policies.md);
    not part of the response's JSON."""

    @property
    def message(self) -> Message:
        return self.choices[0].message

    @property
    def text(self) -> str:
        """The first choice's text."""
        return self.choices[0].message.text if self.choices else ""

    @property
    def finish_reason(self) -> FinishReason:
        return self.choices[0].finish_reason if self.choices else "unknown"

    @property
    def truncated(self) -> bool:
        """True when the answer stopped at ``max_tokens`` and is not complete."""
        return self.finish_reason == "length"


class ToolCallDelta(_Model):
    """A fragment of a streamed tool call; ``id`` and ``name`` come on the first fragment only."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


class Chunk(_Model):
    """One streamed event, normalized: text, tool-call fragments, a finish reason, or usage.

    On a coalesced stream (``complete_stream(..., coalesce=True)``) one chunk may stand for several
    plain text events that arrived together; ``raw_events`` then holds their bytes as the provider sent
    them, so a gateway answering in the same format can relay them instead of encoding the chunk again.
    """

    index: int = 0
    text: str = ""
    tool_calls: list[ToolCallDelta] | None = None
    finish_reason: FinishReason | None = None
    raw_finish_reason: str | None = None
    usage: Usage | None = None
    id: str | None = None
    model: str | None = None
    raw_events: bytes | None = Field(default=None, exclude=True, repr=False)
    """OpenAI chat ``data:`` events (each ``data: {...}\\n\\n``) this chunk's text came in: no role
    other than the assistant's, no finish, usage, tool call or refusal; never stored or traced."""

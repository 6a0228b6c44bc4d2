"""OpenAI legacy Completions (``POST {base_url}/completions``) behind the same chat call.

The strategy-pattern case: a completion-style model answers a chat request. The chat is rendered
into one prompt with a fixed, simple template::

    <system text>            (system messages, joined by blank lines; omitted when there are none)
    User: <text>
    Assistant: <text>
    Tool: <text>             (a tool result)
    Assistant:

and ``"\\nUser:"`` is added to the stop sequences so the model does not write the user's next turn.
A final assistant message is a prefill: the prompt ends with ``Assistant: <prefill>`` and the answer
is its continuation. Tools and images cannot be expressed in a plain prompt and are refused; a
response format is left to the structured-output layer (the legacy endpoint has none).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ..errors import ConfigurationError, UnexpectedProviderResponse
from ..types import Choice, Message, ModelRequest, ModelResponse
from ._common import as_int
from ._openai_stream import OpenAIStreamDecoder, openai_finish
from .base import HTTPRequest, HTTPResponse
from .openai_chat import OpenAIWire

__all__ = ["USER_STOP", "OpenAICompletions", "render_prompt"]

USER_STOP = "\nUser:"
MAX_STOP = 4
"""The legacy API's limit on stop sequences (``CreateCompletionRequest.stop``: at most 4)."""
_LABELS = {"user": "User", "assistant": "Assistant", "tool": "Tool"}


def render_prompt(messages: list[Message]) -> str:
    """The prompt a completion model continues, in the template of the module docstring."""
    system = [m.text for m in messages if m.role == "system"]
    turns = [m for m in messages if m.role != "system"]
    lines = ["\n\n".join(system)] if system else []
    for m in turns:
        if isinstance(m.content, list) and any(p.type == "image" for p in m.content):
            raise ConfigurationError(
                "a legacy completions model cannot take images; use a chat model for image input"
            )
        lines.append(f"{_LABELS[m.role]}: {m.text}")
    if not turns or turns[-1].role != "assistant":
        lines.append("Assistant:")
    return "\n".join(lines)


class OpenAICompletions(OpenAIWire):
    """``/completions``: base_url like ``https://api.openai.com/v1``."""

    name: ClassVar[str] = "openai_completions"
    path: ClassVar[str] = "/completions"

    def build_request(self, request: ModelRequest, *, stream: bool) -> HTTPRequest:
        if request.tools:
            raise ConfigurationError(
                f"{request.model} is a legacy completions model and cannot call tools; "
                "use a chat model for tool calling"
            )
        stop = list(request.stop or ())
        if USER_STOP not in stop:
            if len(stop) >= MAX_STOP:
                raise ConfigurationError(
                    f"{request.model} is a legacy completions model: the API takes at most {MAX_STOP} stop "
                    f"sequences and steadyhand adds {USER_STOP!r} to end the answer's turn; pass at most "
                    f"{MAX_STOP - 1} (got {len(stop)})"
                )
            stop.append(USER_STOP)
        body: dict[str, Any] = {
            "model": request.model,
            "prompt": render_prompt(request.messages),
            "stop": stop,
        }
        return HTTPRequest("POST", self.url, self.headers, self._common_body(request, body, stream=stream))

    def parse_response(self, response: HTTPResponse, request: ModelRequest) -> ModelResponse:
        obj = self._checked(response, request)
        choices = []
        for i, c in enumerate(obj["choices"]):
            text = c.get("text") if isinstance(c, dict) else None
            if not isinstance(text, str):
                raise UnexpectedProviderResponse(
                    f"completion choice {i} has no text", provider=self.provider_name, model=request.model
                )
            finish, raw_finish = openai_finish(c.get("finish_reason"))
            choices.append(
                Choice(
                    index=as_int(c.get("index")) or i,
                    message=Message(role="assistant", content=text),
                    finish_reason=finish or "unknown",
                    raw_finish_reason=raw_finish,
                )
            )
        return self._response(obj, request, choices)

    def stream_decoder(self, request: ModelRequest) -> OpenAIStreamDecoder:
        return OpenAIStreamDecoder(self, request.model, text_key="text")

"""Capability-aware fallback: a target that cannot take the request is skipped without a request.

A fallback is only useful if it can answer what was asked. Sending a request with a final assistant
message (prefill) to a model that rejects prefill, tools to a server without tools, or a JSON mode
to one without it, costs an attempt and a slice of the deadline for a certain refusal; so the
policies check the target provider's :class:`~steadyhand.providers.base.Capabilities` first and
record the target as ``skipped`` with the reason. The alias's own target is always tried (its
adapter shapes what it can and the provider's answer says the rest).
"""

from __future__ import annotations

from ..providers.base import Capabilities
from ..types import ModelRequest

__all__ = ["unfit"]


def unfit(request: ModelRequest, capabilities: Capabilities, *, json_from_text: bool = False) -> str | None:
    """Why a target with ``capabilities`` cannot take ``request`` (``None``: it can).

    ``json_from_text``: the caller reads JSON out of plain text (structured output), so a target
    without a JSON mode can still answer a JSON request; the caller notes the weaker mode.
    """
    if request.messages and request.messages[-1].role == "assistant" and not capabilities.assistant_prefill:
        return "no assistant prefill"
    if request.tools and not capabilities.tools:
        return "no tools"
    wanted = None if request.response_format is None else request.response_format.type
    if wanted in ("json_object", "json_schema") and not json_from_text:
        formats = capabilities.response_formats
        if not formats & {"json_object", "json_schema", "json_object_schema"}:
            return "no JSON mode"
    return None

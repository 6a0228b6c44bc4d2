"""Fitting a valid request to what one target can honour: refuse it, or drop a field and say so.

The rule, per parameter a target lacks (its :class:`~steadyhand.Capabilities`):

- ``n`` above 1 is refused: silently answering once when several answers were asked for breaks the
  caller. ``n=1`` is dropped (it is the default everywhere).
- ``seed`` is dropped: it is best-effort reproducibility even where supported.

Dropped fields are noted on the call's span (``steadyhand.dropped``), never dropped silently. No I/O.
"""

from __future__ import annotations

from ..errors import InvalidRequest
from ..types import ModelRequest
from .base import Capabilities

__all__ = ["shape_request"]


def shape_request(request: ModelRequest, caps: Capabilities, provider: str) -> tuple[ModelRequest, list[str]]:
    """``request`` fitted to ``caps``, and the names of the fields that were dropped."""
    dropped: list[str] = []
    changes: dict[str, object] = {}
    if request.n is not None and not caps.n:
        if request.n > 1:
            raise InvalidRequest(
                f"n={request.n}: {provider} returns one answer per call; drop n and call several times, "
                "or use a provider that supports n",
                param="n",
            )
        changes["n"] = None
        dropped.append("n")
    if request.seed is not None and not caps.seed:
        changes["seed"] = None
        dropped.append("seed")
    if not changes:
        return request, dropped
    return request.model_copy(update=changes), dropped

"""The exact cache's key, and which requests and answers it may keep.

The key is a 256-bit BLAKE2b digest over canonical JSON of everything that changes the answer: the
resolved provider, its kind, the pinned model and the API, and the whole normalized request
(messages, every sampling parameter, tools, tool choice, response format, provider extras), plus
:data:`KEY_VERSION`. A request with free-form mappings (tools' schemas, a response format, extras)
is written with sorted keys, so their order does not matter; any other request has a fixed shape,
and pydantic writes it straight to JSON in field order (every cached call computes a key: this
skips building and sorting a dict). The alias is not in it: two aliases that resolve to the same target share
answers. Bump :data:`KEY_VERSION` whenever what goes into the key, or how an entry is stored,
changes: old entries then simply stop matching.

A request with ``temperature > 0`` asks for a sample, so it is not cached unless the alias says
``cache = { sampled = true }``: repeated sampled calls stay distinct. (No temperature means the
provider's default and is cached: pass one above 0 to mark a call as sampled.)
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

import orjson

from ..types import ModelRequest, ModelResponse

if TYPE_CHECKING:
    from .._config import Target

__all__ = ["KEY_VERSION", "cache_key", "keepable", "skip_reason"]

KEY_VERSION = 2
"""Part of every key: bump it when the key's inputs or the stored entry change shape."""

_UNFINISHED = frozenset({"length", "content_filter", "refusal", "pause", "unknown"})


def cache_key(target: Target, request: ModelRequest, *, kind: str | None = None) -> str:
    """The hex key of ``request`` sent to ``target`` (``kind``: the provider's kind, when known)."""
    if not request.extra and request.tools is None and request.response_format is None:
        head = orjson.dumps([KEY_VERSION, target.provider, kind, target.model, target.api])
        fixed = request.__pydantic_serializer__.to_json(request, exclude={"model"})
        return hashlib.blake2b(head + fixed, digest_size=32).hexdigest()
    body = request.model_dump(mode="json", exclude={"model"})
    identity = {
        "v": KEY_VERSION,
        "provider": target.provider,
        "kind": kind,
        "model": target.model,
        "api": target.api,
        "request": body,
    }
    try:
        canonical = orjson.dumps(identity, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an integer past 64 bits in a provider extra: the stdlib writes any int
        canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.blake2b(canonical, digest_size=32).hexdigest()


def skip_reason(request: ModelRequest, *, sampled: bool) -> str | None:
    """Why ``request`` must not be looked up or stored (``None``: it may)."""
    if not sampled and request.temperature is not None and request.temperature > 0:
        return "sampled"
    return None


def keepable(response: ModelResponse) -> bool:
    """Whether ``response`` is a complete answer worth replaying (not truncated, filtered, degraded)."""
    if getattr(response, "degraded", False) or not response.choices:
        return False
    return all(choice.finish_reason not in _UNFINISHED for choice in response.choices)

"""The exact cache's key, and which requests and answers it may keep.

The key is a 256-bit BLAKE2b digest over canonical JSON (sorted keys, no whitespace) of everything
that changes the answer: the resolved provider, its kind, the pinned model and the API, and the whole
normalized request (messages, every sampling parameter, tools, tool choice, response format, provider
extras), plus :data:`KEY_VERSION`. orjson writes the request's fields as they are (:func:`fields_of`
for each nested model), not a ``model_dump``: every cached call computes a key, and pydantic's
serializer costs several times more for what is already plain data. The alias is not in it: two
aliases that resolve to the same target share answers. Bump :data:`KEY_VERSION` whenever what goes
into the key, or how an entry is stored, changes: old entries then simply stop matching.

A request with ``temperature > 0`` asks for a sample, so it is not cached unless the alias says
``cache = { sampled = true }``: repeated sampled calls stay distinct. (No temperature means the
provider's default and is cached: pass one above 0 to mark a call as sampled.)
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel

from ..types import ModelRequest, ModelResponse

if TYPE_CHECKING:
    from .._config import Target

__all__ = ["KEY_VERSION", "cache_key", "fields_of", "keepable", "skip_reason"]

KEY_VERSION = 2
"""Part of every key: bump it when the key's inputs or the stored entry change shape."""

_UNFINISHED = frozenset({"length", "content_filter", "refusal", "pause", "unknown"})


def cache_key(target: Target, request: ModelRequest, *, kind: str | None = None) -> str:
    """The hex key of ``request`` sent to ``target`` (``kind``: the provider's kind, when known)."""
    body = dict(request.__dict__)
    del body["model"]
    identity = {
        "v": KEY_VERSION,
        "provider": target.provider,
        "kind": kind,
        "model": target.model,
        "api": target.api,
        "request": body,
    }
    try:
        canonical = orjson.dumps(identity, default=fields_of, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an integer past 64 bits in a provider extra: the stdlib writes any int
        canonical = json.dumps(
            identity, default=fields_of, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    return hashlib.blake2b(canonical, digest_size=32).hexdigest()


def fields_of(value: object) -> dict[str, Any]:
    """A nested model's fields, for orjson's ``default`` (any other type is not JSON: TypeError).

    The model classes seen are kept: ``isinstance`` against ``BaseModel`` goes through its
    metaclass's ``__instancecheck__`` in Python, and every key and every stored entry asks a few times."""
    cls = type(value)
    if cls in _MODEL_CLASSES:
        return value.__dict__
    if isinstance(value, BaseModel):
        _MODEL_CLASSES.add(cls)
        return value.__dict__
    raise TypeError(f"{cls.__name__} is not JSON")


_MODEL_CLASSES: set[type] = set()


def skip_reason(request: ModelRequest, *, sampled: bool) -> str | None:
    """Why ``request`` must not be looked up or stored (``None``: it may)."""
    if not sampled and request.temperature is not None and request.temperature > 0:
        return "sampled"
    return None


def keepable(response: ModelResponse) -> bool:
    """Whether ``response`` is a complete answer worth replaying (not truncated, filtered, degraded)."""
    if getattr(response, "degraded", False) or not response.choices:
        return False
    for choice in response.choices:  # noqa: SIM110 (a generator is an object more on every cached miss)
        if choice.finish_reason in _UNFINISHED:
            return False
    return True

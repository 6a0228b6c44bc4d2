"""steadyhand: the production harness for LLM features.

Names load lazily so ``import steadyhand`` stays fast; see ``__all__`` for the public API.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._config import Config, ProviderConfig
    from .client import AsyncClient, Client, Stream, AsyncStream
    from .errors import (
        AuthenticationFailed,
        BadRequest,
        ConfigurationError,
        ContentFiltered,
        ContextWindowExceeded,
        ModelNotFound,
        Overloaded,
        PrefillNotSupported,
        ProviderConnectionError,
        ProviderError,
        ProviderHTTPError,
        ProviderTimeout,
        QuotaExhausted,
        RateLimited,
        ServerError,
        SteadyhandError,
        StoreError,
        StreamInterrupted,
        UnexpectedProviderResponse,
    )
    from .providers.base import Capabilities, Provider, Timeouts
    from .types import (
        Chunk,
        Choice,
        ImagePart,
        Message,
        ModelRequest,
        ModelResponse,
        ResponseFormat,
        TextPart,
        Tool,
        ToolCall,
        Usage,
    )

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "AsyncClient": ".client",
    "AsyncStream": ".client",
    "Client": ".client",
    "Stream": ".client",
    "Config": "._config",
    "ProviderConfig": "._config",
    "Capabilities": ".providers.base",
    "Provider": ".providers.base",
    "Timeouts": ".providers.base",
}
for _name in (
    "Chunk Choice ImagePart Message ModelRequest ModelResponse ResponseFormat TextPart Tool ToolCall Usage"
).split():
    _LAZY[_name] = ".types"
for _name in (
    "AuthenticationFailed BadRequest ConfigurationError ContentFiltered ContextWindowExceeded ModelNotFound "
    "Overloaded PrefillNotSupported ProviderConnectionError ProviderError ProviderHTTPError ProviderTimeout "
    "QuotaExhausted RateLimited ServerError SteadyhandError StoreError StreamInterrupted "
    "UnexpectedProviderResponse"
).split():
    _LAZY[_name] = ".errors"

__all__ = [
    "AsyncClient",
    "AsyncStream",
    "AuthenticationFailed",
    "BadRequest",
    "Capabilities",
    "Choice",
    "Chunk",
    "Client",
    "Config",
    "ConfigurationError",
    "ContentFiltered",
    "ContextWindowExceeded",
    "ImagePart",
    "Message",
    "ModelNotFound",
    "ModelRequest",
    "ModelResponse",
    "Overloaded",
    "PrefillNotSupported",
    "Provider",
    "ProviderConfig",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderTimeout",
    "QuotaExhausted",
    "RateLimited",
    "ResponseFormat",
    "ServerError",
    "SteadyhandError",
    "StoreError",
    "StreamInterrupted",
    "TextPart",
    "Timeouts",
    "Tool",
    "ToolCall",
    "UnexpectedProviderResponse",
    "Usage",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'steadyhand' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

"""steadyhand: the production harness for LLM features.

Names load lazily so ``import steadyhand`` stays fast; see ``__all__`` for the public API.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._config import Config, ProviderConfig
    from .client import AsyncClient, AsyncStream, Client, Stream
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
        Choice,
        Chunk,
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

_EXPORTS: dict[str, tuple[str, ...]] = {
    "._config": ("Config", "ProviderConfig"),
    ".client": ("AsyncClient", "AsyncStream", "Client", "Stream"),
    ".errors": (
        "AuthenticationFailed", "BadRequest", "ConfigurationError", "ContentFiltered",
        "ContextWindowExceeded",
        "ModelNotFound", "Overloaded", "PrefillNotSupported", "ProviderConnectionError", "ProviderError",
        "ProviderHTTPError", "ProviderTimeout", "QuotaExhausted", "RateLimited", "ServerError",
        "SteadyhandError", "StoreError", "StreamInterrupted", "UnexpectedProviderResponse",
    ),
    ".providers.base": ("Capabilities", "Provider", "Timeouts"),
    ".types": (
        "Choice", "Chunk", "ImagePart", "Message", "ModelRequest", "ModelResponse", "ResponseFormat",
        "TextPart", "Tool", "ToolCall", "Usage",
    ),
}  # fmt: skip
_LAZY = {name: module for module, names in _EXPORTS.items() for name in names}

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
    "Stream",
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

"""steadyhand: the production harness for LLM features.

This module is the public API: everything in ``__all__`` and nothing else. Heavy dependencies (httpx,
SQLAlchemy, the CLI's Rich and Typer) load when first used, not here.
"""

from __future__ import annotations

from ._config import Config, ModelAlias, ProviderConfig, Target, is_pinned
from ._validate import MessagesInput
from .client import AsyncClient, AsyncStream, Client, Stream
from .context import CallContext, OpenSpan
from .errors import (
    AuthenticationFailed,
    BadRequest,
    ConfigurationError,
    ContentFiltered,
    ContextWindowExceeded,
    InvalidRequest,
    ModelNotFound,
    OutputError,
    OutputParseError,
    Overloaded,
    PrefillNotSupported,
    PromptError,
    PromptRenderError,
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
    StructuredOutputError,
    UnexpectedProviderResponse,
)
from .prompts.prompt import Prompt
from .providers.base import Capabilities, Provider
from .providers.wrapper import WrapperProvider
from .timeouts import Timeouts
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
    ToolCallDelta,
    Usage,
)

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "AsyncStream",
    "AuthenticationFailed",
    "BadRequest",
    "CallContext",
    "Capabilities",
    "Choice",
    "Chunk",
    "Client",
    "Config",
    "ConfigurationError",
    "ContentFiltered",
    "ContextWindowExceeded",
    "ImagePart",
    "InvalidRequest",
    "Message",
    "MessagesInput",
    "ModelAlias",
    "ModelNotFound",
    "ModelRequest",
    "ModelResponse",
    "OpenSpan",
    "OutputError",
    "OutputParseError",
    "Overloaded",
    "PrefillNotSupported",
    "Prompt",
    "PromptError",
    "PromptRenderError",
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
    "StructuredOutputError",
    "Target",
    "TextPart",
    "Timeouts",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "UnexpectedProviderResponse",
    "Usage",
    "WrapperProvider",
    "is_pinned",
]

for _name in __all__:  # users see steadyhand.Config, not steadyhand._config.Config
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = __name__
del _name, _obj

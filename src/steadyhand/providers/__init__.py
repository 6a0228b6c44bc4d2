"""Provider adapters: the :class:`Provider` interface, the HTTP driver, and one I/O-free wire format
per provider API over a small transport interface.

This module is the curated surface; its submodules are the implementation. The httpx transports load
httpx, so they are imported when first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._common import assemble
from .anthropic import AnthropicMessages
from .base import (
    AsyncHTTPStream,
    AsyncTransport,
    Capabilities,
    HTTPRequest,
    HTTPResponse,
    HTTPStream,
    Provider,
    StreamDecoder,
    Transport,
    WireFormat,
)
from .capabilities import PROFILES
from .cassette import AsyncCassetteTransport, Cassette, CassetteMiss, CassetteTransport
from .http_provider import HTTPProvider
from .openai_chat import OpenAIChat
from .openai_completions import OpenAICompletions
from .registry import build_provider
from .shaping import shape_request
from .sse import SSEEvent, SSEParser
from .wrapper import WrapperProvider

if TYPE_CHECKING:
    from .http import AsyncHttpxTransport, HttpxTransport

__all__ = [
    "PROFILES",
    "AnthropicMessages",
    "AsyncCassetteTransport",
    "AsyncHTTPStream",
    "AsyncHttpxTransport",
    "AsyncTransport",
    "Capabilities",
    "Cassette",
    "CassetteMiss",
    "CassetteTransport",
    "HTTPProvider",
    "HTTPRequest",
    "HTTPResponse",
    "HTTPStream",
    "HttpxTransport",
    "OpenAIChat",
    "OpenAICompletions",
    "Provider",
    "SSEEvent",
    "SSEParser",
    "StreamDecoder",
    "Transport",
    "WireFormat",
    "WrapperProvider",
    "assemble",
    "build_provider",
    "shape_request",
]


def __getattr__(name: str) -> Any:
    if name in ("HttpxTransport", "AsyncHttpxTransport"):
        from . import http

        return getattr(http, name)
    raise AttributeError(f"module 'steadyhand.providers' has no attribute {name!r}")

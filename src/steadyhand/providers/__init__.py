"""Provider adapters: the :class:`Provider` interface, the HTTP driver, and one I/O-free wire format
per provider API over a small transport interface.

This module is the curated surface; its submodules are the implementation. The transports load their
HTTP library (httptools, aiohttp or httpx), so they are imported when first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_facade

if TYPE_CHECKING:
    from ._common import assemble as assemble
    from .anthropic import AnthropicMessages as AnthropicMessages
    from .base import (
        AsyncHTTPStream as AsyncHTTPStream,
    )
    from .base import (
        AsyncTransport as AsyncTransport,
    )
    from .base import (
        Capabilities as Capabilities,
    )
    from .base import (
        HTTPRequest as HTTPRequest,
    )
    from .base import (
        HTTPResponse as HTTPResponse,
    )
    from .base import (
        HTTPStream as HTTPStream,
    )
    from .base import (
        Provider as Provider,
    )
    from .base import (
        StreamDecoder as StreamDecoder,
    )
    from .base import (
        Transport as Transport,
    )
    from .base import (
        WireFormat as WireFormat,
    )
    from .capabilities import PROFILES as PROFILES
    from .cassette import (
        AsyncCassetteTransport as AsyncCassetteTransport,
    )
    from .cassette import (
        Cassette as Cassette,
    )
    from .cassette import (
        CassetteMiss as CassetteMiss,
    )
    from .cassette import (
        CassetteTransport as CassetteTransport,
    )
    from .http import AsyncHttpxTransport as AsyncHttpxTransport
    from .http import HttpxTransport as HttpxTransport
    from .http_aiohttp import AsyncAiohttpTransport as AsyncAiohttpTransport
    from .http_httptools import AsyncHttptoolsTransport as AsyncHttptoolsTransport
    from .http_provider import HTTPProvider as HTTPProvider
    from .http_sync import HttptoolsTransport as HttptoolsTransport
    from .openai_chat import OpenAIChat as OpenAIChat
    from .openai_completions import OpenAICompletions as OpenAICompletions
    from .openai_responses import OpenAIResponses as OpenAIResponses
    from .registry import build_provider as build_provider
    from .shaping import shape_request as shape_request
    from .sse import SSEEvent as SSEEvent
    from .sse import SSEParser as SSEParser
    from .wrapper import WrapperProvider as WrapperProvider

_HOME = {
    "._common": ("assemble",),
    ".anthropic": ("AnthropicMessages",),
    ".base": (
        "AsyncHTTPStream", "AsyncTransport", "Capabilities", "HTTPRequest", "HTTPResponse", "HTTPStream",
        "Provider", "StreamDecoder", "Transport", "WireFormat",
    ),
    ".capabilities": ("PROFILES",),
    ".cassette": ("AsyncCassetteTransport", "Cassette", "CassetteMiss", "CassetteTransport"),
    ".http": ("AsyncHttpxTransport", "HttpxTransport"),
    ".http_aiohttp": ("AsyncAiohttpTransport",),
    ".http_httptools": ("AsyncHttptoolsTransport",),
    ".http_sync": ("HttptoolsTransport",),
    ".http_provider": ("HTTPProvider",),
    ".openai_chat": ("OpenAIChat",),
    ".openai_completions": ("OpenAICompletions",),
    ".openai_responses": ("OpenAIResponses",),
    ".registry": ("build_provider",),
    ".shaping": ("shape_request",),
    ".sse": ("SSEEvent", "SSEParser"),
    ".wrapper": ("WrapperProvider",),
}  # fmt: skip
__all__, __getattr__, __dir__ = lazy_facade(__name__, globals(), _HOME)

"""The gateway: ``steadyhand serve``, an OpenAI- and Anthropic-compatible server over the library.

Any app, in any language, gets steadyhand's policies, tracing and cost control by changing only its
base URL. :class:`Gateway` is the application (routes, configuration, keys, metrics);
:class:`GatewayServer` puts it on a socket. See docs/gateway.md.
"""

from __future__ import annotations

from .configs import config_hash
from .gateway import Gateway, GatewayOptions, State
from .http import HttpLimits, Request, Responder
from .run import GatewayServer

__all__ = [
    "Gateway",
    "GatewayOptions",
    "GatewayServer",
    "HttpLimits",
    "Request",
    "Responder",
    "State",
    "config_hash",
]

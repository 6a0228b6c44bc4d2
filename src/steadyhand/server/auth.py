"""Who is calling: the API key on a request, the project it belongs to, and what it may do.

Keys arrive as ``Authorization: Bearer <key>`` (OpenAI clients) or ``x-api-key: <key>`` (Anthropic
clients). Without keys (``--no-auth`` or no key store) every caller is anonymous in the config's
project. The key store itself is :mod:`steadyhand.server.keys`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol as TypingProtocol

from .replies import Reply

__all__ = ["Authenticator", "Caller", "NoAuth", "Refused", "presented_key"]


@dataclass(frozen=True, slots=True)
class Caller:
    """The identity a request runs under (never the key itself)."""

    project: str
    key_id: str | None = None
    models: frozenset[str] | None = None
    """The models (aliases or ``provider:model``) the key may use; ``None``: every one."""
    rpm: int | None = None
    budget_usd: float | None = None
    period: str | None = None

    def allows(self, model: str) -> bool:
        return self.models is None or model in self.models


class Refused(Exception):
    """A request the gateway turns away before any upstream is asked; carries the answer."""

    def __init__(self, reply: Reply, reason: str = "auth") -> None:
        super().__init__(reply.status)
        self.reply = reply
        self.reason = reason
        """For the rejections metric: auth, model, rate or budget."""


class Authenticator(TypingProtocol):
    def identify(self, headers: Mapping[str, str], protocol: str) -> Caller:
        """The caller, or raise :class:`Refused` (401) for a missing, unknown or revoked key."""
        ...


class NoAuth:
    """Everyone is anonymous in one project (``--no-auth``, or loopback with no keys configured)."""

    def __init__(self, project: str) -> None:
        self.caller = Caller(project=project)

    def identify(self, headers: Mapping[str, str], protocol: str) -> Caller:
        return self.caller


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key from ``x-api-key`` or a ``Bearer`` authorization header."""
    key = headers.get("x-api-key")
    if key:
        return key.strip()
    auth = headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None

"""API keys for the gateway (placeholder until the key store lands): no keys, anonymous callers."""

from __future__ import annotations

from dataclasses import dataclass

from .._config import Config
from .admission import Admission, OpenAdmission
from .auth import Authenticator, NoAuth

__all__ = ["KeysNote", "auth_for"]


@dataclass(frozen=True, slots=True)
class KeysNote:
    keys: int

    def describe(self, no_auth: bool) -> str:
        if no_auth:
            return "off (--no-auth): anyone who can reach this port may call it"
        if not self.keys:
            return "off: no API keys configured, so listening on loopback only"
        return f"on: {self.keys} active key(s)"


def auth_for(config: Config, *, no_auth: bool) -> tuple[Authenticator, Admission, KeysNote]:
    return NoAuth(config.project), OpenAdmission(), KeysNote(0)

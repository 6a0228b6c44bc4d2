"""API keys: made once and shown once, stored as a SHA-256 only, checked in constant time.

A key reads ``sk-sh-<id>-<secret>``: the id finds the stored row without a search over hashes, and
``hmac.compare_digest`` compares the hashes, so a wrong key takes as long to refuse as a near miss.
:class:`KeyAuth` keeps the active keys in memory and re-reads the store every few seconds (a revoked
key stops working within ``refresh`` seconds); admission (rate and budget) is :mod:`.budgets`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._config import Config
from ..errors import ConfigurationError
from .admission import Admission, OpenAdmission
from .auth import Authenticator, Caller, NoAuth, Refused, presented_key
from .replies import Reply, error_reply

if TYPE_CHECKING:
    from ..store import ApiKeyView, Store

__all__ = ["PERIODS", "KeyAuth", "KeysNote", "auth_for", "hash_key", "new_key"]

PREFIX = "sk-sh-"
PERIODS = ("day", "week", "month", "total")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key(
    project: str,
    *,
    models: Sequence[str] | None = None,
    rpm: int | None = None,
    budget_usd: float | None = None,
    period: str | None = None,
) -> tuple[str, ApiKeyView]:
    """A fresh key and the row to store for it (which holds only the key's hash)."""
    from ..store import ApiKeyView

    if not project or len(project) > 200:
        raise ConfigurationError("--project must be a name of 1 to 200 characters")
    if rpm is not None and rpm < 1:
        raise ConfigurationError(f"--rpm must be 1 or more, not {rpm}")
    if budget_usd is not None and not budget_usd > 0:
        raise ConfigurationError(f"--budget-usd must be a positive amount, not {budget_usd}")
    if budget_usd is not None and period is None:
        period = "month"
    if period is not None and period not in PERIODS:
        raise ConfigurationError(f"--period must be one of {', '.join(PERIODS)}, not {period!r}")
    if period is not None and budget_usd is None:
        raise ConfigurationError("--period needs --budget-usd (the amount the key may spend per period)")
    key_id = "key_" + secrets.token_hex(6)
    key = f"{PREFIX}{key_id.removeprefix('key_')}-{secrets.token_urlsafe(32)}"
    row = ApiKeyView(
        id=key_id, project=project, secret_hash=hash_key(key), models=list(models) if models else None,
        rpm=rpm, budget_usd=budget_usd, period=period, created_at=time.time(),
    )  # fmt: skip
    return key, row


def _key_id(key: str) -> str | None:
    if not key.startswith(PREFIX):
        return None
    ident, sep, secret = key.removeprefix(PREFIX).partition("-")
    return f"key_{ident}" if sep and secret else None


class KeyAuth:
    """Authenticates callers against the store's active keys (``refresh``: seconds between re-reads)."""

    def __init__(self, store: Store, *, refresh: float = 5.0) -> None:
        self.store = store
        self.refresh = refresh
        self._keys: dict[str, ApiKeyView] = {}
        self._loaded = 0.0
        self._load()

    def _load(self) -> None:
        self._keys = {k.id: k for k in self.store.list_keys(include_revoked=False)}
        self._loaded = time.monotonic()

    @property
    def count(self) -> int:
        return len(self._keys)

    def _lookup(self, key_id: str) -> ApiKeyView | None:
        now = time.monotonic()
        row = self._keys.get(key_id)
        stale = now - self._loaded > self.refresh
        if stale or (row is None and now - self._loaded > 1.0):  # a new key: look again, at most 1/s
            try:
                self._load()
            except Exception:  # the store is down: keep serving the keys already known
                self._loaded = now
            row = self._keys.get(key_id)
        return row

    def identify(self, headers: Mapping[str, str], protocol: str) -> Caller:
        key = presented_key(headers)
        if key is None:
            message = (
                "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' or 'x-api-key'."
            )
            raise Refused(_unauthorized(protocol, message))
        key_id = _key_id(key)
        row = self._lookup(key_id) if key_id is not None else None
        digest = hash_key(key)
        stored = row.secret_hash if row is not None else "0" * 64
        if not hmac.compare_digest(digest, stored) or row is None:
            message = "Incorrect API key provided (or revoked); create one with `steadyhand keys create`."
            raise Refused(_unauthorized(protocol, message))
        return Caller(
            project=row.project, key_id=row.id, models=frozenset(row.models) if row.models else None,
            rpm=row.rpm, budget_usd=row.budget_usd, period=row.period,
        )  # fmt: skip


def _unauthorized(protocol: str, message: str) -> Reply:
    return error_reply(
        "anthropic" if protocol == "anthropic" else "openai", 401, message, code="invalid_api_key"
    )


@dataclass(frozen=True, slots=True)
class KeysNote:
    """What the start banner says about auth."""

    keys: int

    def describe(self, no_auth: bool) -> str:
        if no_auth:
            return "off (--no-auth): anyone who can reach this port may call it"
        if not self.keys:
            return "off: no API keys configured, so listening on loopback only"
        return f"on: {self.keys} active key(s); send one as 'Authorization: Bearer' or 'x-api-key'"


def auth_for(config: Config, *, no_auth: bool) -> tuple[Authenticator, Admission, KeysNote]:
    """Keys from the store at ``config.database_url`` when it has any (and auth is on), else no auth."""
    if no_auth:
        return NoAuth(config.project), OpenAdmission(), KeysNote(0)
    from ..store import open_store
    from .budgets import KeyAdmission

    store = open_store(config.database_url)
    auth = KeyAuth(store)
    if not auth.count:
        store.close()
        return NoAuth(config.project), OpenAdmission(), KeysNote(0)
    return auth, KeyAdmission(store, prices=config.prices), KeysNote(auth.count)

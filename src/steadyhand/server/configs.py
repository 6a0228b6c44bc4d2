"""The configuration a gateway serves, as a document fit to store: canonical, hashed, secrets masked.

Every span the gateway records names its configuration by hash (``steadyhand.config_hash``); the store
keeps each document once per hash (``steadyhand configs show HASH``), so a trace can be read next to
the exact aliases, policies and providers that served it. The hash is of the stored document itself
(keys sorted, secrets masked), so the same settings hash the same whatever their order in the file,
and a document read back re-hashes to its hash. Secrets never reach the document: provider keys
(already ``SecretStr``), header values that carry credentials, and passwords inside URLs
(``database_url``, ``state_url``, a ``base_url`` with ``user:pass@``) are masked before anything else.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any, Protocol

from .._config import Config

__all__ = ["MASK", "ConfigStore", "config_document", "config_hash", "document_hash", "store_config"]

log = logging.getLogger("steadyhand.server")

MASK = "**********"
"""What pydantic prints for a ``SecretStr``; used for every masked value alike."""
_SECRET_NAME = re.compile(r"auth|key|token|secret|password|passwd|cookie|session|credential", re.I)
_NOT_SECRET = re.compile(r"_env$|tokens$|^first_token$", re.I)
"""Names that match but hold no secret: the *name* of the variable holding a key, token counts and
limits. Only strings are masked in any case."""
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^/@:\s]*:)(?P<password>[^/@\s]+)(?=@)", re.I)


class ConfigStore(Protocol):
    """Where a gateway keeps the configurations it served (a :class:`~steadyhand.store.Store`)."""

    def save_config(self, config_hash: str, document: dict[str, Any]) -> bool: ...


def _mask(value: Any, name: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, name) for v in value]
    if isinstance(value, str):
        if value and _SECRET_NAME.search(name) and not _NOT_SECRET.search(name):
            return MASK
        return _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, value)
    return value


def config_document(config: Config) -> dict[str, Any]:
    """The configuration as plain JSON data with every secret masked (what the store keeps)."""
    document: dict[str, Any] = _mask(config.model_dump(mode="json"))
    return document


def document_hash(document: dict[str, Any]) -> str:
    """A short, stable id of a document: the first 16 hex digits of the SHA-256 of its canonical JSON."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def config_hash(config: Config) -> str:
    """The hash every span a configuration served carries (secrets masked before hashing)."""
    return document_hash(config_document(config))


def store_config(store: ConfigStore | None, config_hash: str, document: dict[str, Any]) -> None:
    """Keep ``document`` in ``store`` (a no-op when already there); a failure is logged, never raised:
    serving must not depend on it."""
    if store is None:
        return
    try:
        if store.save_config(config_hash, document):
            log.info("stored configuration %s", config_hash)
    except Exception:
        log.exception("could not store configuration %s (serving goes on)", config_hash)

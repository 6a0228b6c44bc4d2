"""A real self-hosted model: the llama.cpp server with the bundled SmolLM2-135M, on loopback.

Needs the ``local`` extra; see ``docs/local-model.md``.
"""

from __future__ import annotations

from .config import config_snippet, local_config
from .model import INSTALL_HINT, LocalExtraMissing, find_bundled_model
from .server import DEFAULT_MODEL_NAME, LocalModelServer, LocalServerError, PortUnavailable

__all__ = [
    "DEFAULT_MODEL_NAME",
    "INSTALL_HINT",
    "LocalExtraMissing",
    "LocalModelServer",
    "LocalServerError",
    "PortUnavailable",
    "config_snippet",
    "find_bundled_model",
    "local_config",
]

"""Capability profiles: what each kind of provider accepts, so requests are shaped to it.

A wire format consults its provider's :class:`Capabilities` when it builds a request: a JSON-schema
``response_format`` goes out as ``json_schema`` where that is accepted, as llama.cpp's ``json_object`` +
``schema`` where that is, else as plain ``json_object``; ``stream_options`` is sent only where stream
usage exists (and usage is then counted locally, marked ``estimated``). Nothing a server is declared to
reject is ever sent to it.

A provider's profile defaults to its ``kind``; the config names another (``capabilities = "llama_cpp"``)
or overrides single fields (``capabilities = {profile = "llama_cpp", seed = false}``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ..errors import ConfigurationError
from .base import Capabilities

__all__ = [
    "ANTHROPIC",
    "LLAMA_CPP",
    "OPENAI",
    "OPENAI_COMPATIBLE",
    "PROFILES",
    "SIM",
    "profile",
    "resolve_capabilities",
]

OPENAI = Capabilities()
"""OpenAI's API: every response format, stream usage (``stream_options.include_usage``), tools, seed, n."""

ANTHROPIC = Capabilities(
    response_formats=frozenset({"text", "json_schema"}),
    seed=False,
    n=False,
    embeddings=False,
    stream_usage=True,
)
"""Anthropic Messages: no ``response_format`` field; ``json_schema`` is realized as a forced tool (see
``providers/anthropic.py``), plain ``json_object`` is left to the prompt. No seed, no n."""

SIM = Capabilities()
"""The simulator accepts everything OpenAI does (its faults are chosen by model name, not by profile)."""

OPENAI_COMPATIBLE = Capabilities(response_formats=frozenset({"text", "json_object"}), n=False)
"""The common ground of vLLM, Ollama, llama.cpp and LM Studio: the default for ``openai_compatible``."""

LLAMA_CPP = Capabilities(
    response_formats=frozenset({"text", "json_object", "json_object_schema"}),
    stream_usage=False,
    tools=False,
    seed=True,
    n=False,
    assistant_prefill=False,
    embeddings=False,
)
"""``llama-cpp-python``'s server (``python -m llama_cpp.server``), as measured against 0.3.36:

- ``response_format`` accepts ``text`` and ``json_object`` with its own ``schema`` key (enforced by a
  grammar); ``json_schema`` is rejected with a 500.
- streams ignore ``stream_options.include_usage``: no usage chunk at all.
- ``tools`` are accepted and silently ignored by the default chat template; ``n`` is ignored (one choice).
- a final assistant message is closed as a turn, not continued; ``/v1/embeddings`` needs ``--embedding``.
- ``seed`` is honoured: the same seed gives the same sample at any temperature.
"""

PROFILES: Mapping[str, Capabilities] = MappingProxyType(
    {
        "openai": OPENAI,
        "anthropic": ANTHROPIC,
        "sim": SIM,
        "openai_compatible": OPENAI_COMPATIBLE,
        "llama_cpp": LLAMA_CPP,
    }
)
"""Profiles by name; a provider kind's name is its default profile."""


def profile(name: str) -> Capabilities:
    """The profile called ``name``; a ConfigurationError lists the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown capability profile {name!r}; the profiles are: {', '.join(sorted(PROFILES))}"
        ) from None


def resolve_capabilities(kind: str, spec: str | Mapping[str, Any] | None = None) -> Capabilities:
    """The capabilities of a provider of ``kind`` configured with ``spec``.

    ``spec`` is ``None`` (the kind's profile), a profile name, or a mapping of field overrides that may
    name its base profile under ``profile``.
    """
    if spec is None or isinstance(spec, str):
        return profile(spec or kind)
    overrides = dict(spec)
    base_name = overrides.pop("profile", None) or kind
    if not isinstance(base_name, str):
        raise ConfigurationError(f"capabilities.profile must be a profile name, not {base_name!r}")
    base = profile(base_name)
    known = {f.name for f in dataclasses.fields(Capabilities)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigurationError(
            f"unknown capabilities {unknown}; the fields are: {', '.join(sorted(known | {'profile'}))}"
        )
    if "response_formats" in overrides:
        overrides["response_formats"] = frozenset(overrides["response_formats"])
    overhead = overrides.get("prompt_overhead", 0)
    if isinstance(overhead, bool) or not isinstance(overhead, int) or overhead < 0:
        raise ConfigurationError(
            f"capabilities.prompt_overhead must be a whole number of tokens >= 0, not {overhead!r}"
        )
    return dataclasses.replace(base, **overrides)

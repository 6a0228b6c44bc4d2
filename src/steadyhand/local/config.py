"""How steadyhand talks to the local server: one ``openai_compatible`` provider with the llama_cpp profile."""

from __future__ import annotations

from typing import Any

from .._config import Config
from .server import LocalModelServer

__all__ = ["config_snippet", "local_config"]


def local_config(
    server: LocalModelServer, *, provider: str = "local", api_key: str | None = None, **settings: Any
) -> Config:
    """A config with provider ``provider`` at ``server`` and the alias ``local`` for its model.

    ``settings`` are further :class:`~steadyhand.Config` fields (``cassette=...``, ``timeouts=...``).
    """
    spec: dict[str, Any] = {
        "kind": "openai_compatible",
        "base_url": server.base_url,
        "capabilities": _capabilities(server),
    }
    if api_key is not None:
        spec["api_key"] = api_key
    return Config.model_validate(
        {"providers": {provider: spec}, "models": {"local": f"{provider}:{server.model_name}"}, **settings}
    )


def _capabilities(server: LocalModelServer) -> str | dict[str, Any]:
    """The llama_cpp profile, with the chat template's prompt overhead the server measured at start."""
    if not server.prompt_overhead:
        return "llama_cpp"
    return {"profile": "llama_cpp", "prompt_overhead": server.prompt_overhead}


def config_snippet(server: LocalModelServer, *, provider: str = "local") -> str:
    """The same as ``steadyhand.toml`` lines, for a server started with ``steadyhand local serve``."""
    capabilities = (
        f'{{ profile = "llama_cpp", prompt_overhead = {server.prompt_overhead} }}'
        if server.prompt_overhead
        else '"llama_cpp"'
    )
    return (
        f"[providers.{provider}]\n"
        'kind = "openai_compatible"\n'
        f'base_url = "{server.base_url}"\n'
        f"capabilities = {capabilities}   # shapes requests to what llama.cpp accepts\n"
        "\n"
        "[models]\n"
        f'local = "{provider}:{server.model_name}"\n'
    )

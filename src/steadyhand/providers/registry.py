"""Building providers from configuration: kind + API -> wire format, key from config or environment.

This is the edge where API keys are read (from the mapping :meth:`Config.env` gives), so a missing key
fails when the provider is first used, with the exact fix in the message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .._config import Api, Config, ProviderConfig
from ..errors import ConfigurationError
from .base import AsyncTransport, Capabilities, Timeouts, Transport, WireFormat
from .capabilities import PROFILES, resolve_capabilities
from .http_provider import HTTPProvider

__all__ = ["DEFAULT_CAPABILITIES", "build_provider", "capabilities_for", "wire_for"]

DEFAULT_BASE_URLS = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}
DEFAULT_KEY_ENVS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}

DEFAULT_CAPABILITIES = PROFILES
"""Profiles by name (``providers/capabilities.py``); a kind's name is its default profile."""
_APIS: dict[str, tuple[Api, ...]] = {
    "openai": ("chat", "completions", "responses"),
    "openai_compatible": ("chat", "completions", "responses"),
    "anthropic": ("messages",),
    "sim": ("chat", "completions", "responses", "messages"),
}


def capabilities_for(config: ProviderConfig) -> Capabilities:
    """The kind's profile, or the one the config names (``capabilities = "llama_cpp"``), plus overrides."""
    return resolve_capabilities(config.kind, config.capabilities)


def _api_key(name: str, config: ProviderConfig, env: Mapping[str, str]) -> str | None:
    if config.api_key is not None:
        return config.api_key.get_secret_value()
    var = config.api_key_env or DEFAULT_KEY_ENVS.get(config.kind)
    if var is None:
        return None  # local servers and the simulator need no key
    key = env.get(var)
    if not key:
        raise ConfigurationError(
            f"provider {name!r} needs an API key: set {var} or put api_key under [providers.{name}] "
            "in steadyhand.toml"
        )
    return key


def _base_url(name: str, config: ProviderConfig, sim_url: str, api: Api) -> str:
    if config.kind == "sim":
        root = (config.base_url or sim_url).rstrip("/")
        return root if api == "messages" else root + "/v1"
    url = config.base_url or DEFAULT_BASE_URLS.get(config.kind)
    if url is None:
        raise ConfigurationError(
            f'provider {name!r} ({config.kind}) needs base_url, e.g. base_url = "http://localhost:11434/v1" '
            f"under [providers.{name}] in steadyhand.toml"
        )
    return url


def _wire_class(api: Api) -> Callable[..., WireFormat]:
    if api == "chat":
        from .openai_chat import OpenAIChat

        return OpenAIChat
    if api == "completions":
        from .openai_completions import OpenAICompletions

        return OpenAICompletions
    if api == "responses":
        from .openai_responses import OpenAIResponses

        return OpenAIResponses
    from .anthropic import AnthropicMessages

    return AnthropicMessages


def wire_for(
    name: str, config: ProviderConfig, *, api: Api, env: Mapping[str, str], sim_url: str
) -> WireFormat:
    """The wire format speaking ``api`` to provider ``name``."""
    if api not in _APIS[config.kind]:
        raise ConfigurationError(
            f"provider {name!r} ({config.kind}) has no {api!r} API; "
            f"use one of {', '.join(_APIS[config.kind])}"
        )
    return _wire_class(api)(
        base_url=_base_url(name, config, sim_url, api),
        api_key=_api_key(name, config, env),
        provider_name=name,
        default_headers=dict(config.headers),
        capabilities=capabilities_for(config),
    )


def build_provider(
    name: str,
    *,
    api: Api,
    config: Config,
    timeouts: Timeouts | None = None,
    transport: Transport | None = None,
    async_transport: AsyncTransport | None = None,
) -> HTTPProvider:
    """An :class:`HTTPProvider` for ``config.providers[name]`` speaking ``api``.

    Limits: the provider's own ``timeouts``, else ``timeouts``, else the config's.
    """
    provider = config.all_providers()[name]
    wire = wire_for(name, provider, api=api, env=config.env(), sim_url=config.sim_url)
    return HTTPProvider(
        wire,
        transport=transport,
        async_transport=async_transport,
        timeouts=provider.timeouts or timeouts or config.timeouts,
    )

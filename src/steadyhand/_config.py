"""Typed configuration: providers, model aliases, and where traces go.

Loaded explicitly with :meth:`Config.load` (``steadyhand.toml`` plus ``STEADYHAND_*`` variables) or
built in code; nothing here is global. See docs/configuration.md for the file format.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)

from ._aliases import (
    Api,
    BreakerTable,
    CacheTable,
    DegradedTable,
    FallbackTable,
    ModelAlias,
    RateLimitTable,
    RetryTable,
    TargetTable,
    check_alias_policies,
    known_names,
)
from .errors import ConfigurationError
from .timeouts import Timeouts

__all__ = [
    "DEFAULT_SIM_URL",
    "Api",
    "BreakerTable",
    "CacheTable",
    "Config",
    "DegradedTable",
    "FallbackTable",
    "ModelAlias",
    "ProviderConfig",
    "RateLimitTable",
    "RetryTable",
    "Target",
    "TargetTable",
    "is_pinned",
]

DEFAULT_SIM_URL = "http://127.0.0.1:8900"
ProviderKind = Literal["openai", "anthropic", "openai_compatible", "sim"]

_DATED = re.compile(r"[-_@](?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|\d{3})(?:$|[-_.:])")
_FILE_SUFFIXES = (".gguf", ".ggml", ".bin", ".safetensors", ".onnx", ".pt")


def is_pinned(name: str) -> bool:
    """Whether a provider's model name names one fixed model rather than one that moves under you.

    Pinned, in order of the checks:

    - a local file path (``/``, ``./``, ``../``, ``~`` prefix, or a weights file suffix like ``.gguf``);
    - floating: anything ending in ``latest`` (``claude-3-5-sonnet-latest``, ``llama3:latest``);
    - an explicit tag or digest: ``name:tag`` (Ollama ``llama3:8b-instruct-q4_0``) or ``name@sha256:...``;
    - a date or version stamp after ``-``, ``_`` or ``@``: ``2024-08-06``, ``20241022``, ``0613``, ``002``.

    Everything else floats (``gpt-4o``, ``o3-mini``, ``claude-3-5-sonnet``).
    """
    if name.startswith(("/", "./", "../", "~")) or name.lower().endswith(_FILE_SUFFIXES):
        return True
    if name.lower().endswith("latest"):
        return False
    if "@sha256:" in name or ":" in name.rsplit("/", 1)[-1]:
        return True
    return _DATED.search(name) is not None


class ProviderConfig(BaseModel):
    """One provider: its kind, where it is, how to authenticate, and its limits."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    kind: ProviderKind
    """``openai``, ``anthropic``, ``openai_compatible`` (vLLM, Ollama, llama.cpp, LM Studio) or ``sim``."""
    base_url: str | None = None
    """Defaults: OpenAI ``https://api.openai.com/v1``, Anthropic ``https://api.anthropic.com``; required for
    ``openai_compatible`` (include ``/v1``); the simulator's root URL for ``sim``."""
    api_key: SecretStr | None = None
    api_key_env: str | None = None
    """The environment variable holding the key, read when the provider is first used."""
    timeouts: Timeouts | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    capabilities: str | dict[str, Any] = Field(default_factory=dict)
    """A capability profile's name (``"llama_cpp"``), or overrides of :class:`~steadyhand.Capabilities`
    fields on the kind's profile, e.g. ``{seed = false}`` (``{profile = "llama_cpp", seed = false}``)."""

    def native_api(self) -> Api:
        return "messages" if self.kind == "anthropic" else "chat"


class Target:
    """A resolved model: the alias asked for, the provider name, the pinned model and the API."""

    __slots__ = ("alias", "api", "model", "provider")

    def __init__(self, alias: str, provider: str, model: str, api: Api) -> None:
        self.alias = alias
        self.provider = provider
        self.model = model
        self.api = api

    def __repr__(self) -> str:
        return f"Target({self.alias!r} -> {self.provider}:{self.model} via {self.api})"


class Config(BaseModel):
    """Everything a :class:`~steadyhand.Client` needs. Build it in code or with :meth:`load`.

    With no providers and no models configured, a built-in default applies: a ``sim`` provider at
    ``sim_url`` and the alias ``default -> sim:sim-basic``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, ModelAlias] = Field(default_factory=dict)
    """Aliases; a value is ``"provider:model"`` or a table ``{target = "...", api = "completions"}``."""
    timeouts: Timeouts = Field(default_factory=Timeouts)
    """Limits for providers that set none of their own."""
    project: str = "default"
    database_url: str | None = None
    """Where traces go; ``None`` lets the tracer use ``.steadyhand/steadyhand.db``."""
    prices: str | None = None
    """A price table (TOML path, relative to the working directory) to cost LLM spans with; ``None``: the
    table bundled with steadyhand."""
    sim_url: str = DEFAULT_SIM_URL
    """The simulator the built-in default config points at."""
    cassette: str | None = None
    """A cassette file: record and/or replay every provider exchange (see ``cassette_mode``)."""
    cassette_mode: Literal["record", "replay", "auto"] = "auto"
    """``record`` overwrites, ``replay`` never touches the network, ``auto`` replays hits, records misses."""
    async_transport: Literal["httptools", "aiohttp", "httpx"] = "httptools"
    """What moves :class:`~steadyhand.AsyncClient`'s (and the gateway's) bytes: ``httptools`` (the default:
    steadyhand's own lean HTTP/1.1 client, the least CPU per call; aiohttp when a proxy variable is set),
    ``aiohttp`` or ``httpx``."""
    sync_transport: Literal["httptools", "httpx"] = "httptools"
    """What moves :class:`~steadyhand.Client`'s bytes: ``httptools`` (the default: steadyhand's own lean
    HTTP/1.1 client on blocking sockets, the least CPU per call; httpx when a proxy variable is set) or
    ``httpx``."""
    cache_url: str | None = None
    """Where the exact cache keeps answers: ``sqlite:///PATH``, ``postgresql://...``, ``redis://...`` or
    ``memory://``; ``None``: Redis at ``state_url`` when that is set, else ``.steadyhand/cache.db``."""
    state_url: str | None = None
    """``redis://host:port/db``: the policies' state (rate limits, breakers, cache) shared by every
    process given the same URL; ``None`` keeps it in each client's memory."""
    state_failure: Literal["fail_open_local", "fail_closed"] = "fail_open_local"
    """When Redis is unreachable: limit each process on its own (``fail_open_local``) or refuse the
    calls that have a rate limit (``fail_closed``); counted either way."""
    state_timeout: float = Field(default=0.25, gt=0)
    """Seconds a Redis operation may take (connect, read) before it counts as unreachable."""

    @field_validator("state_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                f"state_url {value!r} must be a Redis URL: redis://host:6379/0, rediss://... or unix:///path"
            )
        return value

    _env: Mapping[str, str] | None = PrivateAttr(default=None)

    @field_validator("models", mode="before")
    @classmethod
    def _alias_strings(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: {"target": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @property
    def builtin(self) -> bool:
        """True when nothing is configured and the built-in simulator default applies."""
        return not self.providers and not self.models

    def all_providers(self) -> dict[str, ProviderConfig]:
        if self.builtin:
            return {"sim": ProviderConfig(kind="sim", base_url=self.sim_url)}
        return self.providers

    def all_models(self) -> dict[str, ModelAlias]:
        if self.builtin:
            return {"default": ModelAlias(target="sim:sim-basic")}
        return self.models

    def env(self) -> Mapping[str, str]:
        """Where API keys are read from: the mapping given to :meth:`load`, else ``os.environ``."""
        return os.environ if self._env is None else self._env

    def resolve(self, model: str, *, extra_providers: Collection[str] = ()) -> Target:
        """``model`` is an alias or ``provider:model``; raises ConfigurationError naming the fix.

        ``extra_providers`` are names of providers injected in code; when nothing is configured, the
        alias ``default`` points at the first of them (model ``default``) instead of the simulator.
        """
        aliases = self.all_models()
        if self.builtin and extra_providers:
            aliases = {"default": ModelAlias(target=f"{next(iter(extra_providers))}:default")}
        providers = self.all_providers()
        alias = aliases.get(model)
        if alias is not None:
            provider, _, name = alias.target.partition(":")
            if provider not in providers and provider not in extra_providers:
                raise ConfigurationError(
                    f"alias {model!r} points at provider {provider!r}, which is not configured; "
                    + known_names("providers", provider, [*providers, *extra_providers], "[providers.NAME]")
                )
            api = alias.api or (providers[provider].native_api() if provider in providers else "chat")
            return Target(model, provider, name, api)
        provider, sep, name = model.partition(":")
        if sep and name and (provider in providers or provider in extra_providers):
            api = providers[provider].native_api() if provider in providers else "chat"
            return Target(model, provider, name, api)
        if sep and name:
            raise ConfigurationError(
                f"unknown provider {provider!r} in {model!r}; "
                + known_names("providers", provider, [*providers, *extra_providers], "[providers.NAME]")
            )
        raise ConfigurationError(
            f"unknown model alias {model!r}; "
            + known_names("aliases", model, list(aliases), "[models]")
            + " or call with 'provider:model'"
        )

    @classmethod
    def load(
        cls, path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
    ) -> Config:
        """Read ``path`` (else ``$STEADYHAND_CONFIG``, else ``./steadyhand.toml`` if present) plus
        ``STEADYHAND_*`` variables (``STEADYHAND_DATABASE_URL``, ``STEADYHAND_PRICES``,
        ``STEADYHAND_SIM_URL``, nested keys with ``__``: ``STEADYHAND_PROVIDERS__OPENAI__BASE_URL``); the
        environment wins over the file."""
        environ: Mapping[str, str] = os.environ if env is None else env
        file = path or environ.get("STEADYHAND_CONFIG")
        data: dict[str, Any] = {}
        if file is not None:
            data = _read_toml(Path(file))
        elif Path("steadyhand.toml").is_file():
            data = _read_toml(Path("steadyhand.toml"))
        _apply_env(data, environ)
        where = file or "steadyhand.toml / STEADYHAND_* variables"
        try:
            config = cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigurationError(f"invalid configuration in {where}:\n{exc}{_misplaced(exc)}") from None
        config._check_alias_providers(where)
        config.check_policies(where)
        config._env = environ
        return config

    def _check_alias_providers(self, where: str | os.PathLike[str]) -> None:
        """At load, an alias must name a configured provider. The usual cause otherwise is TOML's table
        rule: ``database_url = ...`` written after ``[models]`` is a model alias, not the setting."""
        providers = self.all_providers()
        for name, alias in self.all_models().items():
            missing = [
                t.partition(":")[0] for t, _ in alias.target_names() if t.partition(":")[0] not in providers
            ]
            if not missing:
                continue
            provider = missing[0]
            if name in Config.model_fields:
                raise ConfigurationError(
                    f"{name} = {alias.target!r} in {str(where)!r} sits under [models], so it is read as a "
                    f"model alias, not the top-level setting {name!r}: move the line above the first "
                    "[table] header (in TOML every key after a header belongs to that table)"
                )
            raise ConfigurationError(
                f"alias {name!r} in {str(where)!r} points at provider {provider!r}, which is not "
                "configured; " + known_names("providers", provider, list(providers), "[providers.NAME]")
            )

    def check_policies(self, where: str | os.PathLike[str] = "the configuration") -> None:
        """Each alias's fallbacks name known aliases or providers and known error kinds, without a cycle."""
        check_alias_policies(self.all_models(), self.all_providers(), where)


def _misplaced(exc: ValidationError) -> str:
    """The hint for a top-level key written under a table (``[providers.x]`` then ``project = ...``)."""
    for error in exc.errors():
        key = error["loc"][-1] if error["loc"] else None
        if error["type"] == "extra_forbidden" and len(error["loc"]) > 1 and key in Config.model_fields:
            return (
                f"\n{key!r} is a top-level setting: move the line above the first [table] header "
                "(in TOML every key after a header belongs to that table)"
            )
    return ""


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # only a config file needs it: not an import-time cost

    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigurationError(f"config file {str(path)!r} does not exist; fix the path") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file {str(path)!r} is not valid TOML: {exc}") from None


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    fields = set(Config.model_fields)
    for key, value in env.items():
        if not key.startswith("STEADYHAND_") or key == "STEADYHAND_CONFIG":
            continue
        path = key.removeprefix("STEADYHAND_").lower().split("__")
        if path[0] not in fields:
            continue
        node = data
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = value

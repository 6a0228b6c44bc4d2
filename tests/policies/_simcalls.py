"""One call made four ways (sync or async, complete or streamed) against a simulator, and what the
simulator saw, so the fault tests assert the same outcome and the same requests for each."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from steadyhand import AsyncClient, Client, Config, ProviderConfig, Timeouts
from steadyhand._config import ModelAlias
from steadyhand.policies import Route
from steadyhand.sim import SimServer

MODES = ["sync", "async", "sync-stream", "async-stream"]


@dataclass
class Result:
    text: str = ""
    route: Route | None = None
    error: BaseException | None = None
    model: str | None = None
    seen: list[tuple[float, str]] = field(default_factory=list)
    """(time, model) of each request the simulator received, in order."""

    @property
    def models(self) -> list[str]:
        return [model for _, model in self.seen]

    @property
    def gaps(self) -> list[float]:
        return [b - a for (a, _), (b, _) in zip(self.seen, self.seen[1:], strict=False)]


def config(sim: SimServer, timeouts: Timeouts | None = None, **providers: dict[str, Any]) -> dict[str, Any]:
    """The provider tables: ``sim`` at the simulator, plus ``providers`` (each also a sim)."""
    tables: dict[str, Any] = {"sim": ProviderConfig(kind="sim", base_url=sim.base_url, timeouts=timeouts)}
    for name, extra in providers.items():
        tables[name] = ProviderConfig(kind="sim", base_url=sim.base_url, **extra)
    return tables


def call(
    mode: str,
    sim: SimServer,
    alias: ModelAlias,
    messages: Any = "hi",
    *,
    timeouts: Timeouts | None = None,
    providers: dict[str, dict[str, Any]] | None = None,
    timeout: float | None = None,
) -> Result:
    """Ask ``alias`` (as model ``support``) in ``mode``; errors are returned, not raised."""
    cfg = Config(providers=config(sim, timeouts, **(providers or {})), models={"support": alias})
    sim.clear_requests()
    result = Result()
    try:
        if mode.startswith("async"):
            asyncio.run(_async(mode, cfg, messages, timeout, result))
        else:
            _sync(mode, cfg, messages, timeout, result)
    except Exception as error:
        result.error = error
        result.route = getattr(error, "route", None)
    result.seen = [(r.time, str(r.body["model"])) for r in sim.requests if isinstance(r.body, dict)]
    return result


def _sync(mode: str, cfg: Config, messages: Any, timeout: float | None, result: Result) -> None:
    with Client(cfg) as client:
        if mode == "sync":
            response = client.chat(messages, model="support", timeout=timeout)
        else:
            with client.stream(messages, model="support", timeout=timeout) as stream:
                for piece in stream.text_stream():
                    result.text += piece
                response = stream.response
    result.text, result.route, result.model = response.text, response.route, response.model


async def _async(mode: str, cfg: Config, messages: Any, timeout: float | None, result: Result) -> None:
    async with AsyncClient(cfg) as client:
        if mode == "async":
            response = await client.chat(messages, model="support", timeout=timeout)
        else:
            async with client.stream(messages, model="support", timeout=timeout) as stream:
                async for piece in stream.text_stream():
                    result.text += piece
                response = stream.response
    result.text, result.route, result.model = response.text, response.route, response.model

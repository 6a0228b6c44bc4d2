"""Threads making a client's first calls at once share one provider and one connection pool."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Literal

import pytest

from steadyhand import AsyncClient, Client, Config
from steadyhand.providers import (
    AsyncAiohttpTransport,
    AsyncHttptoolsTransport,
    AsyncHttpxTransport,
    HttptoolsTransport,
    HttpxTransport,
)
from steadyhand.sim import SimServer


@pytest.mark.parametrize(("kind", "cls"), [("httptools", HttptoolsTransport), ("httpx", HttpxTransport)])
def test_concurrent_first_calls_build_one_provider_and_one_pool(
    monkeypatch: Any, kind: Literal["httptools", "httpx"], cls: Any
) -> None:
    built: list[object] = []
    original = cls.__init__

    def counting(self: object, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(cls, "__init__", counting)
    with SimServer() as sim, Client(Config(sim_url=sim.base_url, sync_transport=kind)) as client:
        start = threading.Barrier(8)
        errors: list[BaseException] = []

        def call() -> None:
            start.wait()
            try:
                client.chat("hi")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
        assert len(client._built) == 1
    assert len(built) == 1  # before the lock: up to 8 pools, 7 of them never closed


@pytest.mark.parametrize("transport", ["httptools", "aiohttp", "httpx"])
async def test_concurrent_async_first_calls_share_one_pool(monkeypatch: Any, transport: str) -> None:
    built: list[object] = []
    cls: Any = {
        "httptools": AsyncHttptoolsTransport,
        "aiohttp": AsyncAiohttpTransport,
        "httpx": AsyncHttpxTransport,
    }[transport]
    original = cls.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(cls, "__init__", counting)
    with SimServer() as sim:
        async with AsyncClient(Config(sim_url=sim.base_url, async_transport=transport)) as client:
            answers = await asyncio.gather(*(client.chat("hi") for _ in range(8)))
            assert all(a.text for a in answers)
    assert len(built) == 1

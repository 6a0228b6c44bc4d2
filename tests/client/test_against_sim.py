"""steadyhand's own adapters against the simulator: every fault model maps to the right typed error with
the right retry_after, and streams carry the same content as non-streamed calls.

OpenAI chat, legacy completions, the Responses API and Anthropic messages; sync and async (async runs its
cases concurrently, over each async transport: httptools, aiohttp and httpx).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from steadyhand import (
    AsyncClient,
    BadRequest,
    Client,
    Config,
    ContentFiltered,
    ContextWindowExceeded,
    Message,
    Overloaded,
    PrefillNotSupported,
    ProviderConfig,
    ProviderConnectionError,
    ProviderTimeout,
    QuotaExhausted,
    RateLimited,
    ServerError,
    StreamInterrupted,
    Timeouts,
    UnexpectedProviderResponse,
)
from steadyhand._config import ModelAlias
from steadyhand.providers import AsyncAiohttpTransport, AsyncHttptoolsTransport, AsyncHttpxTransport
from steadyhand.sim import SimServer

from .conftest import sim_config

ASYNC_TRANSPORTS = {
    "httptools": AsyncHttptoolsTransport,
    "aiohttp": AsyncAiohttpTransport,
    "httpx": AsyncHttpxTransport,
}


def _over(config: Config, transport: str) -> Config:
    """``config`` with its AsyncClient moving bytes over ``transport``."""
    return config.model_copy(update={"async_transport": transport})


def _assert_transport(client: AsyncClient, transport: str) -> None:
    kinds = {type(pool) for pool in client._pools.values()}
    assert kinds == {ASYNC_TRANSPORTS[transport]}, kinds


APIS = ("chat", "completions", "responses", "messages")
PREFILL = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Sure,"}]

# fault -> (error class, retry_after, timeout phase); per API where the providers differ.
COMMON: dict[str, tuple[type[Exception], Any, str | None]] = {
    "429": (RateLimited, 1.0, None),
    "quota": (QuotaExhausted, None, None),
    "500": (ServerError, 1.0, None),
    "502": (ServerError, 1.0, None),
    "529": (Overloaded, 1.0, None),
    "reset": (ProviderConnectionError, None, None),
    "hang": (ProviderTimeout, None, "first_token"),
    "slow-first-token": (ProviderTimeout, None, "first_token"),
    "stall": (ProviderTimeout, None, "stall"),
    "cut": (StreamInterrupted, None, None),
    "context-length": (ContextWindowExceeded, None, None),
}
PER_API: dict[str, dict[str, tuple[type[Exception], Any, str | None]]] = {
    "chat": {
        "503": (Overloaded, 1.0, None),
        "content-filter": (ContentFiltered, None, None),
        "no-prefill": (PrefillNotSupported, None, None),
    },
    "completions": {"503": (Overloaded, 1.0, None), "content-filter": (ContentFiltered, None, None)},
    "responses": {
        "503": (Overloaded, 1.0, None),
        "content-filter": (ContentFiltered, None, None),
        "no-prefill": (PrefillNotSupported, None, None),
    },
    "messages": {
        "503": (ServerError, 1.0, None),
        "content-filter": (BadRequest, None, None),
        "no-prefill": (PrefillNotSupported, None, None),
    },
}
STREAM_ONLY: dict[str, dict[str, type[Exception]]] = {
    "chat": {"529-in-stream": ServerError, "malformed-sse": UnexpectedProviderResponse},
    "completions": {"529-in-stream": ServerError, "malformed-sse": UnexpectedProviderResponse},
    "responses": {  # the stream ends with response.failed, or without response.completed
        "529-in-stream": ServerError,
        "malformed-sse": UnexpectedProviderResponse,
        "no-done": StreamInterrupted,
    },
    "messages": {"529-in-stream": Overloaded, "malformed-sse": UnexpectedProviderResponse},
}
HANGS = {"hang", "slow-first-token", "stall"}
"""Faults that only a timeout ends: they go to provider ``sim-timeouts``, whose limits are short enough to
keep the test quick and long enough that a loaded machine still sends the stall fault's first chunks."""
HANG_TIMEOUTS = Timeouts(connect=10.0, first_token=1.5, stall=1.0, total=10.0)


def _cases() -> list[tuple[str, str, bool, type[Exception], Any, str | None]]:
    cases = []
    for api in APIS:
        for fault, (error, retry_after, phase) in {**COMMON, **PER_API[api]}.items():
            for stream in (False, True):
                cases.append((api, fault, stream, error, retry_after, phase))
        for fault, error in STREAM_ONLY[api].items():
            cases.append((api, fault, True, error, None, None))
    return cases


CASES = _cases()


def _config(sim: SimServer) -> Config:
    config = sim_config(sim.base_url)
    config.providers["sim-timeouts"] = ProviderConfig(
        kind="sim", base_url=sim.base_url, timeouts=HANG_TIMEOUTS
    )
    for api, fault, *_ in CASES:
        provider = "sim-timeouts" if fault in HANGS else "sim"
        config.models[f"{api}/{fault}"] = ModelAlias(target=f"{provider}:sim-{fault}", api=api)
    return config


def _messages(fault: str) -> Any:
    return PREFILL if fault == "no-prefill" else "hi"


def _check(exc: BaseException | None, case: tuple[str, str, bool, type[Exception], Any, str | None]) -> None:
    api, fault, stream, error, retry_after, phase = case
    label = f"{api} {fault} stream={stream}"
    assert type(exc) is error, f"{label}: got {exc!r}"
    assert getattr(exc, "provider", None) == ("sim-timeouts" if fault in HANGS else "sim"), label
    if retry_after is not None or isinstance(exc, QuotaExhausted | ContextWindowExceeded):
        assert getattr(exc, "retry_after", "missing") == retry_after, label
    if phase is not None:
        assert getattr(exc, "phase", "missing") == phase, label


def test_every_fault_maps_to_its_typed_error_sync(sim: SimServer) -> None:
    with Client(_config(sim)) as client:
        for case in CASES:
            api, fault, stream = case[:3]
            caught: BaseException | None = None
            try:
                if stream:
                    with client.stream(_messages(fault), model=f"{api}/{fault}") as s:
                        s.until_done()
                else:
                    client.chat(_messages(fault), model=f"{api}/{fault}")
            except Exception as exc:
                caught = exc
            _check(caught, case)


@pytest.mark.parametrize("transport", ASYNC_TRANSPORTS)
async def test_every_fault_maps_to_its_typed_error_async(sim: SimServer, transport: str) -> None:
    async with AsyncClient(_over(_config(sim), transport)) as client:

        async def run(api: str, fault: str, stream: bool) -> BaseException | None:
            try:
                if stream:
                    async with client.stream(_messages(fault), model=f"{api}/{fault}") as s:
                        await s.until_done()
                else:
                    await client.chat(_messages(fault), model=f"{api}/{fault}")
            except Exception as exc:
                return exc
            return None

        results = await asyncio.gather(*(run(*case[:3]) for case in CASES))
        _assert_transport(client, transport)
    for case, caught in zip(CASES, results, strict=True):
        _check(caught, case)


def test_a_rate_limit_without_retry_after_is_not_given_the_default(sim: SimServer) -> None:
    config = sim_config(sim.base_url)
    with Client(config) as client:
        for api in ("default", "legacy", "claude", "responses"):
            alias = config.models[api]
            config.models["x"] = ModelAlias(target="sim:sim-429-no-retry-after", api=alias.api)
            client._targets.clear()
            with pytest.raises(RateLimited) as info:
                client.chat("hi", model="x")
            assert info.value.retry_after is None or info.value.retry_after < 1.0


def test_the_total_deadline_bounds_a_hang(sim: SimServer) -> None:
    config = sim_config(sim.base_url, timeouts=Timeouts(connect=1.0, stall=10.0, total=0.3))
    with Client(config) as client, pytest.raises(ProviderTimeout) as info:
        client.chat("hi", model="sim:sim-hang")
    assert info.value.phase == "total"
    with Client(sim_config(sim.base_url, timeouts=Timeouts(stall=10.0))) as client:
        with pytest.raises(ProviderTimeout) as info:
            client.chat("hi", model="sim:sim-hang", timeout=0.2)  # the per-call timeout tightens total
        assert info.value.phase == "total"


@pytest.mark.parametrize("transport", ASYNC_TRANSPORTS)
@pytest.mark.parametrize("stream", [False, True])
async def test_the_total_deadline_bounds_a_hang_async(sim: SimServer, transport: str, stream: bool) -> None:
    for timeouts, per_call in [
        (Timeouts(connect=1.0, stall=10.0, total=0.3), None),
        (Timeouts(stall=10.0), 0.2),
    ]:
        config = _over(sim_config(sim.base_url, timeouts=timeouts), transport)
        async with AsyncClient(config) as client:
            with pytest.raises(ProviderTimeout) as info:
                if stream:
                    async with client.stream("hi", model="sim:sim-hang", timeout=per_call) as s:
                        await s.until_done()
                else:
                    await client.chat("hi", model="sim:sim-hang", timeout=per_call)
            assert info.value.phase == "total"
            _assert_transport(client, transport)


@pytest.mark.parametrize("alias", ["default", "legacy", "claude", "responses"])
@pytest.mark.parametrize("model", ["sim-basic", "sim-echo", "sim-tool-call"])
async def test_streams_carry_the_same_content_as_plain_calls(sim: SimServer, alias: str, model: str) -> None:
    config = sim_config(sim.base_url)
    config.models["m"] = ModelAlias(target=f"sim:{model}", api=config.models[alias].api)
    tools = [{"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]
    kwargs: dict[str, Any] = {"model": "m", "seed": 7, "tools": tools if model == "sim-tool-call" else None}
    if alias == "legacy":
        kwargs["tools"] = None
    with Client(config) as client:
        plain = client.chat("Tell me about tea", **kwargs)
        with client.stream("Tell me about tea", **kwargs) as s:
            streamed = s.until_done()
    answers = []
    for transport in ASYNC_TRANSPORTS:
        async with AsyncClient(_over(config, transport)) as aclient:
            answers.append(await aclient.chat("Tell me about tea", **kwargs))
            async with aclient.stream("Tell me about tea", **kwargs) as a:
                answers.append(await a.until_done())
            _assert_transport(aclient, transport)

    def content(message: Message) -> tuple[str, list[tuple[str, str]]]:  # call ids are random per answer
        return message.text, [(c.name, c.arguments) for c in message.tool_calls or ()]

    for other in (streamed, *answers):
        assert content(other.message) == content(plain.message)
        assert other.finish_reason == plain.finish_reason
    assert plain.text or plain.message.tool_calls

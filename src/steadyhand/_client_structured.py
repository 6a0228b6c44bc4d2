"""``client.structured`` and ``client.structured_stream``: thin methods over :mod:`steadyhand.structured`.

The plan (mode from the target's capability profile, request fields, the schema in the prompt where
the provider does not see it) and the re-ask loop live in ``structured/``; these methods only send
each request through the client's normal path (policies, tracing) and hand the answers back.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Collection, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

if TYPE_CHECKING:
    from ._client_base import AfterHook, Call
    from ._config import Target
    from .client import AsyncStream, Stream
    from .context import TrafficClass
    from .structured._client import Driver
    from .structured.result import Partial, Structured
    from .types import ModelRequest, ModelResponse

__all__ = ["AsyncStructuredCalls", "StructuredCalls"]

_ACCEPT = ("clean", "repaired")
_M = TypeVar("_M")


class _Shared:
    """What both mixins need from the client they are mixed into."""

    if TYPE_CHECKING:

        def _chat_request(
            self, model: str, messages: Any, params: dict[str, Any]
        ) -> tuple[Target, ModelRequest, list[str]]: ...

        def _open(self, target: Target, request: ModelRequest, **options: Any) -> Call: ...

    def _driver(self, prompt: Any, options: dict[str, Any]) -> tuple[Driver, str, dict[str, Any]]:
        """The driver, the model and the call's own parameters (the prompt's pinned ones under them)."""
        from .structured._client import Driver, plan_call, prompt_parts

        timeout = options.pop("timeout", None)
        for key in ("self", "prompt", "tags", "traffic", "Partial", "PartialReader"):
            options.pop(key, None)
        parts = prompt_parts(prompt, options.pop("variables"), options.pop("model"), options.pop("schema"))
        call = {k: options.pop(k) for k in ("temperature", "max_tokens", "seed", "extra")}
        plan, target = plan_call(self, parts.messages, model=parts.model, schema=parts.schema, **options)  # type: ignore[arg-type]
        given = {**parts.params, **{k: v for k, v in call.items() if v is not None}}
        if timeout is not None:
            plan.deadline = time.monotonic() + timeout
        driver = Driver(self, plan, target)  # type: ignore[arg-type]
        driver.use = parts.use
        return driver, parts.model, given

    def _ask(
        self, driver: Driver, model: str, call: dict[str, Any], timeout: Any, tags: Any, traffic: Any
    ) -> Call:
        ask = driver.ask
        assert ask is not None
        deadline = driver.plan.deadline
        if deadline is not None:  # ``timeout`` bounds the whole structured call, re-asks included
            timeout = max(deadline - time.monotonic(), 0.001)
        target, request, notes = self._chat_request(model, ask.messages, {**call, **ask.params})
        linked = {} if driver.use is None else {"prompt": driver.use}  # the prompt version, on the span
        return self._open(
            target,
            request,
            timeout=timeout,
            tags=tags,
            notes=notes,
            traffic=traffic,
            json_from_text=True,
            **linked,
        )


class StructuredCalls(_Shared):
    """The sync methods (mixed into :class:`~steadyhand.Client`)."""

    if TYPE_CHECKING:

        def _run(self, call: Call, after: AfterHook | None = None) -> ModelResponse: ...

    @overload
    def structured(
        self,
        prompt: Any,
        /,
        *,
        schema: type[_M],
        model: str | None = None,
        variables: Mapping[str, Any] | None = None,
        mode: str = "auto",
        accept: Collection[str] = _ACCEPT,
        max_reasks: int = 2,
        n: int = 1,
        close_truncated: bool = False,
        budget_tokens: int | None = None,
        budget_usd: float | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        timeout: float | None = None,
        tags: Mapping[str, str] | None = None,
        traffic: TrafficClass | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Structured[_M]: ...

    @overload
    def structured(
        self,
        prompt: Any,
        /,
        *,
        schema: Any = None,
        model: str | None = None,
        variables: Mapping[str, Any] | None = None,
        mode: str = "auto",
        accept: Collection[str] = _ACCEPT,
        max_reasks: int = 2,
        n: int = 1,
        close_truncated: bool = False,
        budget_tokens: int | None = None,
        budget_usd: float | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        timeout: float | None = None,
        tags: Mapping[str, str] | None = None,
        traffic: TrafficClass | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Structured[Any]: ...

    def structured(
        self,
        prompt: Any,
        /,
        *,
        schema: Any = None,
        model: str | None = None,
        variables: Mapping[str, Any] | None = None,
        mode: str = "auto",
        accept: Collection[str] = _ACCEPT,
        max_reasks: int = 2,
        n: int = 1,
        close_truncated: bool = False,
        budget_tokens: int | None = None,
        budget_usd: float | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        timeout: float | None = None,
        tags: Mapping[str, str] | None = None,
        traffic: TrafficClass | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Structured[Any]:
        """Ask for a value of ``schema`` (a pydantic model, a type, a JSON Schema dict; see
        docs/structured.md), clean up and validate the answer, re-ask at most ``max_reasks`` times.

        ``prompt`` is messages or a prompt (anything with ``render``: its model and output schema
        apply unless given); ``mode`` is ``auto`` (the target's best) or one of
        ``steadyhand.structured.MODES``; ``accept`` the outcomes taken without a re-ask; ``n`` > 1
        votes over ``n`` samples. Raises :class:`~steadyhand.StructuredOutputError` when no answer is
        usable; transport errors propagate (configure retries and fallbacks as policies).
        """
        driver, name, call = self._driver(prompt, dict(locals()))
        with driver:
            while driver.ask is not None:
                self._run(self._ask(driver, name, call, timeout, tags, traffic), after=driver.feed)
        return driver.done()

    def structured_stream(
        self,
        prompt: Any,
        /,
        *,
        schema: Any = None,
        model: str | None = None,
        variables: Mapping[str, Any] | None = None,
        mode: str = "auto",
        accept: Collection[str] = _ACCEPT,
        temperature: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        timeout: float | None = None,
        tags: Mapping[str, str] | None = None,
        traffic: TrafficClass | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Iterator[Partial]:
        """Stream a structured answer: :class:`Partial` values of closed sub-trees as they arrive, then
        one with ``final`` set to the validated :class:`Structured` (no re-asks; raises as ``structured``)."""
        from .structured.result import Partial
        from .structured.stream import PartialReader

        options = dict(locals())
        options.update(max_reasks=0, n=1, close_truncated=False, budget_tokens=None, budget_usd=None)
        driver, name, call = self._driver(prompt, options)
        ask = driver.ask
        assert ask is not None
        reader = PartialReader(driver.plan.shape)
        params = {**call, **ask.params}
        with driver.trace:  # the stream's span opens here, under the structured span
            opened: Stream = cast(Any, self).stream(
                ask.messages, model=name, timeout=timeout, tags=tags, traffic=traffic, **params
            )
            driver.trace.leave()
        try:
            with opened as stream:
                for text in stream.text_stream():
                    value = reader.feed(text)
                    if value is not None:
                        yield Partial(value)
                response = stream.until_done()
            driver.feed(_StreamCall(), response)  # type: ignore[arg-type]
        except BaseException as exc:
            driver.trace.finish(driver.plan, None, exc)
            raise
        driver.trace.finish(driver.plan, driver.result, driver.error)
        result = driver.done()
        yield Partial(result.value, final=result)


class AsyncStructuredCalls(_Shared):
    """The async methods (mixed into :class:`~steadyhand.AsyncClient`)."""

    if TYPE_CHECKING:

        async def _run(self, call: Call, after: AfterHook | None = None) -> ModelResponse: ...

    @overload
    async def structured(
        self,
        prompt: Any,
        /,
        *,
        schema: type[_M],
        model: str | None = None,
        variables: Mapping[str, Any] | None = None,
        mode: str = "auto",
        accept: Collection[str] = _ACCEPT,
        max_reasks: int = 2,
        n: int = 1,
        close_truncated: bool = False,
        budget_tokens: int | None = None,
        budget_usd: float | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        timeout: float | None = None,
        tags: Mapping[str, str] | None = None,
        traffic: TrafficClass | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Structured[_M]: ...

    @overload
    async def structured(
        self,
        prompt: Any,
        /,
        *,
        schema: Any = None,
        model: str | None = None,
        variables: Mapping[str, Any] | None = None,
        mode: str = "auto",
        accept: Collection[str] = _ACCEPT,
        max_reasks: int = 2,
        n: int = 1,
        close_truncated: bool = False,
        budget_tokens: int | None = None,
        budget_usd: float | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        timeout: float | None = None,
        tags: Mapping[str, str] | None = None,
        traffic: TrafficClass | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Structured[Any]: ...

    async def structured(
        self,
        prompt: Any,
        /,
        *,
        schema: Any = None,
        model: str | None = None,
        variables: Mapping[str, Any] | None = None,
        mode: str = "auto",
        accept: Collection[str] = _ACCEPT,
        max_reasks: int = 2,
        n: int = 1,
        close_truncated: bool = False,
        budget_tokens: int | None = None,
        budget_usd: float | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        timeout: float | None = None,
        tags: Mapping[str, str] | None = None,
        traffic: TrafficClass | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Structured[Any]:
        """The async twin of :meth:`Client.structured`."""
        driver, name, call = self._driver(prompt, dict(locals()))
        with driver:
            while driver.ask is not None:
                await self._run(self._ask(driver, name, call, timeout, tags, traffic), after=driver.feed)
        return driver.done()

    async def structured_stream(
        self,
        prompt: Any,
        /,
        *,
        schema: Any = None,
        model: str | None = None,
        variables: Mapping[str, Any] | None = None,
        mode: str = "auto",
        accept: Collection[str] = _ACCEPT,
        temperature: float | None = None,
        max_tokens: int | None = None,
        seed: int | None = None,
        timeout: float | None = None,
        tags: Mapping[str, str] | None = None,
        traffic: TrafficClass | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[Partial]:
        """The async twin of :meth:`Client.structured_stream`."""
        from .structured.result import Partial
        from .structured.stream import PartialReader

        options = dict(locals())
        options.update(max_reasks=0, n=1, close_truncated=False, budget_tokens=None, budget_usd=None)
        driver, name, call = self._driver(prompt, options)
        ask = driver.ask
        assert ask is not None
        reader = PartialReader(driver.plan.shape)
        params = {**call, **ask.params}
        with driver.trace:  # the stream's span opens here, under the structured span
            opened: AsyncStream = cast(Any, self).stream(
                ask.messages, model=name, timeout=timeout, tags=tags, traffic=traffic, **params
            )
            driver.trace.leave()
        try:
            async with opened as stream:
                async for text in stream.text_stream():
                    value = reader.feed(text)
                    if value is not None:
                        yield Partial(value)
                response = await stream.until_done()
            driver.feed(_StreamCall(), response)  # type: ignore[arg-type]
        except BaseException as exc:
            driver.trace.finish(driver.plan, None, exc)
            raise
        driver.trace.finish(driver.plan, driver.result, driver.error)
        result = driver.done()
        yield Partial(result.value, final=result)


class _StreamCall:
    """The streamed call, as the driver's hook expects it (the span is already recorded: no note)."""

    def __init__(self) -> None:
        from .context import CallContext

        self.ctx = CallContext()

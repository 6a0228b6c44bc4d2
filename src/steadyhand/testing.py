"""Public test doubles for your own tests: providers you control, and a running simulator fixture.

::

    from steadyhand import Client
    from steadyhand.testing import QueueProvider

    fake = QueueProvider()
    fake.enqueue("Hello!", RateLimited(...))
    client = Client(providers={"fake": fake})   # "default" points at the first injected provider
    assert client.chat("hi").text == "Hello!"

The ``steadyhand_sim`` pytest fixture is not registered automatically: add
``pytest_plugins = ["steadyhand.testing"]`` (or ``from steadyhand.testing import steadyhand_sim``) to
your ``conftest.py``. This module imports without pytest installed.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from .context import NO_CONTEXT, CallContext
from .errors import ConfigurationError
from .providers.base import Provider
from .types import Choice, Chunk, FinishReason, Message, ModelRequest, ModelResponse, ToolCallDelta, Usage

__all__ = ["FunctionProvider", "QueueProvider", "chunks_of", "steadyhand_sim", "text_response"]

Answer = ModelResponse | str
_PIECES = re.compile(r"\S+\s*|\s+")


def text_response(
    text: str,
    *,
    model: str = "test-model",
    provider: str = "test",
    finish_reason: FinishReason = "stop",
    usage: Usage | None = None,
    id: str = "resp-test",
) -> ModelResponse:
    """A one-choice response carrying ``text``."""
    return ModelResponse(
        id=id,
        model=model,
        provider=provider,
        choices=[Choice(message=Message(role="assistant", content=text), finish_reason=finish_reason)],
        usage=usage or Usage(),
    )


def _as_response(answer: Answer, request: ModelRequest, provider: str) -> ModelResponse:
    if isinstance(answer, ModelResponse):
        return answer
    if isinstance(answer, str):
        return text_response(answer, model=request.model, provider=provider)
    raise ConfigurationError(f"a test provider must return a ModelResponse or str, not {answer!r}")


def chunks_of(response: ModelResponse) -> list[Chunk]:
    """The chunks a provider would stream for ``response``: text word by word, then finish and usage."""
    out: list[Chunk] = []
    for choice in response.choices:
        for piece in _PIECES.findall(choice.message.text):
            out.append(Chunk(index=choice.index, text=piece, id=response.id, model=response.model))
        if choice.message.tool_calls:
            deltas = [
                ToolCallDelta(index=i, id=c.id, name=c.name, arguments=c.arguments)
                for i, c in enumerate(choice.message.tool_calls)
            ]
            out.append(Chunk(index=choice.index, tool_calls=deltas, id=response.id, model=response.model))
        out.append(
            Chunk(
                index=choice.index, finish_reason=choice.finish_reason, id=response.id, model=response.model
            )
        )
    out.append(Chunk(usage=response.usage, id=response.id, model=response.model))
    return out


class FunctionProvider(Provider):
    """Answers with ``fn(request)``; ``fn`` may be sync or async and return a ModelResponse or a str.

    Streams are the answer cut into word-sized chunks. Every request is kept in :attr:`history`.
    """

    def __init__(
        self, fn: Callable[[ModelRequest], Answer | Awaitable[Answer]], *, name: str = "function"
    ) -> None:
        self.fn = fn
        self.name = name
        self.history: list[ModelRequest] = []

    def _call_sync(self, request: ModelRequest) -> ModelResponse:
        self.history.append(request)
        result = self.fn(request)
        if inspect.isawaitable(result):
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return _as_response(asyncio.run(_await(result)), request, self.name)
            close = getattr(result, "close", None)
            if close is not None:
                close()
            raise ConfigurationError(
                "an async function cannot answer a sync call inside an event loop; use AsyncClient"
            )
        return _as_response(result, request, self.name)

    async def _call_async(self, request: ModelRequest) -> ModelResponse:
        self.history.append(request)
        result = self.fn(request)
        if inspect.isawaitable(result):
            result = await result
        return _as_response(result, request, self.name)

    def complete(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> ModelResponse:
        return self._call_sync(request)

    async def acomplete(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> ModelResponse:
        return await self._call_async(request)

    def stream(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> Iterator[Chunk]:
        yield from chunks_of(self._call_sync(request))

    async def astream(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> AsyncIterator[Chunk]:
        for chunk in chunks_of(await self._call_async(request)):
            yield chunk


async def _await(result: Awaitable[Answer]) -> Answer:
    return await result


class QueueProvider(FunctionProvider):
    """Answers with what was enqueued, in order: responses, strings, or exceptions (raised).

    Raises ``AssertionError`` when a call finds the queue empty, so a test fails where it over-calls.
    """

    def __init__(self, *, name: str = "queue") -> None:
        super().__init__(self._next, name=name)
        self._queue: list[Answer | BaseException] = []

    def enqueue(self, *items: Answer | BaseException) -> QueueProvider:
        self._queue.extend(items)
        return self

    def _next(self, request: ModelRequest) -> Answer:
        if not self._queue:
            raise AssertionError(
                f"QueueProvider {self.name!r} is empty: call {len(self.history)} ({request.model}) "
                "has no answer; enqueue() more"
            )
        item = self._queue.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    @property
    def pending(self) -> int:
        """How many enqueued answers are left."""
        return len(self._queue)


def _sim_fixture() -> Callable[..., Any]:
    try:
        import pytest
    except ImportError:  # pytest is optional: the fixture only exists where pytest does

        def unavailable() -> None:
            raise ConfigurationError("steadyhand_sim is a pytest fixture; install pytest to use it")

        return unavailable

    @pytest.fixture
    def steadyhand_sim() -> Iterator[Any]:
        """A running simulator on a free loopback port (``.base_url``, ``.requests``)."""
        from .sim import SimServer

        with SimServer() as sim:
            yield sim

    return steadyhand_sim


steadyhand_sim = _sim_fixture()

"""The deadline guard: makes any provider honour ``ctx.deadline``, even one that blocks.

The HTTP driver stops at the deadline itself (its transport's clock starts from the remaining budget).
A provider that does not (a user's function, a test double, a local library) is wrapped in
:class:`DeadlineGuard` by the client: async calls run under ``asyncio.timeout``; sync calls run in a
daemon thread that is abandoned at the deadline (Python cannot interrupt a blocking call; the thread
finishes in the background and its result is dropped).
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

from ..context import NO_CONTEXT, CallContext
from ..errors import ProviderTimeout
from ..providers.wrapper import WrapperProvider
from ..types import Chunk, ModelRequest, ModelResponse
from .driver import aclose_iterator, close_iterator

__all__ = ["DeadlineGuard", "deadline_exceeded"]

_T = TypeVar("_T")
_DONE = object()


def deadline_exceeded(provider: str, request: ModelRequest, ctx: CallContext) -> ProviderTimeout:
    """The error for a call that ran out of time: says how to give it more."""
    return ProviderTimeout(
        "no answer before the call's deadline; give the call more time (timeout= on the call, or the "
        "alias's deadline in steadyhand.toml)",
        phase="total",
        provider=provider,
        model=request.model,
    )


class DeadlineGuard(WrapperProvider):
    """Ends a call at ``ctx.deadline`` whatever the wrapped provider does."""

    enforces_deadline = True

    def _left(self, request: ModelRequest, ctx: CallContext) -> float:
        left = ctx.remaining()
        assert left is not None
        if left <= 0:
            raise deadline_exceeded(self.name, request, ctx)
        return left

    def complete(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> ModelResponse:
        if ctx.deadline is None:
            return self.inner.complete(request, ctx=ctx)
        left = self._left(request, ctx)
        return _in_thread(lambda: self.inner.complete(request, ctx=ctx), left, self, request, ctx)

    async def acomplete(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> ModelResponse:
        if ctx.deadline is None:
            return await self.inner.acomplete(request, ctx=ctx)
        import asyncio  # on first use: a sync app need not import asyncio

        try:
            async with asyncio.timeout(self._left(request, ctx)):
                return await self.inner.acomplete(request, ctx=ctx)
        except TimeoutError:
            raise deadline_exceeded(self.name, request, ctx) from None

    def stream(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> Iterator[Chunk]:
        if ctx.deadline is None:
            return self.inner.stream(request, ctx=ctx)
        return self._guarded_stream(request, ctx)

    def _guarded_stream(self, request: ModelRequest, ctx: CallContext) -> Iterator[Chunk]:
        items: queue.Queue[Any] = queue.Queue()
        stop = threading.Event()

        def produce() -> None:
            iterator = self.inner.stream(request, ctx=ctx)
            try:
                for chunk in iterator:
                    if stop.is_set():
                        break
                    items.put(chunk)
                items.put(_DONE)
            except BaseException as exc:
                items.put(exc)
            finally:
                close_iterator(iterator)

        _start_thread(produce)
        try:
            while True:
                try:
                    item = items.get(timeout=self._left(request, ctx))
                except queue.Empty:
                    raise deadline_exceeded(self.name, request, ctx) from None
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()

    def astream(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> AsyncIterator[Chunk]:
        if ctx.deadline is None:
            return self.inner.astream(request, ctx=ctx)
        return self._guarded_astream(request, ctx)

    async def _guarded_astream(self, request: ModelRequest, ctx: CallContext) -> AsyncIterator[Chunk]:
        import asyncio

        iterator = self.inner.astream(request, ctx=ctx)
        try:
            while True:
                try:
                    async with asyncio.timeout(self._left(request, ctx)):
                        chunk = await anext(iterator)
                except StopAsyncIteration:
                    return
                except TimeoutError:
                    raise deadline_exceeded(self.name, request, ctx) from None
                yield chunk
        finally:
            await aclose_iterator(iterator)


def _start_thread(work: Callable[[], None]) -> None:
    """Run ``work`` on a daemon thread in a copy of the caller's context (its current span goes along)."""
    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(work,), name="steadyhand-deadline", daemon=True).start()


def _in_thread(
    call: Callable[[], _T], timeout: float, guard: DeadlineGuard, request: ModelRequest, ctx: CallContext
) -> _T:
    result: list[Any] = []
    done = threading.Event()

    def run() -> None:
        try:
            result.append((True, call()))
        except BaseException as exc:
            result.append((False, exc))
        finally:
            done.set()

    _start_thread(run)
    if not done.wait(timeout):
        raise deadline_exceeded(guard.name, request, ctx)
    ok, value = result[0]
    if ok:
        return value  # type: ignore[no-any-return]
    raise value

"""The base of every provider that wraps another: policies, guards, instrumentation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from ..context import NO_CONTEXT, CallContext
from ..types import Chunk, ModelRequest, ModelResponse
from .base import Capabilities, Provider

__all__ = ["WrapperProvider"]


class WrapperProvider(Provider):
    """Delegates everything to ``inner``; a subclass overrides only what it changes.

    Name, capabilities and whether the deadline is enforced are the inner provider's, so a stack of
    wrappers looks like the adapter at its bottom to whoever calls it.
    """

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.name = inner.name

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    @property
    def enforces_deadline(self) -> bool:  # type: ignore[override]
        return self.inner.enforces_deadline

    def complete(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> ModelResponse:
        return self.inner.complete(request, ctx=ctx)

    def stream(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> Iterator[Chunk]:
        return self.inner.stream(request, ctx=ctx)

    async def acomplete(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> ModelResponse:
        return await self.inner.acomplete(request, ctx=ctx)

    def astream(self, request: ModelRequest, *, ctx: CallContext = NO_CONTEXT) -> AsyncIterator[Chunk]:
        return self.inner.astream(request, ctx=ctx)

    def close(self) -> None:
        self.inner.close()

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"

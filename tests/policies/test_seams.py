"""The seams the policies and the gateway stand on, each used the way a policy will use it:
a PolicyProvider with attempt spans under the llm span, a retargeting wrapper through the resolver,
shared state across clients, an injected transport, the request-level entry point, deadlines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest

from steadyhand import (
    AsyncClient,
    CallContext,
    Client,
    Config,
    ModelAlias,
    ModelRequest,
    ProviderConfig,
    ProviderTimeout,
    RateLimited,
    ServerError,
)
from steadyhand.errors import StreamInterrupted
from steadyhand.policies import Attempt, Decisions, PolicyProvider, SharedState, StackInfo
from steadyhand.providers import Provider, WrapperProvider
from steadyhand.testing import FunctionProvider, QueueProvider
from steadyhand.tracing import SpanRecord
from steadyhand.types import Message


class Sink:
    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []

    def record(self, span: SpanRecord) -> None:
        self.spans.append(span)


class RetryOnce(PolicyProvider):
    """The shape of the retry policy: one more attempt on a retryable error, each attempt a span."""

    def decide(self, request: ModelRequest, ctx: CallContext, *, now: float) -> Decisions:
        attempt = 1
        while True:
            outcome = yield Attempt(self.inner, request, ctx.replace(attempt=attempt))
            if ctx.span is not None:
                span = ctx.span.child(f"attempt {attempt}", start_time=outcome.started)
                span.status = "ok" if outcome.ok else "error"
                span.error_type = None if outcome.ok else type(outcome.error).__name__
                ctx.span.emit(span)
            retryable = getattr(outcome.error, "retryable", False)
            if outcome.ok or not retryable or attempt == 2:
                return outcome
            attempt += 1


class SeenContexts(WrapperProvider):
    """Records the context each call reaches the bottom of the stack with."""

    def __init__(self, inner: Provider) -> None:
        super().__init__(inner)
        self.seen: list[CallContext] = []

    def complete(self, request: ModelRequest, *, ctx: CallContext = CallContext()) -> object:  # type: ignore[override]
        self.seen.append(ctx)
        return self.inner.complete(request, ctx=ctx)

    async def acomplete(self, request: ModelRequest, *, ctx: CallContext = CallContext()) -> object:  # type: ignore[override]
        self.seen.append(ctx)
        return await self.inner.acomplete(request, ctx=ctx)


def _stack(seen: list[SeenContexts]) -> list[Callable[[Provider, StackInfo], Provider]]:
    def record_contexts(provider: Provider, info: StackInfo) -> Provider:
        wrapper = SeenContexts(provider)
        seen.append(wrapper)
        return wrapper

    def retry(provider: Provider, info: StackInfo) -> Provider:
        return RetryOnce(provider)

    return [record_contexts, retry]


def test_a_policy_retries_with_attempt_spans_under_the_llm_span() -> None:
    fake = QueueProvider().enqueue(RateLimited("busy", status_code=429), "ok")
    sink, seen = Sink(), list[SeenContexts]()
    client = Client(Config(), providers={"q": fake}, tracer=sink, policies=_stack(seen))
    assert client.chat("hi", tags={"user": "u1"}).text == "ok"
    first, second, llm = sink.spans
    assert llm.kind == "llm" and llm.status == "ok"
    assert [s.kind for s in (first, second)] == ["attempt", "attempt"]
    assert {first.parent_id, second.parent_id} == {llm.span_id}  # ids allocated before the call
    assert first.trace_id == second.trace_id == llm.trace_id
    assert (first.status, first.error_type, second.status) == ("error", "RateLimited", "ok")
    (wrapper,) = seen
    assert [c.attempt for c in wrapper.seen] == [1, 2]
    assert all(c.span is not None and c.span.span_id == llm.span_id for c in wrapper.seen)
    assert all(c.tags == {"user": "u1"} and c.traffic == "production" for c in wrapper.seen)


async def test_the_same_policy_runs_async() -> None:
    fake = QueueProvider().enqueue(ServerError("down", status_code=500), "ok")
    sink, seen = Sink(), list[SeenContexts]()
    client = AsyncClient(
        Config(),
        providers={"q": fake},
        tracer=sink,
        policies=_stack(seen),
        traffic="test",
    )
    assert (await client.chat("hi")).text == "ok"
    assert [s.kind for s in sink.spans] == ["attempt", "attempt", "llm"]
    assert [c.attempt for c in seen[0].seen] == [1, 2] and seen[0].seen[0].traffic == "test"


def test_the_drivers_run_on_a_fake_clock() -> None:
    """The decision logic gets times only from outcomes: with a fake clock nothing really waits."""
    clock = iter(float(t) for t in range(100, 200))
    slept: list[float] = []

    class Backoff(PolicyProvider):
        def decide(self, request: ModelRequest, ctx: CallContext, *, now: float) -> Decisions:
            assert now == 100.0
            outcome = yield Attempt(self.inner, request, ctx)
            while not outcome.ok:
                outcome = yield Attempt(self.inner, request, ctx, wait=2.5)
            return outcome

    policy = Backoff(QueueProvider().enqueue(ServerError("x", status_code=500), "ok"))
    policy.clock = lambda: next(clock)
    policy.sleep = slept.append
    assert (
        policy.complete(ModelRequest(model="m", messages=[Message(role="user", content="hi")])).text == "ok"
    )
    assert slept == [2.5]


def _chunky(answer: str) -> FunctionProvider:
    return FunctionProvider(lambda request: answer)


class FailFirst(Provider):
    """Fails before the first chunk on the first stream, mid-stream on the second."""

    name = "flaky"

    def __init__(self) -> None:
        self.streams = 0

    def complete(self, request: ModelRequest, *, ctx: CallContext = CallContext()) -> object:  # type: ignore[override]
        raise NotImplementedError

    async def acomplete(self, request: ModelRequest, *, ctx: CallContext = CallContext()) -> object:  # type: ignore[override]
        raise NotImplementedError

    def stream(self, request: ModelRequest, *, ctx: CallContext = CallContext()) -> Iterator[object]:  # type: ignore[override]
        self.streams += 1
        if self.streams == 1:
            raise ServerError("refused", status_code=503)
        yield from _chunky("one two three").stream(request)
        if self.streams == 2:
            raise ServerError("cut", status_code=500)

    def astream(self, request: ModelRequest, *, ctx: CallContext = CallContext()) -> object:  # type: ignore[override]
        raise NotImplementedError


def test_streams_fail_over_before_the_first_chunk_only() -> None:
    class Failover(PolicyProvider):
        def decide(self, request: ModelRequest, ctx: CallContext, *, now: float) -> Decisions:
            outcome = yield Attempt(self.inner, request, ctx)
            while not outcome.ok:
                outcome = yield Attempt(self.inner, request, ctx.replace(attempt=ctx.attempt + 1))
            return outcome

    flaky = FailFirst()
    client = Client(Config(), providers={"f": flaky}, policies=[lambda p, info: Failover(p)])
    texts: list[str] = []
    with pytest.raises(StreamInterrupted, match="cut") as info, client.stream("hi") as stream:
        texts.extend(stream.text_stream())
    assert flaky.streams == 2  # refused -> failed over; cut after the first chunk -> the caller's error
    assert "".join(texts) == info.value.partial_text == "one two three"
    assert isinstance(info.value.__cause__, ServerError)  # the answer had started: never failed over


def test_a_wrapper_retargets_through_the_resolver_and_the_span_names_who_answered() -> None:
    primary = QueueProvider(name="primary").enqueue(ServerError("down", status_code=500))
    backup = QueueProvider(name="backup").enqueue("from backup")
    config = Config(
        providers={"sim": ProviderConfig(kind="sim")},
        models={"main": ModelAlias(target="primary:p-1"), "spare": ModelAlias(target="backup:b-1")},
    )

    class Fallback(PolicyProvider):
        def __init__(self, inner: Provider, info: StackInfo) -> None:
            super().__init__(inner)
            self.info = info

        def decide(self, request: ModelRequest, ctx: CallContext, *, now: float) -> Decisions:
            outcome = yield Attempt(self.inner, request, ctx)
            if outcome.ok:
                return outcome
            target = self.info.resolver.resolve("spare")
            retargeted = request.model_copy(update={"model": target.model})
            outcome = yield Attempt(self.info.resolver.provider(target), retargeted, ctx.replace(attempt=2))
            if outcome.ok and ctx.span is not None:
                ctx.span.answered_by(target.provider, target.model)
            return outcome

    sink = Sink()
    client = Client(
        config,
        providers={"primary": primary, "backup": backup},
        tracer=sink,
        policies=[lambda p, info: Fallback(p, info) if info.target.alias == "main" else p],
    )
    assert client.chat("hi", model="main").text == "from backup"
    assert backup.history[0].model == "b-1"
    (llm,) = sink.spans
    assert (llm.model_alias, llm.provider, llm.model) == ("main", "backup", "b-1")


def test_shared_state_is_injected_not_per_client() -> None:
    state = SharedState()

    def count(provider: Provider, info: StackInfo) -> Provider:
        counter = info.state.get("calls", lambda: [0])

        class Counting(WrapperProvider):
            def complete(self, request: ModelRequest, *, ctx: CallContext = CallContext()) -> object:  # type: ignore[override]
                counter[0] += 1
                return super().complete(request, ctx=ctx)

        return Counting(provider)

    for _ in range(2):
        client = Client(Config(), providers={"f": _chunky("ok")}, policies=[count], state=state)
        client.chat("hi")
    assert state.get("calls", lambda: [0]) == [2]
    alone = Client(Config(), providers={"f": _chunky("ok")}, policies=[count])
    alone.chat("hi")
    assert alone.state is not state and state.get("calls", lambda: [0]) == [2]


def test_complete_takes_a_ready_request_with_an_alias() -> None:
    fake = FunctionProvider(lambda request: f"model={request.model}")
    config = Config(
        providers={"sim": ProviderConfig(kind="sim")}, models={"fast": ModelAlias(target="fn:m-7")}
    )
    client = Client(config, providers={"fn": fake})
    request = ModelRequest(model="fast", messages=[Message(role="user", content="hi")], max_tokens=5)
    assert client.complete(request).text == "model=m-7"
    assert request.model == "fast"  # the caller's request is not changed
    with client.complete_stream(request) as stream:
        assert stream.until_done().text == "model=m-7"
    assert fake.history[-1].max_tokens == 5


def _sleepy(seconds: float) -> FunctionProvider:
    def answer(request: ModelRequest) -> str:
        time.sleep(seconds)
        return "late"

    return FunctionProvider(answer)


def test_every_provider_honours_the_deadline_sync() -> None:
    client = Client(Config(), providers={"slow": _sleepy(30)})
    started = time.monotonic()
    with pytest.raises(ProviderTimeout) as info:
        client.chat("hi", timeout=0.2)
    assert info.value.phase == "total"
    assert time.monotonic() - started < 10  # a hang bound, not a latency target: without it, 30 s


def test_a_stream_from_a_blocking_provider_honours_the_deadline() -> None:
    class SlowChunks(FailFirst):
        def stream(self, request: ModelRequest, *, ctx: CallContext = CallContext()) -> Iterator[object]:  # type: ignore[override]
            yield from _chunky("first").stream(request)
            time.sleep(30)
            yield from _chunky("never").stream(request)

    client = Client(Config(), providers={"slow": SlowChunks()})
    with pytest.raises(ProviderTimeout), client.stream("hi", timeout=0.5) as stream:
        for _ in stream:
            pass


async def test_every_provider_honours_the_deadline_async() -> None:
    async def answer(request: ModelRequest) -> str:
        await asyncio.sleep(30)
        return "late"

    client = AsyncClient(Config(), providers={"slow": FunctionProvider(answer)})
    with pytest.raises(ProviderTimeout):
        await asyncio.wait_for(client.chat("hi", timeout=0.2), timeout=10)


def test_a_deadline_is_not_imposed_without_a_timeout() -> None:
    client = Client(Config(), providers={"slow": _sleepy(0.3)})
    assert client.chat("hi").text == "late"


def test_a_guarded_provider_still_sees_the_callers_span() -> None:
    from steadyhand.tracing import current_span

    seen: list[object] = []

    def answer(request: ModelRequest) -> str:
        seen.append(current_span())
        return "ok"

    sink = Sink()
    client = Client(Config(), providers={"f": FunctionProvider(answer)}, tracer=sink)
    client.chat("hi", timeout=5)  # runs on the guard's thread
    (llm,) = sink.spans
    assert getattr(seen[0], "span_id", None) == llm.span_id


def test_with_route_copies_like_model_copy() -> None:
    from steadyhand.policies.driver import with_route
    from steadyhand.types import ModelResponse

    response = ModelResponse.model_validate(
        {
            "id": "r1",
            "model": "m",
            "provider": "p",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
            ],
        }
    )
    route = object()
    fast, slow = with_route(response, route), response.model_copy(update={"route": route})
    assert fast == slow and fast is not response and fast.route is route and response.route is None
    assert fast.model_fields_set == slow.model_fields_set and fast.model_dump() == slow.model_dump()
    fast.model = "changed"  # a copy: the original keeps its fields
    assert response.model == "m"

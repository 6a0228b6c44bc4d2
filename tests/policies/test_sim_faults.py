"""The issue's fault list, against the simulator over real HTTP, sync and async, streamed and not.

Each call ends inside its deadline with the complete correct answer or a clean typed error, and each
test asserts the requests the simulator saw (attempts, gaps, targets).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from steadyhand import Timeouts
from steadyhand._config import ModelAlias
from steadyhand.errors import ContentFiltered, StreamInterrupted
from steadyhand.sim import Fault, Match, Rule, Scenario, SimServer

from ._simcalls import MODES, call

BACKUP = "sim:sim-basic:backup"
ANSWER = "Hello! This is the steadyhand simulator answering as sim-basic:backup."
FAST = {"attempts": 3, "base": 0.01, "cap": 2.0}


def _scenario(*rules: Rule) -> Scenario:
    return Scenario(rules=list(rules))


def _once(model: str, kind: str, **fault: object) -> Rule:
    """``model`` fails with ``kind`` on its first request only."""
    return Rule(match=Match(model=model), faults=[Fault(kind=kind, times=1, **fault)])


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    """The built-in fault models (stateless: every request to ``sim-503`` fails the same way)."""
    cut_early = Rule(match=Match(model="cut-early*"), faults=[Fault(kind="cut", after_chunks=0)])
    garbled_early = Rule(
        match=Match(model="garbled-early*"), faults=[Fault(kind="malformed-sse", after_chunks=0)]
    )
    with SimServer(_scenario(cut_early, garbled_early)) as server:
        yield server


@pytest.fixture
def fresh() -> Iterator[SimServer]:
    """A simulator whose ``times``-limited faults start afresh for this test."""
    rules = [
        _once("once-429", "429", retry_after=0.4),
        _once("once-429-bare", "429", retry_after=None),
        _once("once-500", "500", retry_after=None),
    ]
    with SimServer(_scenario(*rules)) as server:
        yield server


@pytest.mark.parametrize("mode", MODES)
def test_429_with_retry_after_waits_at_least_that_long(mode: str, fresh: SimServer) -> None:
    result = call(mode, fresh, ModelAlias(target="sim:once-429", retry=FAST, deadline=8.0))
    assert result.error is None and result.models == ["once-429", "once-429"]
    assert result.gaps[0] >= 0.4 and result.route is not None and result.route.steps[1].wait >= 0.4
    assert [s.status for s in result.route.steps] == [429, None]


@pytest.mark.parametrize("mode", MODES)
def test_429_without_retry_after_backs_off_and_retries(mode: str, fresh: SimServer) -> None:
    result = call(mode, fresh, ModelAlias(target="sim:once-429-bare", retry=FAST, deadline=8.0))
    assert result.error is None and result.models == ["once-429-bare"] * 2
    assert result.route is not None and result.route.steps[0].error == "RateLimited"


@pytest.mark.parametrize("mode", MODES)
def test_500_once_then_the_same_target_answers(mode: str, fresh: SimServer) -> None:
    alias = ModelAlias(target="sim:once-500", fallbacks=(BACKUP,), retry=FAST, deadline=8.0)
    result = call(mode, fresh, alias)
    assert result.error is None and result.models == ["once-500", "once-500"]
    assert result.text.startswith("Hello!") and result.route is not None
    assert result.route.answered_by == "sim:once-500"


@pytest.mark.parametrize("mode", MODES)
def test_a_persistent_503_goes_to_the_fallback(mode: str, sim: SimServer) -> None:
    alias = ModelAlias(target="sim:sim-503", fallbacks=(BACKUP,), retry={"attempts": 3, "cap": 0.5})
    result = call(mode, sim, alias, timeout=8.0)
    assert result.error is None and result.text == ANSWER and result.model == "sim-basic:backup"
    assert result.models == ["sim-503", "sim-basic:backup"]  # Retry-After 1 s > cap: not waited for


@pytest.mark.parametrize("mode", MODES)
def test_a_connection_reset_is_retried_then_failed_over(mode: str, sim: SimServer) -> None:
    alias = ModelAlias(target="sim:sim-reset", fallbacks=(BACKUP,), retry={"attempts": 2, "base": 0.01})
    result = call(mode, sim, alias, timeout=8.0)
    assert result.error is None and result.text == ANSWER
    assert result.models == ["sim-reset", "sim-reset", "sim-basic:backup"]
    assert result.route is not None and result.route.steps[0].error == "ProviderConnectionError"


@pytest.mark.parametrize("mode", MODES)
def test_no_answer_at_all_fails_over_once_well_before_the_deadline(mode: str, sim: SimServer) -> None:
    alias = ModelAlias(target="sim:sim-hang", fallbacks=(BACKUP,), retry={"attempts": 3}, deadline=2.0)
    result = call(mode, sim, alias)
    assert result.error is None and result.text == ANSWER
    assert result.models == ["sim-hang", "sim-basic:backup"]  # one attempt, not three
    route = result.route
    assert route is not None and route.deadline_left is not None and route.deadline_left > 0
    hang = route.steps[0]
    assert hang.error == "ProviderTimeout" and hang.duration < 1.5  # its share (half), not the deadline


@pytest.mark.parametrize("mode", MODES)
def test_a_first_token_slower_than_the_limit_fails_over(mode: str, sim: SimServer) -> None:
    alias = ModelAlias(target="sim:sim-slow-first-token", fallbacks=(BACKUP,), retry={"attempts": 3})
    result = call(mode, sim, alias, timeouts=Timeouts(first_token=0.3), timeout=8.0)
    assert result.error is None and result.text == ANSWER
    assert result.models == ["sim-slow-first-token", "sim-basic:backup"]
    assert result.route is not None and result.route.steps[0].error == "ProviderTimeout"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", ["cut-early", "garbled-early"])
def test_a_stream_broken_before_content_fails_over_transparently(
    mode: str, model: str, sim: SimServer
) -> None:
    alias = ModelAlias(target=f"sim:{model}", fallbacks=(BACKUP,), retry={"attempts": 1})
    result = call(mode, sim, alias, timeout=8.0)
    assert result.error is None
    if model == "garbled-early" and not mode.endswith("stream"):
        assert result.models == [model]  # a complete answer has no SSE to garble: the primary answers
    else:
        assert result.models == [model, "sim-basic:backup"] and result.text == ANSWER


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", ["sim-cut", "sim-stall", "sim-malformed-sse"])
def test_a_stream_broken_after_content_keeps_the_partial_text(mode: str, model: str, sim: SimServer) -> None:
    alias = ModelAlias(target=f"sim:{model}", fallbacks=(BACKUP,), retry={"attempts": 1})
    result = call(mode, sim, alias, timeouts=Timeouts(stall=0.3), timeout=8.0)
    if not mode.endswith("stream"):
        assert result.error is None and result.text
        if model == "sim-malformed-sse":
            assert result.models == [model]
        else:  # a body cut or stalled midway is retried elsewhere: nothing was shown yet
            assert result.models == [model, "sim-basic:backup"]
        return
    assert isinstance(result.error, StreamInterrupted), result.error
    assert result.error.partial_text and result.error.partial_text == result.text
    assert result.models == [model]  # never sent on: the caller saw text, a fallback would repeat it


@pytest.mark.parametrize("mode", MODES)
def test_a_missing_done_marker_is_still_a_whole_answer(mode: str, sim: SimServer) -> None:
    alias = ModelAlias(target="sim:sim-no-done", fallbacks=(BACKUP,), retry={"attempts": 3})
    result = call(mode, sim, alias, timeout=8.0)
    assert result.error is None and result.text.startswith("Hello!") and result.models == ["sim-no-done"]


@pytest.mark.parametrize("mode", MODES)
def test_a_context_window_error_goes_to_the_larger_model_without_a_retry(mode: str, sim: SimServer) -> None:
    fallbacks = (
        {"target": "sim:sim-basic:other", "on": ["rate_limited"]},
        {"target": "sim:sim-basic:large", "on": ["context_window"]},
    )
    alias = ModelAlias(target="sim:sim-context-length", fallbacks=fallbacks, retry={"attempts": 3})
    result = call(mode, sim, alias, timeout=8.0)
    assert result.error is None and result.model == "sim-basic:large"
    assert result.models == ["sim-context-length", "sim-basic:large"]


@pytest.mark.parametrize("mode", MODES)
def test_a_content_filter_is_not_sent_to_a_fallback_unless_configured(mode: str, sim: SimServer) -> None:
    alias = ModelAlias(target="sim:sim-content-filter", fallbacks=(BACKUP,), retry={"attempts": 3})
    result = call(mode, sim, alias, timeout=8.0)
    assert isinstance(result.error, ContentFiltered) and result.models == ["sim-content-filter"]
    filtered = ({"target": BACKUP, "on": ["content_filter"]},)
    result = call(mode, sim, ModelAlias(target="sim:sim-content-filter", fallbacks=filtered), timeout=8.0)
    assert result.error is None and result.models == ["sim-content-filter", "sim-basic:backup"]


@pytest.mark.parametrize("mode", MODES)
def test_a_fallback_that_rejects_prefill_is_skipped_without_a_request(mode: str, sim: SimServer) -> None:
    messages = [{"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "Hi"}]
    alias = ModelAlias(
        target="sim:sim-500", fallbacks=("strict:sim-no-prefill", BACKUP), retry={"attempts": 1}
    )
    strict = {"strict": {"capabilities": {"assistant_prefill": False}}}
    result = call(mode, sim, alias, messages, providers=strict, timeout=8.0)
    assert result.error is None and result.models == ["sim-500", "sim-basic:backup"]
    assert result.route is not None
    assert [(s.target, s.outcome) for s in result.route.steps] == [
        ("sim:sim-500", "error"),
        ("strict:sim-no-prefill", "skipped"),
        ("sim:sim-basic:backup", "ok"),
    ]
    assert result.route.steps[1].error == "unfit: no assistant prefill"

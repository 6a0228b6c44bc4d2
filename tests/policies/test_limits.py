"""The rate-limit rules with plain numbers for time, on both backends: the in-memory window and the
same rules as a Lua script in a real redis-server (``now`` is an argument, so a fake clock works
across the wire too)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from services import RedisServer
from steadyhand import ConfigurationError
from steadyhand.policies import Admission, RateLimit, SharedState
from steadyhand.policies.limits import Caps

from ._fakes import REDIS_CLOCK

_ids = itertools.count()


@pytest.fixture(params=["memory", "redis"])
def state(request: pytest.FixtureRequest) -> Iterator[SharedState]:
    if request.param == "memory":
        yield SharedState()
        return
    from steadyhand.policies.redis_state import RedisState

    server: RedisServer = request.getfixturevalue("redis_server")
    shared = RedisState(server.url)
    yield shared
    shared.close()


def _key() -> str:
    return f"test.limit:{next(_ids)}"


def _reserve(
    state: SharedState, key: str, now: float, limit: RateLimit, need: int = 0, traffic: str = "production"
) -> Admission:
    return state.reserve(
        key,
        f"r{next(_ids)}",
        now=now,
        window=limit.window,
        caps=limit.caps(traffic),
        need=need,
        traffic=traffic,
    )


def test_rpm_admits_up_to_the_limit_then_names_the_wait(state: SharedState) -> None:
    limit, key = RateLimit(rpm=3), _key()
    assert [_reserve(state, key, t, limit).admitted for t in (0.0, 10.0, 20.0)] == [True, True, True]
    refused = _reserve(state, key, 30.0, limit)
    assert not refused.admitted and refused.wait == pytest.approx(
        30.0, abs=REDIS_CLOCK
    )  # the first leaves at 60
    assert _reserve(state, key, 60.0, limit).admitted
    assert not _reserve(state, key, 61.0, limit).admitted


def test_tpm_reserves_tokens_and_settling_gives_back_the_unused(state: SharedState) -> None:
    limit, key = RateLimit(tpm=1000), _key()
    first = _reserve(state, key, 0.0, limit, need=600)
    assert first.admitted and first.id is not None
    refused = _reserve(state, key, 1.0, limit, need=600)
    assert not refused.admitted and refused.wait == pytest.approx(59.0, abs=REDIS_CLOCK)
    state.settle(key, first.id, 300)  # the answer used less than max_tokens
    assert _reserve(state, key, 2.0, limit, need=600).admitted
    assert not _reserve(state, key, 3.0, limit, need=200).admitted  # 300 + 600 + 200 > 1000


def test_a_released_reservation_frees_its_request_and_tokens(state: SharedState) -> None:
    limit, key = RateLimit(rpm=1, tpm=100), _key()
    taken = _reserve(state, key, 0.0, limit, need=100)
    assert taken.admitted and taken.id is not None
    assert not _reserve(state, key, 1.0, limit, need=1).admitted
    state.release(key, taken.id)
    assert _reserve(state, key, 2.0, limit, need=100).admitted


def test_a_call_larger_than_the_window_can_never_be_admitted(state: SharedState) -> None:
    refused = _reserve(state, _key(), 0.0, RateLimit(tpm=100), need=101)
    assert not refused.admitted and refused.wait is None


def test_a_traffic_share_caps_test_traffic_but_not_production(state: SharedState) -> None:
    limit, key = RateLimit(rpm=10, shares={"test": 0.2}), _key()
    tests = [_reserve(state, key, float(i), limit, traffic="test").admitted for i in range(5)]
    assert tests == [True, True, False, False, False]  # 20% of 10
    waiting = _reserve(state, key, 5.0, limit, traffic="test")
    assert waiting.wait == pytest.approx(55.0, abs=REDIS_CLOCK)  # when the first test call leaves
    production = [_reserve(state, key, 6.0 + i, limit).admitted for i in range(9)]
    assert production == [True] * 8 + [False]  # the other 80% stays production's


def test_production_may_use_what_tests_leave_and_tests_cannot_starve_it(state: SharedState) -> None:
    limit, key = RateLimit(rpm=10, shares={"test": 0.2}), _key()
    assert all(_reserve(state, key, float(i), limit).admitted for i in range(10))  # the whole limit
    assert not _reserve(state, key, 11.0, limit, traffic="test").admitted


def test_a_short_window_spreads_the_minute(state: SharedState) -> None:
    limit, key = RateLimit(rpm=120, window=1.0), _key()  # 2 per second
    assert [_reserve(state, key, t, limit).admitted for t in (0.0, 0.1, 0.2)] == [True, True, False]
    assert _reserve(state, key, 1.05, limit).admitted


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({}, "rpm, tpm or both"),
        ({"rpm": 0}, "rpm must be"),
        ({"rpm": 10, "window": 1.0}, "less than one request per window"),
        ({"rpm": 10, "shares": {"tests": 0.2}}, "unknown traffic class 'tests'"),
        ({"rpm": 10, "shares": {"test": 1.5}}, "shares.test must be in (0, 1]"),
        ({"rpm": 10, "shares": {"test": 0.01}}, "shares.test = 0.01"),
    ],
)
def test_wrong_settings_say_what_to_fix(settings: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        RateLimit(**settings)  # type: ignore[arg-type]


def test_caps_scale_to_the_window_and_the_share() -> None:
    assert RateLimit(rpm=600, tpm=60000, window=6.0, shares={"eval": 0.5}).caps("eval") == Caps(
        60.0, 6000.0, 30.0, 3000.0
    )


def test_bytes_with_a_ttl(state: SharedState) -> None:
    key = _key()
    assert state.get_bytes(key) is None
    state.set_bytes(key, b"answer", ttl=30)
    assert state.get_bytes(key) == b"answer"
    state.delete(key)
    assert state.get_bytes(key) is None

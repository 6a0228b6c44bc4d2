"""Suite-wide: a scrubbed environment, an empty working directory and a loopback-only network for
every test (see ``_hermetic``), ``reap`` for the processes a test starts (see ``_procs``), and one
throwaway PostgreSQL cluster and one Redis server per session.

Hypothesis runs without its per-example deadline (200 ms by default) and without the too-slow health
check: both are wall-clock bounds, which a loaded machine breaks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from _hermetic import _hermetic, pytest_runtest_call, pytest_sessionfinish, pytest_sessionstart
from _procs import reap
from services import PostgresCluster, RedisServer, ServiceMissing

__all__ = [
    "_hermetic",
    "pg_cluster",
    "pytest_runtest_call",
    "pytest_sessionfinish",
    "pytest_sessionstart",
    "reap",
    "redis_server",
]

settings.register_profile("steadyhand", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("steadyhand")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """One cluster per test session; a missing server fails (never skips), naming the Debian package."""
    try:
        cluster = PostgresCluster()
    except ServiceMissing as e:
        pytest.fail(f"{e}{' (CI)' if os.environ.get('CI') else ''}", pytrace=False)
    with cluster:
        yield cluster


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server per test session; missing fails (never skips), naming the Debian package."""
    try:
        server = RedisServer()
    except ServiceMissing as e:
        pytest.fail(f"{e}{' (CI)' if os.environ.get('CI') else ''}", pytrace=False)
    with server:
        yield server

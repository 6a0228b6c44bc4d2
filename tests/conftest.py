"""Fixtures shared by the test packages: one throwaway PostgreSQL cluster per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from services import PostgresCluster, ServiceMissing


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """One cluster per test session; a missing server fails (never skips), naming the Debian package."""
    try:
        cluster = PostgresCluster()
    except ServiceMissing as e:
        pytest.fail(f"{e}{' (CI)' if os.environ.get('CI') else ''}", pytrace=False)
    with cluster:
        yield cluster

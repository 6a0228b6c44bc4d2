"""Fixtures for the simulator tests: a running SimServer and OpenAI schema validators."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import _contract
from steadyhand.sim import SimServer

Validate = Callable[[str, Any], None]


@pytest.fixture(scope="session")
def validate() -> Validate:
    """``validate(schema_name, doc)`` fails the test with the first schema error."""
    return _contract.validate


@pytest.fixture(scope="session")
def sim() -> Iterator[SimServer]:
    """One default simulator (no scenario) shared by the tests that only use model-name behaviour."""
    with SimServer(seed=0) as server:
        yield server

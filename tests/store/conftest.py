"""Every store test runs on SQLite (a temp file) and on a throwaway PostgreSQL cluster."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from services import PostgresCluster
from steadyhand.store import Store, open_store
from steadyhand.tracing.records import SpanRecord

_names = itertools.count()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database (no tables) on each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'steadyhand.db'}"
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"t{os.getpid()}_{next(_names)}")


@pytest.fixture
def store(empty_url: str) -> Iterator[Store]:
    with open_store(empty_url) as s:
        yield s


def llm_span(**overrides: Any) -> SpanRecord:
    """A complete LLM span, every field set."""
    start = overrides.pop("start_time", time.time())
    fields: dict[str, Any] = {
        "name": "chat",
        "kind": "llm",
        "start_time": start,
        "end_time": start + 0.8,
        "first_token_time": start + 0.2,
        "status": "ok",
        "attributes": {"gen_ai.system": "openai", "retry": 0},
        "tags": {"user": "u1", "feature": "summarize"},
        "model_alias": "fast",
        "provider": "openai",
        "model": "gpt-4o-mini-2024-07-18",
        "response_model": "gpt-4o-mini-2024-07-18",
        "prompt_version": "summarize@3f2a",
        "request": {
            "messages": [
                {"role": "system", "content": "You are terse. " * 40},
                {"role": "user", "content": "Summarize: the cat sat on the mat."},
            ],
            "parameters": {"temperature": 0.2, "max_tokens": 64},
            "tools": [],
        },
        "response": {"text": "A cat sat.", "tool_calls": []},
        "finish_reason": "stop",
        "input_tokens": 120,
        "output_tokens": 4,
        "cached_input_tokens": 100,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
        "usage_estimated": False,
        "usage_raw": {"prompt_tokens": 120, "completion_tokens": 4},
        "cost_usd": 0.000021,
        "price_version": "2024-09-01",
    }
    fields.update(overrides)
    return SpanRecord(**fields)


@pytest.fixture
def make_span() -> Callable[..., SpanRecord]:
    return llm_span

"""Threads making a provider's first calls at once share one connection pool (none is built and leaked),
for the sync transport and for each async one."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from steadyhand.providers import http_httptools as httptools_module
from steadyhand.providers import http_sync as sync_module
from steadyhand.providers.capabilities import OPENAI
from steadyhand.providers.http_provider import HTTPProvider
from steadyhand.providers.openai_chat import OpenAIChat


class _SlowPool:
    """Stands in for a transport class: slow to build, so racing first calls overlap."""

    built: list[_SlowPool] = []
    lock = threading.Lock()

    def __init__(self) -> None:
        time.sleep(0.05)
        with self.lock:
            self.built.append(self)

    def close(self) -> None:
        pass


# (module, class replaced, how a provider gets its transport)
CASES: dict[str, tuple[Any, str, Callable[[HTTPProvider], object]]] = {
    "sync httptools (default)": (sync_module, "HttptoolsTransport", lambda p: p._sync()),
    "async httptools (default)": (httptools_module, "AsyncHttptoolsTransport", lambda p: p._async()),
}


@pytest.mark.parametrize("case", CASES)
def test_concurrent_first_calls_build_one_transport(monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    module, name, get = CASES[case]
    monkeypatch.setattr(module, name, _SlowPool)
    _SlowPool.built.clear()
    provider = HTTPProvider(
        OpenAIChat(base_url="http://h/v1", api_key=None, provider_name="p", capabilities=OPENAI)
    )
    with ThreadPoolExecutor(max_workers=8) as pool:
        transports = list(pool.map(lambda _: get(provider), range(8)))
    assert len(_SlowPool.built) == 1 and all(t is transports[0] for t in transports)

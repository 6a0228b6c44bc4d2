"""Concurrent calls against the real model: they queue on the server, none cuts another short.

llama-cpp-python's server interrupts a running stream when another request arrives unless it runs with
``--interrupt_requests False`` (``LocalModelServer`` starts it that way): with 8 concurrent streams, 7
used to end in ``StreamInterrupted``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from steadyhand import Client, Timeouts
from steadyhand.local import LocalModelServer

from .conftest import local_config

pytestmark = pytest.mark.real_model

QUESTIONS = [f"In one sentence, name a use for the number {n}." for n in range(8)]


@pytest.mark.timeout(900)  # eight queued answers on a loaded 2-core machine; only a hang should fail
def test_eight_concurrent_streams_all_complete(local_server: LocalModelServer) -> None:
    # Queued streams wait for the ones before them: generous limits, so only an interruption fails.
    config = local_config(local_server, timeouts=Timeouts(connect=10, stall=240, total=600))
    with Client(config) as client:

        def ask(question: str) -> tuple[str, str, int]:
            with client.stream(question, model="local", temperature=0.0, seed=3, max_tokens=12) as stream:
                text = "".join(stream.text_stream())
                return text, stream.response.finish_reason, len(stream.response.text)

        with ThreadPoolExecutor(max_workers=len(QUESTIONS)) as pool:
            results = list(pool.map(ask, QUESTIONS))  # a StreamInterrupted would raise here

        alone = [
            client.chat(q, model="local", temperature=0.0, seed=3, max_tokens=12).text for q in QUESTIONS[:2]
        ]
    assert len(results) == 8
    assert all(text.strip() and finish in ("stop", "length") for text, finish, _ in results)
    assert [text for text, _, _ in results[:2]] == alone  # queued, not mixed: the same answers as alone

"""What happens on the server when a call gives up: a documented limit of llama-cpp-python's server.

A non-streamed request runs in the server's thread pool and never checks whether its client is still
there, so a call that times out (or is cancelled) leaves the server generating to ``max_tokens``; a
streamed request checks after every token and stops. The server's log says how many tokens each
completion decoded (``eval time = ... / N runs``), so the difference is read there, not timed.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from steadyhand import Client, Timeouts
from steadyhand.errors import ProviderTimeout, StreamInterrupted
from steadyhand.local import LocalModelServer

from .conftest import local_config

pytestmark = pytest.mark.real_model

STORY = [{"role": "user", "content": "Write a long story about a dragon."}]
LONG: dict[str, Any] = {"temperature": 0.0, "seed": 1, "max_tokens": 80}
_RUNS = re.compile(r"^llama_perf_context_print:\s+eval time =.*/\s*(\d+) runs", re.M)


def _decoded(server: LocalModelServer) -> list[int]:
    """Tokens decoded by each completion so far, from the server's log."""
    return [int(n) for n in _RUNS.findall(server.log_tail(lines=100_000))]


def _settle(client: Client) -> None:
    """A short call queues behind whatever the server still runs, so its log is complete after it."""
    client.chat("Say hi.", model="local", temperature=0.0, seed=1, max_tokens=2)


@pytest.mark.timeout(900)  # the abandoned call decodes its whole answer before the next one runs
def test_a_timed_out_non_streamed_call_runs_on_a_stream_stops(local_server: LocalModelServer) -> None:
    patient = Timeouts(connect=10, stall=600, total=900)  # the waited-for call on a loaded machine
    with Client(local_config(local_server, timeouts=patient)) as client:
        whole = client.chat(STORY, model="local", **LONG)  # the same answer, waited for
        _settle(client)
        full = _decoded(local_server)[-2]  # the story's completion, as the log counts it
        assert whole.usage.output_tokens and whole.usage.output_tokens >= 40  # long enough to cut

        before = len(_decoded(local_server))
        with pytest.raises(ProviderTimeout):
            client.chat(STORY, model="local", timeout=0.5, **LONG)
        _settle(client)
        after_plain = _decoded(local_server)[before:]

        before = len(_decoded(local_server))
        with (
            pytest.raises((ProviderTimeout, StreamInterrupted)),
            client.stream(STORY, model="local", timeout=0.5, **LONG) as stream,
        ):
            for _ in stream.text_stream():
                pass
        _settle(client)
        after_stream = _decoded(local_server)[before:]
    assert max(after_plain) >= full - 1  # the server decoded the whole answer for nobody
    assert max(after_stream) < full // 2  # the closed stream stopped it (it may not even log a summary)

"""`make demo` is also a smoke test: it must finish on its own, exit 0, and show every typed error."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from steadyhand.cli.demo import FAULTS, run


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The demo's output, run once for the module, and its work directory."""
    workdir = tmp_path_factory.mktemp("demo")
    console = Console(record=True, width=200, force_terminal=False)
    assert run(console, workdir=workdir) == 0
    return console.export_text(), workdir


def test_demo_runs_to_completion_and_shows_each_fault(demo: tuple[str, Path]) -> None:
    out, workdir = demo
    assert (workdir / "demo.db").is_file()
    for section in ("One call, three provider APIs", "Streaming", "Faults surface as typed errors", "traced"):
        assert section in out
    structured = out.split("Structured output")[1].split("Every call traced")[0]
    for step in ("surrounding_prose", "code_fence", "trailing_commas", "number_in_string", "single_to_list"):
        assert step in structured, step
    assert "same_error" in structured and "repair log" in structured  # the cut answer is not passed off
    for label, _model, _streamed in FAULTS:
        assert label in out
    for error in (
        "RateLimited (429)",
        "QuotaExhausted (429)",
        "Overloaded (529)",
        "ServerError (500)",
        "ProviderConnectionError",
        "ProviderTimeout",
        "StreamInterrupted",
        "ContextWindowExceeded (400)",
        "ContentFiltered (400)",
    ):
        assert error in out, error
    assert "(completions)" in out and "(messages)" in out and "(chat)" in out
    # the trace tree: the tour's own span with every call under it, failures marked
    assert "demo tour" in out and "chat default" in out and "chat legacy" in out
    assert "RateLimited" in out.split("Every call traced")[1]
    assert " 0 dropped" in out
    # the gateway: a failover through HTTP, a budget refusal, /metrics
    assert "x-steadyhand-route: sim:gpt-4o-2024-08-06; attempts=2" in out
    assert "budget spent -> 429 insufficient_quota" in out
    assert 'steadyhand_gateway_fallbacks_total{model="flaky"} 1.0' in out


def test_the_demo_shows_the_policies_deciding(demo: tuple[str, Path]) -> None:
    """A fault-ridden primary and a healthy fallback, the breaker opening and closing, the decision
    record of a few requests, a cache hit and a degraded answer."""
    policies = demo[0].split("6. Policies")[1].split("7. Every call traced")[0]
    assert "flaky-primary Overloaded 503" in policies and "sim-basic:backup ok" in policies
    assert "skipped (breaker open)" in policies and "half_open" in policies
    assert "a half-open probe closed it" in policies
    assert "decision record of a failed-over call" in policies and "waited" in policies
    assert "cache hit=True, 0 requests sent" in policies and "degraded=True" in policies


def test_demo_shows_a_prompt_with_two_versions_and_labels(demo: tuple[str, Path]) -> None:
    text, workdir = demo
    out = text.split("8. Prompts")[1]
    assert (workdir / "prompts" / "classify_ticket.toml").is_file()
    assert "2 versions of classify_ticket" in out and "2 label moves" in out and "first release" in out
    assert "params.temperature" in out and "+ You label support tickets" in out  # the side-by-side diff
    assert "4 traced calls, each linking its version and label" in out
    assert "production still serves classify_ticket@" in out and "from its cache copy" in out
    assert run(Console(record=True, width=200), workdir=workdir) == 0  # and again, on the same database

"""`make demo` is also a smoke test: it must finish on its own, exit 0, and show every typed error."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from steadyhand.cli.demo import FAULTS, run


def test_demo_runs_to_completion_and_shows_each_fault(tmp_path: Path) -> None:
    console = Console(record=True, width=200, force_terminal=False)
    assert run(console, workdir=tmp_path) == 0
    out = console.export_text()
    assert (tmp_path / "demo.db").is_file()
    for section in ("One call, three provider APIs", "Streaming", "Faults surface as typed errors", "traced"):
        assert section in out
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

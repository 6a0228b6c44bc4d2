"""`make demo` is also a smoke test: it must finish on its own, exit 0, and show every typed error."""

from __future__ import annotations

from rich.console import Console

from steadyhand.cli.demo import FAULTS, run


def test_demo_runs_to_completion_and_shows_each_fault() -> None:
    console = Console(record=True, width=200, force_terminal=False)
    assert run(console) == 0
    out = console.export_text()
    for section in ("One call, three provider APIs", "Streaming", "Faults surface as typed errors"):
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

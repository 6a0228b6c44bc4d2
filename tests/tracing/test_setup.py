"""The pipeline from a Config: Client -> Tracer -> spool -> Store -> CLI, against an in-process simulator.

Also runs the example of docs/tracing-quickstart.md as it is written.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from _docs import DOCS, examples, run_example
from services import PostgresCluster, ServiceMissing
from steadyhand import Client, Config
from steadyhand.cli import app
from steadyhand.errors import ConfigurationError, StoreError
from steadyhand.sim import SimServer
from steadyhand.store import TraceDetail, open_store
from steadyhand.tracing import PriceTable, tracer_from_config

EXAMPLES = examples(DOCS / "tracing-quickstart.md")
_ENV = ("CONFIG", "CASSETTE", "DATABASE_URL", "PRICES", "PROJECT", "SIM_URL")
PRICES = """
version = "team-2025-07"
[models."sim-basic"]
input = 1000.0
output = 3000.0
"""


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer() as server:
        yield server


@pytest.fixture
def env(sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A clean working directory and STEADYHAND_* environment pointing at the simulator."""
    monkeypatch.chdir(tmp_path)
    for key in _ENV:
        monkeypatch.delenv(f"STEADYHAND_{key}", raising=False)
    monkeypatch.setenv("STEADYHAND_SIM_URL", sim.base_url)
    return {"STEADYHAND_SIM_URL": sim.base_url}


def _show(trace_id: str, **env: str) -> str:
    result = CliRunner().invoke(app, ["traces", "show", trace_id], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def _check_call(detail: TraceDetail, prices: PriceTable, *, question: str) -> None:
    """One user span with one priced llm span as its child, request and response stored."""
    [root] = detail.roots
    [call] = root.children
    s = call.span
    assert (root.span.kind, s.kind, s.parent_id) == ("custom", "llm", root.span.span_id)
    assert s.trace_id == root.span.trace_id == detail.trace.trace_id
    assert s.model == "sim-basic" and s.provider == "sim" and s.status == "ok"
    assert s.input_tokens and s.output_tokens and s.input_tokens > 0 and s.output_tokens > 0
    expected = prices.cost("sim-basic", input_tokens=s.input_tokens, output_tokens=s.output_tokens)
    assert expected and s.cost_usd == pytest.approx(expected)
    assert s.price_version == prices.version
    assert detail.trace.cost_usd == pytest.approx(expected)
    assert s.request is not None and question in str(s.request["messages"])
    assert s.response is not None and s.response["choices"][0]["message"]["content"]


def test_the_quickstart_example_runs_end_to_end(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(EXAMPLES) == 1
    url = f"sqlite:///{tmp_path / 'traces.db'}"
    monkeypatch.setenv("STEADYHAND_DATABASE_URL", url)
    namespace = run_example(EXAMPLES[0])  # and it prints what its #> lines say

    detail: TraceDetail = namespace["trace"]
    assert detail.roots[0].span.name == "answer-question" and detail.roots[0].span.tags == {"user": "u1"}
    _check_call(detail, PriceTable.bundled(), question="capital of France")
    reply = namespace["reply"].text
    assert reply and reply == namespace["call"].span.response["choices"][0]["message"]["content"]
    assert not (tmp_path / ".steadyhand" / "steadyhand.db").exists()  # the URL from the env was used

    out = _show(detail.trace.trace_id, **env, STEADYHAND_DATABASE_URL=url)
    assert f"trace {detail.trace.trace_id}" in out
    call = namespace["call"].span
    assert "answer-question [custom]" in out
    assert "└── chat default [llm]" in out and "default → sim-basic" in out
    assert f"tokens {call.input_tokens}/{call.output_tokens}" in out and f"${call.cost_usd:.6f}" in out


def test_defaults_prices_and_project_from_the_environment(env: dict[str, str], tmp_path: Path) -> None:
    table = tmp_path / "prices.toml"
    table.write_text(PRICES)
    config = Config.load(env={**env, "STEADYHAND_PRICES": str(table), "STEADYHAND_PROJECT": "checkout"})
    assert (config.prices, config.project, config.database_url) == (str(table), "checkout", None)
    tracer = tracer_from_config(config, spool_dir=tmp_path / "spool", flush_interval=0.02, exit_timeout=None)
    with Client(config, tracer=tracer) as client:
        with tracer.span("streamed"):
            stream = client.stream("Tell me about the sea.")
            assert stream.until_done().text
        with tracer.span("plain"):
            client.chat("And about mountains?")
    assert tracer.close(timeout=30)  # a bound for hangs only: the first write also creates the tables
    assert tracer.spool_path is not None and not tracer.spool_path.exists()  # all stored, spool removed

    with open_store(None) as store:  # the default file, in the working directory
        assert store.url == "sqlite:///.steadyhand/steadyhand.db"
        page = store.list_traces(project="checkout")
        assert sorted(t.root_span_name or "" for t in page.items) == ["plain", "streamed"]
        questions = {"streamed": "about the sea", "plain": "about mountains"}
        for summary in page.items:
            detail = store.get_trace(summary.trace_id)
            assert detail is not None and detail.trace.project == "checkout"
            _check_call(detail, PriceTable.load(table), question=questions[summary.root_span_name or ""])
    assert "streamed" in _show(page.items[0].trace_id, **env) + _show(page.items[1].trace_id, **env)


def test_the_cli_finds_the_database_in_steadyhand_toml(env: dict[str, str], tmp_path: Path) -> None:
    db = tmp_path / "from-toml.db"
    (tmp_path / "steadyhand.toml").write_text(f'database_url = "sqlite:///{db}"\n')
    config = Config.load()
    assert config.database_url == f"sqlite:///{db}"
    tracer = tracer_from_config(config, spool_dir=None, exit_timeout=None)
    with tracer.span("from-toml") as span:
        pass
    assert tracer.close()
    assert db.exists() and "from-toml" in _show(span.trace_id, **env)
    (tmp_path / "steadyhand.toml").write_text("database_url = 3\n")
    result = CliRunner().invoke(app, ["traces", "list"], env=env)
    assert result.exit_code == 1 and "invalid configuration" in result.output


def test_bad_settings_fail_at_once(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connects: list[object] = []
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        connects.append(address)
        real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    with pytest.raises(ConfigurationError, match="cannot read price table"):
        tracer_from_config(Config(prices=str(tmp_path / "missing.toml")))
    with pytest.raises(StoreError, match="unsupported database URL"):
        tracer_from_config(Config(database_url="mysql://u@h/db"), spool_dir=None)
    assert connects == []  # no connection was attempted


def test_a_database_down_at_start_gets_the_spans_once_it_is_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    try:
        pg = PostgresCluster()
    except ServiceMissing as e:
        pytest.fail(f"{e}{' (CI)' if os.environ.get('CI') else ''}", pytrace=False)
    config = Config(database_url=pg.url)  # nothing listens on that port yet
    with caplog.at_level(logging.WARNING, logger="steadyhand.tracing"):
        tracer = tracer_from_config(
            config, spool_dir=tmp_path / "spool", flush_interval=0.02, exit_timeout=None
        )
    assert "spooled until the store is reachable" in caplog.text
    try:
        with tracer.span("while-down") as span:
            pass
        assert not tracer.flush(timeout=0.3)
        deadline = time.monotonic() + 30  # the writer's first failed write: soon, however loaded the machine
        while tracer.stats().store_errors == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert tracer.stats().store_errors > 0
        with pg:
            assert tracer.flush(timeout=15), tracer.stats()
            with open_store(pg.url) as store:
                detail = store.get_trace(span.trace_id)
                assert detail is not None and detail.roots[0].span.name == "while-down"
    finally:
        tracer.close(timeout=0)

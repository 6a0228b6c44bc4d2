"""``steadyhand db ...`` and ``steadyhand traces ...`` through Typer's CliRunner, on both engines."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from steadyhand.cli import app
from steadyhand.cli.db import parse_duration
from steadyhand.store import open_store
from steadyhand.tracing.records import SpanRecord

MakeSpan = Callable[..., SpanRecord]
runner = CliRunner()


def _run(*args: str, url: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--database-url", url])
    return result.exit_code, result.output


def test_upgrade_then_list_show_tail(empty_url: str, make_span: MakeSpan) -> None:
    code, out = _run("db", "upgrade", url=empty_url)
    assert code == 0, out
    assert "latest version" in out
    root = make_span(name="answer-question", kind="flow_step", tags={"env": "prod"})
    child = make_span(
        trace_id=root.trace_id, parent_id=root.span_id, status="error", error_type="RateLimited"
    )
    other = make_span(model="other-model")
    with open_store(empty_url) as store:
        store.write_spans([root, child, other])

    code, out = _run("traces", "list", url=empty_url)
    assert code == 0, out
    assert root.trace_id in out and other.trace_id in out and "answer-question" in out
    code, out = _run("traces", "list", "--model", "other-model", "--since", "1h", url=empty_url)
    assert code == 0 and other.trace_id in out and root.trace_id not in out
    code, out = _run("traces", "list", "--tag", "env=prod", "--status", "error", url=empty_url)
    assert code == 0 and root.trace_id in out and other.trace_id not in out  # the child failed
    code, out = _run("traces", "list", "--status", "ok", url=empty_url)
    assert code == 0 and root.trace_id not in out and other.trace_id in out
    code, out = _run("traces", "list", "--search", "cat sat", "--limit", "1", url=empty_url)
    assert code == 0 and out.count("│ ") >= 1 and "1 traces" in out

    code, out = _run("traces", "show", root.trace_id, url=empty_url)
    assert code == 0, out
    assert "answer-question" in out and "└── chat" in out and "RateLimited" in out
    assert "tokens 120/4" in out and "fast → gpt-4o-mini-2024-07-18" in out
    code, out = _run("traces", "show", "f" * 32, url=empty_url)
    assert code == 1 and "no trace" in out

    code, out = _run("traces", "tail", "--from-start", "--count", "3", "--timeout", "5", url=empty_url)
    assert code == 0, out
    assert len(out.strip().splitlines()) == 3 and "answer-question" in out


def test_tail_follows_spans_written_while_it_runs(empty_url: str, make_span: MakeSpan) -> None:
    open_store(empty_url).close()
    late = make_span(name="arrives-later")

    def write_later() -> None:
        time.sleep(0.5)
        with open_store(empty_url) as store:
            store.write_spans([late])

    writer = threading.Thread(target=write_later)
    writer.start()
    began = time.monotonic()
    code, out = _run("traces", "tail", "--count", "1", "--timeout", "60", "--interval", "0.05", url=empty_url)
    writer.join()
    assert code == 0, out
    assert "arrives-later" in out and time.monotonic() - began < 30  # ended by --count, not --timeout
    code, out = _run("traces", "tail", "--timeout", "0.2", "--interval", "0.05", url=empty_url)
    assert code == 0 and out.strip() == ""


def test_prune_with_archive(empty_url: str, make_span: MakeSpan, tmp_path: Path) -> None:
    with open_store(empty_url) as store:
        store.write_spans([make_span(start_time=time.time() - 3 * 86400), make_span()])
    archive = tmp_path / "pruned.jsonl"
    code, out = _run("db", "prune", "--older-than", "2d", "--archive", str(archive), url=empty_url)
    assert code == 0, out
    assert "pruned 1 traces, 1 spans" in out and len(archive.read_text().splitlines()) == 1


@pytest.mark.parametrize("bad", ["30", "d", "3x", "-1d", "0h", "ten days"])
def test_bad_older_than_is_a_usage_error(bad: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["db", "prune", "--older-than", bad, "--database-url", f"sqlite:///{tmp_path}/x.db"]
    )
    assert result.exit_code == 2
    assert "is not a duration" in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_parse_duration_units() -> None:
    assert [parse_duration(t).total_seconds() for t in ("30d", "12h", "90m", "45s", "1w")] == [
        30 * 86400,
        12 * 3600,
        90 * 60,
        45,
        7 * 86400,
    ]


def test_unreachable_database_exits_1_with_the_message() -> None:
    result = runner.invoke(app, ["traces", "list", "--database-url", "postgresql://nobody@127.0.0.1:1/x"])
    assert result.exit_code == 1
    assert "cannot reach the database" in result.output and "Traceback" not in result.output


def test_url_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "env.db"
    monkeypatch.setenv("STEADYHAND_DATABASE_URL", f"sqlite:///{path}")
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert path.exists()

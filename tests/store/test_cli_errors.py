"""CLI errors: one line naming the fix, a non-zero exit, never a traceback; a read never creates a store."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import get_args

import pytest
from typer.testing import CliRunner

from steadyhand.cli import app, main
from steadyhand.cli.traces import Kind
from steadyhand.errors import ConfigurationError, StoreError
from steadyhand.store import open_store
from steadyhand.tracing.records import SpanKind, SpanRecord

MakeSpan = Callable[..., SpanRecord]
runner = CliRunner()

READS = [
    ["traces", "list"],
    ["traces", "show", "f" * 32],
    ["traces", "tail", "--timeout", "0.1"],
    ["db", "prune", "--older-than", "1d"],
]


def _main(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str]:
    """The console script as a user runs it: exit code and stderr."""
    monkeypatch.setattr(sys, "argv", ["steadyhand", *argv])
    with pytest.raises(SystemExit) as info:
        main()
    code = info.value.code
    return code if isinstance(code, int) else 1, capsys.readouterr().err


@pytest.fixture
def clean_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key in ("DATABASE_URL", "CONFIG", "PRICES"):
        monkeypatch.delenv(f"STEADYHAND_{key}", raising=False)
    return tmp_path


@pytest.mark.parametrize("argv", READS, ids=lambda a: " ".join(a[:2]))
def test_a_mistyped_url_creates_nothing_and_says_so(argv: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent" / "dir" / "x.db"
    result = runner.invoke(app, [*argv, "--database-url", f"sqlite:///{missing}"])
    assert result.exit_code == 1, result.output
    assert f"no trace database at {missing}" in result.output and "does not exist either" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "nonexistent").exists()


@pytest.mark.parametrize("argv", READS, ids=lambda a: " ".join(a[:2]))
def test_with_no_config_the_default_is_named_and_not_created(argv: list[str], clean_cwd: Path) -> None:
    result = runner.invoke(app, argv)
    assert result.exit_code == 1, result.output
    assert "no trace database at .steadyhand/steadyhand.db" in result.output
    assert "this is the default database" in result.output and "--database-url" in result.output
    assert list(clean_cwd.iterdir()) == []


def test_reprice_creates_nothing(tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('version = "v1"\n[models."m"]\ninput = 1.0\noutput = 2.0\n')
    missing = tmp_path / "nope" / "x.db"
    result = runner.invoke(
        app, ["traces", "reprice", "--prices", str(prices), "--database-url", f"sqlite:///{missing}"]
    )
    assert result.exit_code == 1 and "no trace database" in result.output
    assert not missing.parent.exists()


def test_a_file_without_steadyhand_tables_is_left_untouched(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    other.touch()
    result = runner.invoke(app, ["traces", "list", "--database-url", f"sqlite:///{other}"])
    assert result.exit_code == 1 and "has no steadyhand tables" in result.output
    assert other.stat().st_size == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_the_library_reader_mode(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no trace database"):
        open_store(f"sqlite:///{tmp_path / 'a' / 'x.db'}", create=False)
    assert not (tmp_path / "a").exists()
    url = f"sqlite:///{tmp_path / 'x.db'}"
    open_store(url).close()
    with open_store(url, create=False) as store:
        assert store.list_traces().items == []
        with pytest.raises(ConfigurationError, match="status 'weird' is not one of: ok, error"):
            store.list_traces(status="weird")
        with pytest.raises(ConfigurationError, match="kind 'weird' is not one of: llm, attempt"):
            store.list_traces(kind="weird")


def test_upgrade_still_creates(tmp_path: Path) -> None:
    path = tmp_path / "new" / "x.db"
    result = runner.invoke(app, ["db", "upgrade", "--database-url", f"sqlite:///{path}"])
    assert result.exit_code == 0 and path.is_file()


def test_list_says_which_database_it_read(empty_url: str, make_span: MakeSpan) -> None:
    with open_store(empty_url) as store:
        store.write_spans([make_span()])
        shown = store.safe_url
    result = runner.invoke(app, ["traces", "list", "--database-url", empty_url])
    assert result.exit_code == 0, result.output
    assert f"1 traces in {shown}" in result.output


def test_status_error_matches_a_failed_span_under_an_ok_root(empty_url: str, make_span: MakeSpan) -> None:
    root = make_span(name="handler", kind="flow_step")
    failed = [
        make_span(trace_id=root.trace_id, parent_id=root.span_id, status="error", error_type="RateLimited")
        for _ in range(2)
    ]
    clean = make_span(name="clean", kind="flow_step")
    with open_store(empty_url) as store:
        store.write_spans([root, *failed, clean])
    result = runner.invoke(app, ["traces", "list", "--status", "error", "--database-url", empty_url])
    assert result.exit_code == 0, result.output
    assert root.trace_id in result.output and clean.trace_id not in result.output
    assert "(2 errors)" in result.output
    result = runner.invoke(app, ["traces", "list", "--status", "ok", "--database-url", empty_url])
    assert clean.trace_id in result.output and root.trace_id not in result.output


@pytest.mark.parametrize(
    ("argv", "valid"),
    [
        (["traces", "list", "--status", "weird"], "'ok', 'error'"),
        (["traces", "list", "--kind", "weird"], "'llm', 'attempt', 'tool'"),
    ],
)
def test_a_bad_choice_lists_the_valid_values(
    argv: list[str],
    valid: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, err = _main([*argv, "--database-url", f"sqlite:///{tmp_path}/x.db"], capsys, monkeypatch)
    assert code == 2 and valid in err and "is not one of" in err
    assert not (tmp_path / "x.db").exists()


def test_kind_choices_are_the_span_kinds() -> None:
    assert [k.value for k in Kind] == list(get_args(SpanKind))


def test_an_absurd_age_is_a_usage_error_not_a_traceback(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["db", "prune", "--older-than", "99999999999d", "--database-url", f"sqlite:///{tmp_path}/x.db"]
    )
    assert result.exit_code == 2 and "is too long" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_archive_into_a_missing_directory_is_an_error(tmp_path: Path, make_span: MakeSpan) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with open_store(url) as store:
        store.write_spans([make_span(start_time=time.time() - 3 * 86400)])
    archive = tmp_path / "missing" / "pruned.jsonl"
    result = runner.invoke(
        app, ["db", "prune", "--older-than", "1d", "--archive", str(archive), "--database-url", url]
    )
    assert result.exit_code == 1 and f"the directory {archive.parent} does not exist" in result.output
    assert not archive.parent.exists()
    with open_store(url) as store:
        assert len(store.list_traces().items) == 1  # nothing pruned either
    result = runner.invoke(
        app, ["db", "prune", "--older-than", "1d", "--archive", str(tmp_path), "--database-url", url]
    )
    assert result.exit_code == 1 and "is a directory" in result.output


@pytest.mark.parametrize(
    "argv",
    [
        ["traces", "list", "--status", "weird"],
        ["traces", "list", "--kind", "weird"],
        ["traces", "list", "--limit", "0"],
        ["traces", "list", "--database-url", "sqlite:///missing/dir/x.db"],
        ["traces", "list", "--database-url", "mysql://x/y"],
        ["traces", "list", "--search", ""],
        ["traces", "show"],
        ["db", "prune", "--older-than", "99999999999d"],
        ["db", "prune", "--older-than", "1" + "0" * 400 + "s"],
        ["db", "prune", "--older-than", "1d", "--archive", "missing/dir/p.jsonl"],
        ["traces", "reprice", "--prices", "missing/prices.toml"],
        ["no-such-command"],
    ],
    ids=lambda a: " ".join(a),
)
def test_every_error_is_one_line_with_a_non_zero_exit(
    argv: list[str], clean_cwd: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    open_store(f"sqlite:///{clean_cwd / '.steadyhand' / 'steadyhand.db'}").close()  # a store to read
    code, err = _main(argv, capsys, monkeypatch)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and not (clean_cwd / "missing").exists()

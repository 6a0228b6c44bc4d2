"""``steadyhand traces doctor``: lists dead letters, spool state and writer health; exits 1 when
something needs attention, 0 when all is well; creates nothing."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from steadyhand.cli import app
from steadyhand.store import open_store
from steadyhand.tracing import SpanRecord, Tracer
from steadyhand.tracing._serialize import span_to_line

from .test_dead_letters import PickyStore
from .test_spool_replay import _orphan

runner = CliRunner()


def _doctor(spool: Path, db: Path) -> tuple[int, str]:
    result = runner.invoke(
        app, ["traces", "doctor", "--spool-dir", str(spool), "--database-url", f"sqlite:///{db}"]
    )
    return result.exit_code, result.output


def test_all_well_exits_zero(tmp_path: Path) -> None:
    db, spool = tmp_path / "t.db", tmp_path / "spool"
    with open_store(f"sqlite:///{db}") as store, Tracer(store, spool_dir=spool, exit_timeout=None) as tracer:
        tracer.record(SpanRecord(name="fine"))
        assert tracer.flush(timeout=30)
        code, out = _doctor(spool, db)
    assert code == 0, out
    assert "all well" in out and "1 spool(s), 0 dead letter(s)" in out and "running" in out


def test_dead_letters_are_listed_and_fail_the_check(tmp_path: Path) -> None:
    db, spool = tmp_path / "t.db", tmp_path / "spool"
    open_store(f"sqlite:///{db}").close()
    poison = SpanRecord(name="poison-pill")
    with Tracer(PickyStore(), spool_dir=spool, exit_timeout=None, flush_interval=0.02) as tracer:
        tracer.record(poison)
        tracer.record(SpanRecord(name="fine"))
        assert not tracer.flush(timeout=30)
    code, out = _doctor(spool, db)
    assert code == 1, out
    assert "1 dead letter(s)" in out and poison.span_id in out and "refused" in out
    assert "needs attention: 1 record(s) the store refused" in out


def test_a_dead_process_spool_and_a_missing_database_need_attention(tmp_path: Path) -> None:
    db, spool = tmp_path / "missing.db", tmp_path / "spool"
    _orphan(spool, [span_to_line(SpanRecord(name="waiting"))], checkpoint="1 99999")
    code, out = _doctor(spool, db)
    assert code == 1, out
    assert "dead" in out and "belongs to no running process" in out
    assert "checkpoint 1 99999 is past the end of its segment" in out
    assert "steadyhand db upgrade" in out
    assert not db.exists()  # a read command creates nothing


def test_an_empty_root_is_fine_and_not_created(tmp_path: Path) -> None:
    db, spool = tmp_path / "t.db", tmp_path / "nothing-here"
    open_store(f"sqlite:///{db}").close()
    code, out = _doctor(spool, db)
    assert code == 0, out
    assert not spool.exists()

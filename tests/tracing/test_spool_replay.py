"""Replaying a spool never blocks and never skips: a line of the wrong shape is put aside, and a
checkpoint that cannot be right is reported and the spool replayed from its start (both writers)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from steadyhand.store import open_store
from steadyhand.tracing import SpanRecord, Tracer
from steadyhand.tracing._serialize import span_to_line

from .test_dead_letters import dead_letters


def _orphan(root: Path, lines: list[bytes], checkpoint: str | None = None) -> Path:
    """A dead process's spool: one segment, an optional checkpoint, an unheld lock."""
    path = root / "4242-deadbeef"
    path.mkdir(parents=True)
    (path / "0000000001.jsonl").write_bytes(b"".join(lines))
    (path / "lock").touch()
    if checkpoint is not None:
        (path / "checkpoint").write_text(checkpoint)
    return path


def _stored(db: Path) -> set[str]:
    with closing(sqlite3.connect(db)) as conn:
        return {r[0] for r in conn.execute("SELECT span_id FROM spans")}


def _tracer(writer: str, db: Path, spool: Path) -> Tracer:
    url = f"sqlite:///{db}"
    target = url if writer == "process" else open_store(url)
    return Tracer(target, writer=writer, spool_dir=spool, exit_timeout=None, flush_interval=0.02)  # type: ignore[arg-type]


@pytest.mark.parametrize("writer", ["thread", "process"])
def test_a_line_of_unexpected_shape_is_put_aside(writer: str, tmp_path: Path) -> None:
    db, spool = tmp_path / "t.db", tmp_path / "spool"
    good = [SpanRecord(name=f"g{i}") for i in range(3)]
    odd = json.dumps({"name": "odd", "span_id": "0" * 16, "attributes": [1, 2]}).encode() + b"\n"
    tags = json.dumps({"name": "odd", "tags": {"n": 1}}).encode() + b"\n"
    _orphan(spool, [span_to_line(good[0]), odd, span_to_line(good[1]), tags, span_to_line(good[2])])
    tracer = _tracer(writer, db, spool)
    try:
        assert not tracer.flush(timeout=60)  # two lines did not reach the store
        assert _stored(db) == {s.span_id for s in good}
        letters = dead_letters(spool)
        assert [d["line"] for d in letters] == [odd.decode().strip(), tags.decode().strip()]
        assert "'attributes' is a list" in letters[0]["reason"] and "'tags'" in letters[1]["reason"]
        assert tracer.stats().dead_lettered == 2
        assert tracer.flush(timeout=60)
    finally:
        tracer.close(timeout=30)
    assert not (spool / "4242-deadbeef").exists()  # replayed, then removed


@pytest.mark.parametrize("writer", ["thread", "process"])
@pytest.mark.parametrize("checkpoint", ["1 99999", "1 5", "7 0"], ids=["past-end", "mid-line", "past-last"])
def test_a_checkpoint_that_cannot_be_right_is_reported_not_trusted(
    writer: str, checkpoint: str, tmp_path: Path
) -> None:
    db, spool = tmp_path / "t.db", tmp_path / "spool"
    spans = [SpanRecord(name=f"s{i}") for i in range(5)]
    _orphan(spool, [span_to_line(s) for s in spans], checkpoint=checkpoint)
    tracer = _tracer(writer, db, spool)
    try:
        assert tracer.flush(timeout=60)
        assert _stored(db) == {s.span_id for s in spans}  # nothing skipped
        stats = tracer.stats()
        assert stats.spool_errors >= 1
        assert stats.last_error is not None and f"checkpoint {checkpoint}" in stats.last_error
        notes = dead_letters(spool)
        assert [(n["source"], n["line"]) for n in notes] == [("spool checkpoint", None)]
    finally:
        tracer.close(timeout=30)

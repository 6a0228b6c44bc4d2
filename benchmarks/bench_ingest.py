"""Trace ingest, side by side in one run: ``Store.write_spans`` in batches of 500, the Tracer end to end
(``record()`` until ``flush()`` says stored), and what ``writer="process"`` buys over the thread writer.

Run: ``.venv/bin/python benchmarks/bench_ingest.py [--spans 20000] [--paced 2000] [--seconds 4]``.
Prints three tables and writes ``benchmarks/results/bench_ingest.json``. Each engine runs with durable
settings (SQLite WAL ``synchronous=NORMAL``, the store's default; PostgreSQL's defaults: fsync and
synchronous commit on) and with test settings (SQLite ``synchronous=OFF``; PostgreSQL ``fsync=off``,
``synchronous_commit=off``), PostgreSQL in throwaway clusters (tests/services.py). CPU is this
process's plus the writer process's while it works (its start-up excluded); "server" is the
PostgreSQL cluster's own (every process of it), on the other core. Targets (issue 13): end to end
>= 5,000 spans/s on SQLite, >= 10,000 on PostgreSQL. A call whose policies retried makes several
spans (the LLM span and one attempt span per try, one trace): the last column records calls of
three spans each with the thread writer, since the budget is per call.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from _common import report
from bench_store import BATCH, realistic_batch
from bench_tracer import _stats, llm_span, timed_records
from services import PostgresCluster
from steadyhand.store import Store, open_store
from steadyhand.tracing import SpanRecord, Tracer

TARGETS = {"sqlite": 5_000, "postgresql": 10_000}


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu(child: int | None = None) -> float:
    """CPU seconds of this process, plus the running ``child``'s (the writer process) if given: its
    start-up (interpreter, SQLAlchemy) happens before the measured window and is not counted."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    total = own.ru_utime + own.ru_stime
    if child is not None:
        fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
    return total


def _server_cpu(cluster: PostgresCluster) -> float:
    """CPU seconds of every process of the cluster: the postmaster and its children (backends, WAL
    writer, checkpointer...)."""
    pid = int((cluster.data / "postmaster.pid").read_text().split()[0])
    pids = [pid, *map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # a backend that just exited
            continue
        total += sum(int(f) for f in fields[11:15])  # utime, stime, and of children waited for
    return total / _TICK


Clock = Callable[[], float]


def _no_server() -> float:
    return 0.0


def _sqlite_fast(store: Store) -> None:
    """Test settings on SQLite: no fsync at all (a crash of the machine may lose the last commits)."""

    def off(dbapi_conn: Any, _record: object) -> None:
        dbapi_conn.execute("PRAGMA synchronous=OFF")

    engine = store._engine  # a benchmark knob, not an API
    event.listen(engine, "connect", off)
    engine.dispose()


@contextmanager
def databases(tmp: Path) -> Iterator[dict[tuple[str, str], tuple[Callable[[], str], bool, Clock]]]:
    """(engine, settings) -> a function giving a fresh database URL, whether to relax SQLite, and the
    database server's CPU clock (always 0 for SQLite, which runs in this process)."""
    with PostgresCluster(durable=True) as durable, PostgresCluster() as fast:
        n = iter(range(10**6))
        yield {
            ("sqlite", "durable"): (lambda: f"sqlite:///{tmp}/d{next(n)}.db", False, _no_server),
            ("sqlite", "test"): (lambda: f"sqlite:///{tmp}/t{next(n)}.db", True, _no_server),
            ("postgresql", "durable"): (
                lambda: durable.create_database(f"d{next(n)}"),
                False,
                lambda: _server_cpu(durable),
            ),
            ("postgresql", "test"): (
                lambda: fast.create_database(f"t{next(n)}"),
                False,
                lambda: _server_cpu(fast),
            ),
        }


def _open(url: str, relax: bool) -> Store:
    store = open_store(url)
    if relax:
        _sqlite_fast(store)
    return store


def write_spans(url: str, relax: bool, total: int, server: Clock) -> dict[str, float]:
    with _open(url, relax) as store:
        store.write_spans(realistic_batch(BATCH, 0.0))  # warm: prepared SQL, pool, page cache
        batches = [realistic_batch(BATCH, time.time() + i) for i in range(total // BATCH)]
        cpu, served, began = _cpu(), server(), time.perf_counter()
        for batch in batches:
            store.write_spans(batch)
        wall, cpu, served = time.perf_counter() - began, _cpu() - cpu, server() - served
    return {
        "spans_per_s": total / wall,
        "cpu_us_per_span": cpu / total * 1e6,
        "server_cpu_us_per_span": served / total * 1e6,
    }


def call_spans(i: int) -> list[SpanRecord]:
    """One call that its retry policy tried twice: the LLM span (the trace's root) and an attempt
    span per try, the first refused with a 429."""
    call = dataclasses.replace(llm_span(i), parent_id=None)
    tries = [
        dataclasses.replace(
            call, span_id=f"{i:08x}{n:08x}", parent_id=call.span_id, kind="attempt", name="attempt"
        )
        for n in range(2)
    ]
    tries[0].status, tries[0].error_type, tries[0].response = "error", "RateLimited", None
    return [*tries, call]


def end_to_end(
    url: str, relax: bool, total: int, writer: str, spool: Path, server: Clock, *, per_call: int = 1
) -> dict[str, float]:
    """``total`` spans recorded back to back, until ``flush()`` says all are stored; ``per_call``
    3: as calls of ``call_spans``."""
    store = _open(url, relax)
    target: Any = url if writer == "process" else store
    if per_call == 1:
        spans = [llm_span(i) for i in range(total)]
    else:
        spans = [s for i in range(total // per_call) for s in call_spans(i)]
    tracer = Tracer(target, writer=writer, spool_dir=spool, exit_timeout=None, batch_size=BATCH)  # type: ignore[arg-type]
    try:
        tracer.record(llm_span(-1))
        assert tracer.flush(60), tracer.stats()  # the writer is up and the store warm
        gc.collect()
        pid = tracer.writer_pid
        cpu, served, began = _cpu(pid), server(), time.perf_counter()
        for s in spans:
            tracer.record(s)
        assert tracer.flush(300), tracer.stats()
        wall, cpu, served = time.perf_counter() - began, _cpu(pid) - cpu, server() - served
    finally:
        assert tracer.close(60)
        store.close()
    return {
        "spans_per_s": len(spans) / wall,
        "calls_per_s": len(spans) / per_call / wall,
        "cpu_us_per_span": cpu / len(spans) * 1e6,
        "server_cpu_us_per_span": served / len(spans) * 1e6,
    }


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def writer_row(writer: str, rate: float, seconds: float, tmp: Path) -> dict[str, float]:
    """What each writer costs and buys at a steady ``rate`` into SQLite: record() tail latency, CPU
    per span with the child's counted, first-span latency and the child's memory."""
    url = f"sqlite:///{tmp}/w-{writer}.db"
    store = open_store(url)
    began = time.perf_counter()
    target: Any = url if writer == "process" else store
    tracer = Tracer(target, writer=writer, spool_dir=tmp / f"spool-{writer}", exit_timeout=None)  # type: ignore[arg-type]
    try:
        tracer.record(llm_span(-1))
        assert tracer.flush(60)
        first_ms = (time.perf_counter() - began) * 1e3
        child_mb = _rss_mb(tracer.writer_pid) if tracer.writer_pid else 0.0
        spans = [llm_span(i) for i in range(int(rate * seconds))]
        gc.collect()
        gc.disable()
        pid = tracer.writer_pid
        cpu = _cpu(pid)
        try:
            samples = timed_records(tracer, spans, rate)
        finally:
            gc.enable()
        assert tracer.flush(120)
        cpu = _cpu(pid) - cpu
    finally:
        assert tracer.close(60)
        store.close()
    stats = _stats(samples)
    return {
        "record_p50_us": stats["p50_us"],
        "record_p99_us": stats["p99_us"],
        "record_p99_9_us": stats["p99_9_us"],
        "cpu_us_per_span": cpu / len(spans) * 1e6,
        "first_span_stored_ms": first_ms,
        "child_rss_mb": child_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=20_000, help="spans per ingest measurement")
    parser.add_argument("--paced", type=float, default=2_000.0, help="calls/s for the writer comparison")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per paced run")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    ingest: dict[str, dict[str, dict[str, float]]] = {}
    rows: list[list[Any]] = []
    with tempfile.TemporaryDirectory() as tmp_name, databases(Path(tmp_name)) as dbs:
        tmp = Path(tmp_name)
        for (engine, settings), (new_url, relax, server) in dbs.items():
            ws = write_spans(new_url(), relax, args.spans, server)
            e2e = {
                w: end_to_end(new_url(), relax, args.spans, w, tmp / f"spool-{engine}-{settings}-{w}", server)
                for w in ("thread", "process")
            }
            calls = end_to_end(
                new_url(),
                relax,
                args.spans,
                "thread",
                tmp / f"spool-{engine}-{settings}-c",
                server,
                per_call=3,
            )
            key = f"{engine}, {settings}"
            ingest[key] = {
                "write_spans": ws,
                **{f"tracer_{w}": r for w, r in e2e.items()},
                "tracer_thread_calls_of_3_spans": calls,
            }
            best = max(r["spans_per_s"] for r in e2e.values())
            rows.append(
                [
                    key,
                    TARGETS[engine],
                    ws["spans_per_s"],
                    ws["cpu_us_per_span"],
                    e2e["thread"]["spans_per_s"],
                    e2e["process"]["spans_per_s"],
                    e2e["thread"]["cpu_us_per_span"],
                    e2e["process"]["cpu_us_per_span"],
                    e2e["thread"]["server_cpu_us_per_span"] if engine == "postgresql" else "-",
                    calls["calls_per_s"],
                    "yes" if best >= TARGETS[engine] else "NO",
                ]
            )
        writers = {w: writer_row(w, args.paced, args.seconds, tmp) for w in ("thread", "process")}
    report(
        "bench_ingest",
        f"Trace ingest end to end, spans/s and CPU µs per span ({args.spans:,} spans; server CPU: "
        f"PostgreSQL's, thread writer; load average {load:.1f} at start on this machine)",
        [
            "engine, settings",
            "target/s",
            "write_spans/s",
            "CPU µs",
            "Tracer thread/s",
            "Tracer process/s",
            "thread CPU µs",
            "process CPU µs",
            "server CPU µs",
            "calls/s (3 spans)",
            "target met",
        ],
        rows,
        ingest=ingest,
        writers=writers,
        load_average=load,
        args=vars(args),
    )
    report(
        "bench_ingest_writers",
        f"writer='thread' vs 'process' at {args.paced:,.0f} calls/s into SQLite (record() in µs; CPU "
        "with the child's counted)",
        ["writer", "record p50", "p99", "p99.9", "CPU µs/span", "first span ms", "child RSS MB"],
        [
            [
                w,
                r["record_p50_us"],
                r["record_p99_us"],
                r["record_p99_9_us"],
                r["cpu_us_per_span"],
                r["first_span_stored_ms"],
                r["child_rss_mb"],
            ]
            for w, r in writers.items()
        ],
        writers=writers,
        load_average=load,
    )


if __name__ == "__main__":
    main()

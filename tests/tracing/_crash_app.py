"""A traced app for the crash tests: records spans in a burst, printing each id once record() returned.

Usage: python -m tests.tracing._crash_app STORE SPOOL_DIR COUNT [thread|process]

STORE is a SQLite file, or a database URL (``postgresql://...``).

With the process writer it first prints ``pid N``, the writer child's pid. Falling off the end is a
normal exit: the atexit hook must flush what is left (and reap the writer process).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from steadyhand.store import open_store
from steadyhand.tracing import SpanRecord, Tracer


def main() -> None:
    spool, count = Path(sys.argv[2]), int(sys.argv[3])
    writer: Literal["thread", "process"] = "process" if sys.argv[4:5] == ["process"] else "thread"
    url = sys.argv[1] if "://" in sys.argv[1] else f"sqlite:///{sys.argv[1]}"
    store = url if writer == "process" else open_store(url)
    # exit_timeout: the default (5 s) is too short for a loaded test machine, where the writer process
    # alone can take seconds to start; the tests assert that atexit flushes, not how fast.
    tracer = Tracer(
        store, writer=writer, spool_dir=spool, batch_size=64, flush_interval=0.01, exit_timeout=60.0
    )
    out = sys.stdout
    if writer == "process":
        out.write(f"pid {tracer.writer_pid}\n")
        out.flush()
    for i in range(count):
        span = SpanRecord(
            name="chat",
            kind="llm",
            model="gpt-4o-mini",
            input_tokens=20,
            output_tokens=5,
            request={"messages": [{"role": "user", "content": f"question {i}"}]},
        )
        tracer.record(span)
        out.write(span.span_id + "\n")
        out.flush()


if __name__ == "__main__":
    main()

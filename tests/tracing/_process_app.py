"""A traced app with the writer in a subprocess, for the crash tests: prints ``pid <writer pid>``, then
each span id once ``record()`` returned.

Usage: python -m tests.tracing._process_app STORE_DB SPOOL_DIR COUNT
"""

from __future__ import annotations

import sys
from pathlib import Path

from steadyhand.tracing import SpanRecord, Tracer


def main() -> None:
    db, spool, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    tracer = Tracer(f"sqlite:///{db}", writer="process", spool_dir=spool, batch_size=64, flush_interval=0.01)
    out = sys.stdout
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
    # falling off the end: the atexit hook flushes and reaps the writer process


if __name__ == "__main__":
    main()

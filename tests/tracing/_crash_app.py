"""A traced app for the crash tests: records spans in a burst, printing each id once record() returned.

Usage: python -m tests.tracing._crash_app STORE_DB SPOOL_DIR COUNT [exit|close]
"""

from __future__ import annotations

import sys
from pathlib import Path

from steadyhand.store import open_store
from steadyhand.tracing import SpanRecord, Tracer


def main() -> None:
    db, spool, count = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    tracer = Tracer(open_store(f"sqlite:///{db}"), spool_dir=spool, batch_size=64, flush_interval=0.01)
    out = sys.stdout
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
    # falling off the end: the atexit hook must flush what is left


if __name__ == "__main__":
    main()

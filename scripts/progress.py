"""Run a long install quietly but visibly: full output to a log, progress lines and a heartbeat on screen.

``python scripts/progress.py LOG [--every SECONDS] -- COMMAND ...``

``pip install -q`` hides a 5 to 35 minute llama.cpp build behind a silent prompt; ``pip install -v``
floods the terminal with compiler command lines. This prints the build's own progress markers
(``[ 42%]`` from make, ``[12/150]`` from ninja) at most once per percent step, a heartbeat with the
elapsed time when nothing moved for ``--every`` seconds, and the log's tail if the command fails.
Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

PROGRESS = re.compile(r"^\[\s*(\d+)%\]|^\[(\d+)/(\d+)\]")
STEPS = re.compile(r"^(Collecting|Building wheel|Building editable|Installing collected|Successfully)")


def percent(line: str) -> int | None:
    """The build's progress in percent, if ``line`` is a make or ninja progress line."""
    match = PROGRESS.match(line)
    if match is None:
        return None
    if match.group(1) is not None:
        return int(match.group(1))
    done, total = int(match.group(2)), int(match.group(3))
    return 100 * done // max(total, 1)


def run(log: Path, command: list[str], *, every: float) -> int:
    start = time.monotonic()
    last_shown = [time.monotonic()]
    shown_percent = -1
    done = threading.Event()

    def say(text: str) -> None:
        minutes, seconds = divmod(int(time.monotonic() - start), 60)
        print(f"  [{minutes:2d}m{seconds:02d}s] {text}", flush=True)
        last_shown[0] = time.monotonic()

    def heartbeat() -> None:
        while not done.wait(min(every, 5.0)):
            if time.monotonic() - last_shown[0] >= every:
                say(f"still working (full log: {log})")

    beat = threading.Thread(target=heartbeat, daemon=True)
    beat.start()
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        )
        assert process.stdout is not None
        for line in process.stdout:
            out.write(line)
            stripped = line.strip()
            value = percent(stripped)
            if value is not None and value > shown_percent:
                shown_percent = value
                say(f"building {value}%")
            elif STEPS.match(stripped):
                say(stripped[:120])
        code = process.wait()
    done.set()
    beat.join()
    if code != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-40:]
        print("\n".join(tail), file=sys.stderr)
        print(f"failed with exit code {code}; the full log is {log}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        print("usage: progress.py LOG [--every SECONDS] -- COMMAND ...", file=sys.stderr)
        return 2
    split = argv.index("--")
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--every", type=float, default=60.0, help="heartbeat after this many quiet seconds")
    args = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    if not command:
        parser.error("give the command after --")
    return run(args.log, command, every=args.every)


if __name__ == "__main__":
    sys.exit(main())

"""A process calling one rate-limited alias as fast as it can for ``duration`` seconds: the limit is
shared through ``state_url``.

Usage: ``python _limit_child.py STATE_URL SIM_URL MODEL DURATION THREADS``. Once warmed up it prints
``ready`` and reads the start (a Unix time, so several processes begin together) from stdin; at the
end it prints a JSON summary (answers, local refusals, other errors).
"""

from __future__ import annotations

import json
import sys
import threading
import time

from steadyhand import Client, Config, RateLimited


def main() -> None:
    state_url, sim_url, model, duration, threads = sys.argv[1:6]
    config = Config.model_validate(
        {
            "state_url": state_url,
            "providers": {"sim": {"kind": "sim", "base_url": sim_url}},
            "models": {
                "limited": {
                    "target": f"sim:{model}",
                    "rate_limit": {"rpm": 600, "window": 1.0},  # 10 per second, shared
                    "retry": {"attempts": 1},
                },
                "warm": "sim:sim-basic",
            },
        }
    )
    counts = {"answers": 0, "refused": 0, "errors": 0}
    lock = threading.Lock()
    client = Client(config)

    until = 0.0

    def work() -> None:
        while time.time() < until:
            try:
                client.chat("hi", model="limited", timeout=2.0, max_tokens=4)
                key = "answers"
            except RateLimited as error:
                key = "refused" if error.local else "errors"
            except Exception:
                key = "errors"
            with lock:
                counts[key] += 1

    client.chat("warm up", model="warm")  # imports done, connections open: arrivals follow admissions
    client.chat("hi", model="warm", max_tokens=4)
    print("ready", flush=True)
    start = float(sys.stdin.readline())
    until = start + float(duration)
    time.sleep(max(0.0, start - time.time()))
    workers = [threading.Thread(target=work) for _ in range(int(threads))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    client.close()
    print(json.dumps({**counts, "unreachable": client.state.stats.unreachable}))


if __name__ == "__main__":
    main()

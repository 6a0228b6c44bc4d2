"""Any language, tested: the official ``openai`` Node SDK (npm, pinned in tests/node/package-lock.json)
drives ``steadyhand serve`` in front of the simulator with a key, chat and stream, a failover and an
error, and the calls land in the trace store under the key's project and id.

``make test`` installs tests/node/node_modules (``npm ci``); a missing Node.js or install fails here,
saying what to run, never skips.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from steadyhand.sim import SimServer
from steadyhand.store import open_store

from .serve_process import serve_command, serve_env, serve_process

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
MIN_NODE = 18
"""openai 6 documents Node.js 20 LTS or later, but chat and streams need only ``fetch`` and web streams,
which Node 18 (Debian 12's nodejs) has; openai 7 requires Node 22, hence the pin to the 6 line."""


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "Node.js is missing: install Debian's nodejs and npm (apt-get install -y nodejs npm; "
            "`make system-deps` does), then `make test` runs `npm ci` in tests/node",
            pytrace=False,
        )
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    match = re.match(r"v(\d+)\.", version)
    if match is None or int(match.group(1)) < MIN_NODE:
        pytest.fail(f"Node.js {version} is too old: the openai SDK needs {MIN_NODE} or later", pytrace=False)
    return node


def _check_installed() -> None:
    """The SDK in node_modules is the one package-lock.json pins (else `npm ci` has not run since)."""
    lock = json.loads((NODE_DIR / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/openai"]["version"]
    installed = NODE_DIR / "node_modules" / "openai" / "package.json"
    found = json.loads(installed.read_text())["version"] if installed.exists() else None
    if found != pinned:
        pytest.fail(
            f"tests/node/node_modules has openai {found or 'not installed'}, the lock pins {pinned}: run "
            "`make test` (its setup runs it) or `cd tests/node && npm ci`",
            pytrace=False,
        )


def _run_cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [*serve_command()[:-1], *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _trace(url: str, trace_id: str) -> Any:
    """The trace once the gateway's tracer has written it (it writes in the background)."""
    deadline = time.monotonic() + 30
    with open_store(url) as store:
        while time.monotonic() < deadline:
            detail = store.get_trace(trace_id)
            if detail is not None and detail.trace.span_count >= 2:
                return detail
            time.sleep(0.2)
    raise AssertionError(f"trace {trace_id} did not reach the store within 30 s")


def test_the_openai_node_sdk_drives_the_gateway(sim: SimServer, tmp_path: Path) -> None:
    node = _node()
    _check_installed()
    db = f"sqlite:///{tmp_path / 'traces.db'}"
    env = serve_env(STEADYHAND_DATABASE_URL=db)
    key = _run_cli(env, tmp_path, "keys", "create", "--project", "node-app")
    key_id = "key_" + key.removeprefix("sk-sh-").split("-")[0]
    config = tmp_path / "steadyhand.toml"
    config.write_text(
        f'[providers.sim]\nkind = "sim"\nbase_url = "{sim.base_url}"\n\n[models]\n'
        'fast = "sim:sim-basic"\necho = "sim:sim-echo"\n'
        'flaky = { target = "sim:sim-500", fallbacks = ["fast"], retry = { attempts = 1 } }\n'
    )
    with serve_process("--config", str(config), env=env) as (_, base):
        done = subprocess.run(
            [node, str(NODE_DIR / "gateway_client.mjs")],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=NODE_DIR,
            env={**env, "STEADYHAND_BASE_URL": base + "/v1", "STEADYHAND_KEY": key},
        )
        assert done.returncode == 0, done.stdout + done.stderr
        calls = {r["call"]: r for r in map(json.loads, done.stdout.splitlines())}

        chat = calls["chat"]
        assert chat["content"] == "Hello from Node"
        assert chat["model"] == "sim-echo" and chat["finish_reason"] == "stop"
        assert chat["completion_tokens"] > 0 and chat["route"] == "sim:sim-echo; attempts=1"

        stream = calls["stream"]
        assert stream["content"] == "Streamed through the gateway to Node"  # every chunk, in order
        assert stream["chunks"] > 3 and stream["finish_reason"] == "stop"
        assert stream["model"] == "sim-echo" and stream["completion_tokens"] > 0

        failover = calls["failover"]
        assert failover["route"] == "sim:sim-basic; attempts=2" and failover["finish_reason"] == "stop"
        assert "steadyhand simulator" in failover["content"]

        unknown = calls["unknown-model"]
        assert unknown["error"] == "NotFoundError" and unknown["status"] == 404
        assert "gpt-9" in unknown["message"] and "'echo'" in unknown["message"]

        detail = _trace(db, chat["trace_id"])
    spans = [detail.roots[0].span, *(child.span for child in detail.roots[0].children)]
    assert {s.project for s in spans} == {"node-app"}
    assert spans[0].attributes["steadyhand.key_id"] == key_id and key not in json.dumps(
        [s.model_dump(mode="json") for s in spans]
    )

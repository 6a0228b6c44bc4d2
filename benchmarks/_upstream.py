"""A fast fixed-answer upstream for throughput benchmarks: nginx answering every POST with one fixed chat
completion (``/v1``) or one fixed SSE stream (``/sse/v1``), so the upstream is never the bottleneck.

Measured here: the simulator serves ~3,400 non-streamed requests/s and ~270 streams/s, nginx ~36,000 and
~7,600. nginx is Debian's package: when it is missing and we are root, ``ensure_nginx`` installs it
(``apt-get install -y nginx``); otherwise it says what to install. The answers are written to a
temp dir as two files; nginx answers a POST to a static file with 405, so the 405 is
mapped to the file (an internal GET).

    with nginx_upstream(tokens=200, cpus={1}) as up:
        up.base_url       # http://127.0.0.1:PORT/v1      -> the fixed chat completion
        up.sse_base_url   # http://127.0.0.1:PORT/sse/v1  -> the fixed stream
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from _common import free_port

MODEL = "gpt-4o-2024-08-06"
CONTENT = "Hello! This is a fixed answer from the benchmark upstream."


def completion_json() -> bytes:
    """The fixed non-streamed answer, shaped as OpenAI's chat completion."""
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1767225600,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": CONTENT, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 21, "completion_tokens": 12, "total_tokens": 33},
            "system_fingerprint": "fp_bench",
        },
        separators=(",", ":"),
    ).encode()


def completion_sse(tokens: int) -> bytes:
    """The fixed stream: a role chunk, ``tokens`` content chunks, a finish chunk with usage, ``[DONE]``."""

    def event(delta: dict[str, object], finish: str | None = None, usage: object = None) -> bytes:
        chunk: dict[str, object] = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1767225600,
            "model": MODEL,
            "system_fingerprint": "fp_bench",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if usage is not None:
            chunk["usage"] = usage
        return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"

    words = (CONTENT.split() * (tokens // 10 + 1))[:tokens]
    parts = [event({"role": "assistant", "content": ""})]
    parts += [event({"content": (" " if i else "") + w}) for i, w in enumerate(words)]
    parts.append(
        event({}, "stop", {"prompt_tokens": 21, "completion_tokens": tokens, "total_tokens": 21 + tokens})
    )
    return b"".join(parts) + b"data: [DONE]\n\n"


def ensure_nginx() -> str:
    """The nginx binary; installs Debian's package when missing and root, else exits saying how."""
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("nginx is missing: install it (sudo apt-get install -y nginx) and run again")
    print("nginx is missing: installing Debian's package (apt-get install -y nginx)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.call(["apt-get", "install", "-y", "-q", "nginx"], env=env) != 0:
        subprocess.check_call(["apt-get", "update", "-q"], env=env)
        subprocess.check_call(["apt-get", "install", "-y", "-q", "nginx"], env=env)
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(found):
        raise SystemExit("apt-get installed nginx but no nginx binary was found")
    return found


def _config(root: Path, port: int, workers: int) -> str:
    temp = "\n".join(
        f"    {kind}_temp_path {root / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
daemon off;
worker_processes {workers};
pid {root / "nginx.pid"};
error_log {root / "error.log"} warn;
{"user root;" if os.geteuid() == 0 else ""}
events {{ worker_connections 8192; multi_accept on; }}
http {{
    access_log off;
{temp}
    tcp_nodelay on;
    keepalive_timeout 75s;
    keepalive_requests 100000000;
    client_max_body_size 16m;
    client_body_buffer_size 1m;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {root / "www"};
        etag off;
        # a static file refuses POST (405); answering it with the file (an internal GET) is the fix
        location /sse/ {{
            error_page 405 =200 /completion.sse;
            try_files /completion.sse =500;
        }}
        location / {{
            error_page 405 =200 /completion.json;
            try_files /completion.json =500;
        }}
        location = /completion.sse {{
            internal;
            default_type text/event-stream;
            add_header cache-control no-cache;
        }}
        location = /completion.json {{
            internal;
            default_type application/json;
        }}
    }}
}}
"""


@dataclass(frozen=True)
class Upstream:
    port: int
    pid: int
    json_body: bytes
    sse_body: bytes

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def sse_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sse/v1"

    def cpu_seconds(self) -> float:
        """CPU time the nginx processes (master and workers) have used so far."""
        total = 0.0
        tick = os.sysconf("SC_CLK_TCK")
        for pid in [self.pid, *_children(self.pid)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
        return total


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@contextmanager
def nginx_upstream(
    *, tokens: int = 200, workers: int = 1, cpus: set[int] | None = None
) -> Iterator[Upstream]:
    """nginx on a free loopback port (``workers`` processes, pinned to ``cpus``), stopped on exit."""
    binary = ensure_nginx()
    json_body, sse_body = completion_json(), completion_sse(tokens)
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        port = free_port()
        conf = root / "nginx.conf"
        (root / "www").mkdir()
        (root / "www" / "completion.json").write_bytes(json_body)
        (root / "www" / "completion.sse").write_bytes(sse_body)
        conf.write_text(_config(root, port, workers))
        command = [binary, "-p", str(root), "-e", str(root / "error.log"), "-c", str(conf)]
        if cpus:
            command = ["taskset", "-c", ",".join(map(str, sorted(cpus))), *command]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_ready(port, proc, root)
            yield Upstream(port=port, pid=proc.pid, json_body=json_body, sse_body=sse_body)
        finally:
            proc.send_signal(signal.SIGQUIT)  # graceful: workers finish, then the master exits
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _wait_ready(port: int, proc: subprocess.Popen[bytes], root: Path) -> None:
    import http.client

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            log = (root / "error.log").read_text() if (root / "error.log").exists() else ""
            raise RuntimeError(f"nginx exited at start ({proc.returncode}): {err}{log}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("POST", "/v1/chat/completions", body=b"{}")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("nginx did not answer within 20 s")

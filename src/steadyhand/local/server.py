"""Start, wait for and stop a llama.cpp server (``llama_cpp.server``) serving the bundled model.

The server runs as a child process on loopback; its output goes to a temporary log file that is
quoted in any error, so a failed start says why instead of timing out silently.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

from ..errors import ConfigurationError
from ..providers.token_estimate import estimate_prompt_tokens
from ..types import Message, ModelRequest
from .model import MODEL_FILE, find_bundled_model, require_server_package
from .ports import port_in_use, port_owned_by

__all__ = ["DEFAULT_MODEL_NAME", "LocalModelServer", "LocalServerError", "PortUnavailable", "free_port"]

DEFAULT_MODEL_NAME = MODEL_FILE
WARM_UP_PROMPT = "hi"
"""The name the server lists (``--model_alias``) instead of the file's full path: the file's own name,
which pins the exact weights and quantization (a floating name would draw a warning)."""


class LocalServerError(ConfigurationError):
    """The local model server did not start or answer in time; the message quotes its log."""


class PortUnavailable(LocalServerError):
    """The port is held by another process (before start, or it answered the readiness probe)."""


def available_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def free_port(host: str = "127.0.0.1") -> int:
    """A port free at the moment of asking (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class LocalModelServer:
    """The llama.cpp server with SmolLM2-135M on loopback, as a context manager.

    ``port=0`` picks a free port. ``start()`` returns once the server has answered a one-token
    completion (so a server that loads but crashes on its first prompt fails here, with its log), or
    raises :class:`LocalServerError` after ``startup_timeout`` seconds.

    ``n_batch`` (prompt tokens per step) defaults to 512. The server runs through
    :mod:`steadyhand.local.llama_launch`, with llama.cpp's extra weight buffers off: with them, batches
    larger than one token crash on AMX CPUs and the same seed samples differently once a prompt prefix
    is reused (docs/local-model.md has the figures).
    ``n_threads`` defaults to the cores this process may use (llama.cpp's own default is half of them).

    The server is started with ``--interrupt_requests False``: by default llama-cpp-python cuts a
    running stream short when another request arrives; this way concurrent requests queue instead.
    ``extra_args`` are appended to the command line, so they override the settings above.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        n_ctx: int = 2048,
        n_batch: int = 512,
        n_threads: int | None = None,
        model_path: Path | None = None,
        model_name: str = DEFAULT_MODEL_NAME,
        startup_timeout: float = 60.0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.host = host
        self.port = port
        self.n_ctx = n_ctx
        self.n_batch = n_batch
        self.n_threads = n_threads or available_cores()
        self.model_path = model_path
        self.model_name = model_name
        self.startup_timeout = startup_timeout
        self.extra_args = extra_args
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None
        self.prompt_overhead = 0
        """Prompt tokens the chat template adds (measured at start); ``local_config`` passes it on."""

    @property
    def url(self) -> str:
        """The server's root URL, e.g. ``http://127.0.0.1:8123``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (root + ``/v1``), what a provider config takes."""
        return f"{self.url}/v1"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def command(self) -> list[str]:
        """The exact command line the server is started with."""
        model = self.model_path or find_bundled_model()
        return [
            sys.executable, "-m", "steadyhand.local.llama_launch",
            "--model", str(model), "--model_alias", self.model_name,
            "--host", self.host, "--port", str(self.port), "--n_ctx", str(self.n_ctx),
            "--n_batch", str(self.n_batch), "--n_threads", str(self.n_threads),
            "--interrupt_requests", "False",
            *self.extra_args,
        ]  # fmt: skip

    def environment(self) -> dict[str, str]:
        """The server's environment: this process's, with OpenMP's threads sleeping when they wait.

        llama.cpp's OpenMP threads spin while they wait for each other; on a busy machine a spinning
        thread holds a core the other one needs. Measured here at load 6, four short chats took 2 to
        17 s each with spinning and 1 to 2 s with ``OMP_WAIT_POLICY=PASSIVE``. A value you set wins.
        """
        return {"OMP_WAIT_POLICY": "PASSIVE", **os.environ}

    def start(self) -> LocalModelServer:
        """Start the server and wait until it answers."""
        if self._process is not None:
            raise LocalServerError("the local model server is already started; stop() it first")
        require_server_package()
        if self.port == 0:
            self.port = free_port(self.host)
        elif (reason := port_in_use(self.host, self.port)) is not None:
            raise PortUnavailable(f"{reason}: stop it, or choose another port (--port 0 picks a free one)")
        command = self.command()
        fd, log_name = tempfile.mkstemp(prefix="steadyhand-llama-", suffix=".log")
        self._log_path = Path(log_name)
        with os.fdopen(fd, "wb") as log:
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.environment(),
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(timeout=2.0, trust_env=False) as http:
            while time.monotonic() < deadline:
                if self._process is None or self._process.poll() is not None:
                    raise LocalServerError(f"the llama.cpp server exited during start-up:\n{self.log_tail()}")
                try:
                    if http.get(f"{self.base_url}/models").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            else:
                raise LocalServerError(
                    f"the llama.cpp server did not answer within {self.startup_timeout:.0f} s:\n"
                    f"{self.log_tail()}"
                )
            self._check_ours()
            self._warm_up(http)

    def _check_ours(self) -> None:
        """The answer must come from our child: another server may have taken the port meanwhile."""
        assert self._process is not None
        if port_owned_by(self._process.pid, self.port) is False:
            raise PortUnavailable(
                f"another process answered on {self.url}, not the llama.cpp server started here: "
                "stop it, or choose another port (--port 0 picks a free one)"
            )

    def _warm_up(self, http: httpx.Client) -> None:
        """One one-token completion: proves the model runs, and the first real call is not a cold one.

        Its usage also measures :attr:`prompt_overhead`: the server's own prompt count minus the local
        estimate of the same one-word prompt is what the chat template adds.
        """
        body = {
            "model": self.model_name,
            "messages": [{"role": "user", "content": WARM_UP_PROMPT}],
            "max_tokens": 1,
        }
        try:
            response = http.post(f"{self.base_url}/chat/completions", json=body, timeout=self.startup_timeout)
        except httpx.TransportError as exc:
            time.sleep(0.2)  # let the process exit so the log holds its last words
            raise LocalServerError(
                f"the llama.cpp server failed its first completion ({exc!r}):\n{self.log_tail()}"
            ) from exc
        if response.status_code != 200:
            raise LocalServerError(
                f"the llama.cpp server answered its first completion with {response.status_code}: "
                f"{response.text[:500]}"
            )
        counted = response.json().get("usage", {}).get("prompt_tokens")
        if isinstance(counted, int):
            request = ModelRequest(
                model=self.model_name, messages=[Message(role="user", content=WARM_UP_PROMPT)]
            )
            self.prompt_overhead = max(0, counted - estimate_prompt_tokens(request))

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the server wrote (start-up diagnostics)."""
        if self._log_path is None or not self._log_path.exists():
            return "(no log)"
        text = self._log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop the server (terminate, then kill after ``timeout``) and remove its log. Idempotent."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None

    def wait(self) -> int:
        """Block until the server exits (the foreground ``steadyhand local serve``); its exit code."""
        if self._process is None:
            raise LocalServerError("the local model server is not started")
        return self._process.wait()

    def __enter__(self) -> LocalModelServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

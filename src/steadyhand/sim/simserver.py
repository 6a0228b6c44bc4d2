"""SimServer: the simulator on its own thread and event loop, for tests and the CLI."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from types import TracebackType

from ..errors import ConfigurationError
from .recording import RecordedRequest, Recorder
from .router import Router
from .scenario import Scenario, load_scenario
from .server import ServerLimits, _Connection, _Core, _new_loop

DEFAULT_RECORD_LIMIT = 10_000
_DEFAULTS = ServerLimits()


class SimServer:
    """The provider simulator, serving OpenAI and Anthropic wire formats on ``base_url``.

    ``seed`` defaults to the scenario's own ``seed`` (0 without a scenario). ``port=0`` picks a free port.
    ``record_limit`` bounds :attr:`requests` (the most recent are kept; 0 keeps none). The other
    options are the front-end limits of :class:`~steadyhand.sim.server.ServerLimits`.
    """

    def __init__(
        self,
        scenario: Scenario | str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        record_limit: int = DEFAULT_RECORD_LIMIT,
        max_body_bytes: int = _DEFAULTS.max_body_bytes,
        read_timeout: float = _DEFAULTS.read_timeout,
        idle_timeout: float = _DEFAULTS.idle_timeout,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ConfigurationError(f"port {port} is out of range: use 1 to 65535, or 0 for a free port")
        if record_limit < 0:
            raise ConfigurationError(f"record_limit must be 0 or more, got {record_limit}")
        if max_body_bytes < 1 or read_timeout <= 0 or idle_timeout <= 0:
            raise ConfigurationError("max_body_bytes, read_timeout and idle_timeout must be positive")
        self.limits = ServerLimits(
            max_body_bytes=max_body_bytes, read_timeout=read_timeout, idle_timeout=idle_timeout
        )
        if scenario is None:
            scenario = Scenario()
        elif not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else seed
        self.host = host
        self.port = port
        self._recorder = Recorder(limit=record_limit)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stopping: asyncio.Event | None = None

    @property
    def base_url(self) -> str:
        """``http://host:port``; OpenAI clients use ``base_url + "/v1"``, Anthropic clients ``base_url``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request seen so far, in arrival order (a snapshot; safe from any thread)."""
        return self._recorder.snapshot()

    def clear_requests(self) -> None:
        """Forget the recorded requests (the fault counters and rate windows keep their state)."""
        self._recorder.clear()

    def start(self) -> SimServer:
        """Start serving on a background thread; returns once the port is bound."""
        if self._thread is not None:
            raise RuntimeError("SimServer is already running; call stop() first")
        self._ready.clear()
        self._thread = threading.Thread(target=self._main, name=f"steadyhand-sim:{self.port}", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise OSError(f"steadyhand sim could not listen on {self.host}:{self.port}: {self._error}")
        return self

    def stop(self) -> None:
        """Stop accepting, drop every open connection (hung ones included) and join the thread."""
        if self._thread is None or self._loop is None:
            return
        loop, stopping = self._loop, self._stopping
        if stopping is not None:
            loop.call_soon_threadsafe(stopping.set)
        self._thread.join()
        self._thread = None

    def serve_forever(self) -> None:
        """Serve in the foreground (starting if needed) until interrupted (Ctrl-C), then stop cleanly."""
        if self._thread is None:
            self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                time.sleep(0.2)
        finally:
            self.stop()

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _main(self) -> None:
        loop = _new_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.close()
            self._ready.set()

    async def _serve(self) -> None:
        core = _Core(Router(self.scenario, seed=self.seed), self._recorder, self.limits)
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        try:
            server = await loop.create_server(
                lambda: _Connection(core), self.host, self.port, reuse_address=True, backlog=2048
            )
        except (OSError, OverflowError) as exc:
            self._error = exc
            return
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stopping.wait()
        server.close()
        for connection in list(core.connections):
            if connection.transport is not None:
                connection.transport.abort()
        await server.wait_closed()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        core.workers.close()

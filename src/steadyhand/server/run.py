"""Putting a :class:`~steadyhand.server.gateway.Gateway` on a socket, and stopping it gracefully.

:class:`GatewayServer` serves in the foreground (``steadyhand serve``: SIGTERM/Ctrl-C stop it,
SIGHUP reloads the configuration) or on a background thread (tests, embedding). Stopping closes the
listening socket, closes idle keep-alive connections, lets requests in flight finish (up to
``grace`` seconds), then closes the upstream connections and flushes the tracer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable
from types import TracebackType

from ..sim.server import _new_loop
from .gateway import Gateway
from .http import Connection, ServerCore

__all__ = ["GatewayServer"]

log = logging.getLogger("steadyhand.server")


class GatewayServer:
    """``with GatewayServer(gateway) as server: ... server.base_url ...`` (``port=0``: a free port)."""

    def __init__(
        self,
        gateway: Gateway,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        grace: float = 30.0,
        sock: socket.socket | None = None,
        on_stopped: Callable[[], None] | None = None,
    ) -> None:
        self.gateway = gateway
        self.host = host
        self.port = port
        self.grace = grace
        self._sock = sock
        self._on_stopped = on_stopped
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.core: ServerCore | None = None

    @property
    def base_url(self) -> str:
        """``http://host:port``: OpenAI clients add ``/v1``, Anthropic clients use it as it is."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- background thread ---------------------------------------------------------------------------
    def start(self) -> GatewayServer:
        if self._thread is not None:
            raise RuntimeError("GatewayServer is already running")
        self._thread = threading.Thread(target=self._main, name="steadyhand-gateway", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise OSError(f"steadyhand serve could not listen on {self.host}:{self.port}: {self._error}")
        return self

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        if self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join()
        self._thread = None

    def call(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` on the server's loop (reload from a test, say) and wait for it."""
        assert self._loop is not None
        done = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # handed back to the calling thread
                failure.append(exc)
            finally:
                done.set()

        self._loop.call_soon_threadsafe(run)
        done.wait()
        if failure:
            raise failure[0]

    def __enter__(self) -> GatewayServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _main(self) -> None:
        loop = _new_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(signals=False))
        finally:
            loop.close()
            self._ready.set()

    # -- foreground ----------------------------------------------------------------------------------
    def serve_forever(self, on_ready: Callable[[GatewayServer], None] | None = None) -> None:
        """Serve on this thread until SIGTERM/SIGINT; SIGHUP reloads the configuration."""
        loop = _new_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(signals=True, on_ready=on_ready))
        finally:
            loop.close()

    def _reload_signal(self) -> None:
        try:
            state = self.gateway.reload()
            self.gateway.metrics.reloads.labels("ok").inc()
            log.warning("SIGHUP: configuration reloaded (%s)", state.hash)
        except Exception as exc:  # the old configuration stays
            self.gateway.metrics.reloads.labels("rejected").inc()
            log.error(
                "SIGHUP: the new configuration was rejected, still serving %s: %s",
                self.gateway.state.hash,
                exc,
            )

    async def _serve(self, *, signals: bool, on_ready: Callable[[GatewayServer], None] | None = None) -> None:
        loop = asyncio.get_running_loop()
        self._stopping = stopping = asyncio.Event()
        gateway = self.gateway
        self.core = core = ServerCore(gateway.handle, gateway.refusal, gateway.options.limits())
        try:
            if self._sock is not None:
                server = await loop.create_server(lambda: Connection(core), sock=self._sock, backlog=2048)
            else:
                server = await loop.create_server(
                    lambda: Connection(core), self.host, self.port, reuse_address=True, backlog=2048
                )
        except (OSError, OverflowError) as exc:
            self._error = exc
            self._ready.set()
            return
        self.port = server.sockets[0].getsockname()[1]
        if signals:
            loop.add_signal_handler(signal.SIGTERM, stopping.set)
            loop.add_signal_handler(signal.SIGINT, stopping.set)
            loop.add_signal_handler(signal.SIGHUP, self._reload_signal)
        self._ready.set()
        if on_ready is not None:
            on_ready(self)
        await stopping.wait()
        await self._shutdown(server, core)

    async def _shutdown(self, server: asyncio.Server, core: ServerCore) -> None:
        server.close()
        core.closing = True
        for connection in list(core.connections):
            connection.close_if_idle()
        if core.in_flight:
            _, pending = await asyncio.wait(set(core.in_flight), timeout=self.grace)
            for task in pending:
                task.cancel()
        for connection in list(core.connections):
            if connection.transport is not None:
                connection.transport.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), timeout=1.0)
        try:
            await self.gateway.aclose()
        except Exception:
            log.exception("closing the gateway's upstream connections failed")
        if self._on_stopped is not None:
            self._on_stopped()

"""Throwaway real services for tests and benchmarks: a PostgreSQL cluster or a Redis server in a temp
dir, on a free port.

Independent of pytest so any test suite or benchmark can use it::

    with PostgresCluster() as pg:
        store = open_store(pg.url)

Runs Debian's ``initdb``/``pg_ctl`` from ``/usr/lib/postgresql/<version>/bin`` (as the ``postgres`` user
when running as root, since initdb refuses root), with durability off for speed and trust auth on
127.0.0.1 only. Never touches a PostgreSQL already running on the machine.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["PostgresCluster", "RedisServer", "ServiceMissing", "free_port", "postgres_bin_dir"]

MISSING_MESSAGE = (
    "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: install Debian's package with "
    "`apt-get install -y postgresql` (or run `make system-deps`)"
)

REDIS_MISSING_MESSAGE = (
    "redis-server not found on PATH: install Debian's package with `apt-get install -y redis-server` "
    "(or run `make system-deps`)"
)


class ServiceMissing(RuntimeError):
    """A service the tests need is not installed; the message names the package."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_bin_dir() -> Path:
    """The newest installed server's bin dir, or :class:`ServiceMissing` naming the package."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name)
    )
    if not found:
        raise ServiceMissing(MISSING_MESSAGE)
    return Path(found[-1]).parent


class PostgresCluster:
    """A PostgreSQL cluster of its own: ``start()``, ``stop()``, ``restart()``, or use it as a context."""

    def __init__(self, *, database: str = "steadyhand", durable: bool = False) -> None:
        self.bin = postgres_bin_dir()
        self.database = database
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="steadyhand-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.durable = durable
        """Keep PostgreSQL's durable defaults (fsync, synchronous commit) instead of test settings."""
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._initialized = False

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, tool: str, *args: str, timeout: float = 30) -> None:
        cmd = [str(self.bin / tool), *args]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()}\n{log}")

    def _init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        self._initialized = True

    def start(self) -> PostgresCluster:
        """Start the server (initializing the cluster and the database the first time)."""
        first = not self._initialized
        if first:
            self._init()
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=50"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            "pg_ctl", "start", "-w", "-t", "30", "-D", str(self.data), "-l", str(self.log), "-o", options
        )
        if first:
            self._create_database()
        return self

    def _create_database(self) -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                self.create_database(self.database)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def create_database(self, name: str) -> str:
        """Create another (empty) database in the running cluster; returns its URL."""
        import psycopg  # only the cluster needs it; keeps this module importable without it

        try:
            with psycopg.connect(
                host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
            ) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
        except psycopg.OperationalError as e:
            raise ConnectionError(f"cannot create database {name!r} on port {self.port}: {e}") from e
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        """Stop the server fast (``-m fast``); the data stays for ``start()``."""
        if self._initialized and (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data))

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        """Stop and delete the cluster's files."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.destroy()


class RedisServer:
    """A redis-server of its own (no persistence, loopback only): ``start()``, ``stop()``, or a context.

    ``stop()`` then ``start()`` is an outage: the same port comes back empty, as a restarted cache does.
    """

    def __init__(self) -> None:
        binary = shutil.which("redis-server") or (
            "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
        )
        if binary is None:
            raise ServiceMissing(REDIS_MISSING_MESSAGE)
        self.binary = binary
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="steadyhand-redis-"))
        self.log = self.root / "redis.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        args = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(self.root), "--logfile", str(self.log),
        ]  # fmt: skip
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            if self._process.poll() is not None or time.monotonic() > deadline:
                log = self.log.read_text()[-2000:] if self.log.exists() else ""
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}\n{log}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

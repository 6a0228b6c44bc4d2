"""Is a port free, and is the process listening on it the one we started?

A readiness probe alone cannot tell: when another server already holds the port, the probe gets its
answer and the start looks fine while our child fails to bind. So the port is checked before the
start, and afterwards the listening socket is traced to its process through ``/proc`` (Linux; elsewhere
only the pre-start check and the child's liveness are available).
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

__all__ = ["port_in_use", "port_owned_by"]

_LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp


def port_in_use(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be bound now (``None`` when it can). ``SO_REUSEADDR`` is set as the
    server sets it, so a port left in TIME_WAIT by an earlier run does not count as taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is already in use by another process"
            return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    return None


def _listening_inodes(port: int, proc: Path) -> set[str] | None:
    found: set[str] = set()
    tables = [proc / "net" / "tcp", proc / "net" / "tcp6"]
    if not any(t.exists() for t in tables):
        return None
    for table in tables:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == _LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                found.add(fields[9])
    return found


def _socket_inodes(pid: int, proc: Path) -> set[str]:
    inodes: set[str] = set()
    fd_dir = proc / str(pid) / "fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return inodes
    for name in names:
        try:
            target = os.readlink(fd_dir / name)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def port_owned_by(pid: int, port: int, *, proc: Path = Path("/proc")) -> bool | None:
    """Whether process ``pid`` holds a socket listening on ``port``; ``None`` when this cannot be
    known here (no ``/proc``)."""
    listening = _listening_inodes(port, proc)
    if listening is None:
        return None
    return bool(listening & _socket_inodes(pid, proc))

"""The suite cannot reach outside the machine nor read the developer's settings (a pytest plugin).

Loaded by ``tests/conftest.py`` (and with ``-p _hermetic`` by tests that run pytest in a subprocess):

* every ``STEADYHAND_*`` variable, provider key and proxy variable is removed from ``os.environ`` when
  the session starts (so session fixtures and every subprocess inherit a clean environment) and again
  around every test (so a variable one test sets never leaks into the next);
* every test runs in an empty working directory of its own (no stray ``steadyhand.toml`` or
  ``.steadyhand/steadyhand.db``);
* a connection to any address but loopback (or a unix socket) is refused with :class:`NetworkBlocked`
  and fails the test naming the address, even when the code under test catches the error.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest

PROVIDER_KEYS = frozenset(
    {
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_BASE_URL",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_ENDPOINT",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "GROQ_API_KEY",
        "MISTRAL_API_KEY",
        "COHERE_API_KEY",
        "TOGETHER_API_KEY",
        "OPENROUTER_API_KEY",
        "DEEPSEEK_API_KEY",
        "XAI_API_KEY",
        "HF_TOKEN",
    }
)
PROXY_VARIABLES = frozenset(
    name
    for base in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "WS_PROXY", "WSS_PROXY")
    for name in (base, base.lower())
)
LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def is_scrubbed(name: str) -> bool:
    """Whether a test must not see this variable (settings, credentials, or a route off the machine)."""
    return name.startswith("STEADYHAND_") or name in PROVIDER_KEYS or name in PROXY_VARIABLES


def scrub(environ: MutableMapping[str, str]) -> list[str]:
    """Remove every variable :func:`is_scrubbed` names; returns the names removed."""
    removed = sorted(name for name in environ if is_scrubbed(name))
    for name in removed:
        del environ[name]
    return removed


class NetworkBlocked(ConnectionRefusedError):
    """A test tried to reach an address that is not loopback; an OSError so code under test sees a
    refused connection rather than a real one."""


def is_local_host(host: object) -> bool:
    """Loopback, the unspecified address (which Linux routes to loopback), or a name for localhost."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").split("%", 1)[0].rstrip(".").lower()
    if name in ("", *LOCAL_NAMES) or name.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


class Guard:
    """Patches ``socket`` so that non-loopback connections are refused and remembered."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._lock = threading.Lock()
        self._originals: dict[str, Any] = {}

    def check(self, family: object, address: object) -> None:
        if family == getattr(socket, "AF_UNIX", object()) or isinstance(address, str | bytes):
            return  # a unix socket path
        host = address[0] if isinstance(address, tuple) and address else address
        if is_local_host(host):
            return
        where = f"{host}:{address[1]}" if isinstance(address, tuple) and len(address) > 1 else str(host)
        with self._lock:
            self.attempts.append(where)
        raise NetworkBlocked(f"the test suite may only reach loopback; this test tried {where}")

    def install(self) -> None:
        if self._originals:
            return
        guard = self
        original_connect = socket.socket.connect
        original_connect_ex = socket.socket.connect_ex
        original_sendto = socket.socket.sendto
        original_getaddrinfo = socket.getaddrinfo

        def connect(self: socket.socket, address: Any) -> None:
            guard.check(self.family, address)
            original_connect(self, address)

        def connect_ex(self: socket.socket, address: Any) -> int:
            guard.check(self.family, address)
            return original_connect_ex(self, address)

        def sendto(self: socket.socket, data: Any, *args: Any) -> int:
            guard.check(self.family, args[-1])
            return original_sendto(self, data, *args)

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            guard.check(None, (host, port))  # refuse before any name lookup leaves the machine
            return original_getaddrinfo(host, port, *args, **kwargs)

        self._originals = {
            "connect": original_connect,
            "connect_ex": original_connect_ex,
            "sendto": original_sendto,
            "getaddrinfo": original_getaddrinfo,
        }
        socket.socket.connect = connect  # type: ignore[method-assign,assignment]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
        socket.socket.sendto = sendto  # type: ignore[assignment]
        socket.getaddrinfo = getaddrinfo

    def uninstall(self) -> None:
        if not self._originals:
            return
        socket.socket.connect = self._originals["connect"]  # type: ignore[method-assign]
        socket.socket.connect_ex = self._originals["connect_ex"]  # type: ignore[method-assign]
        socket.socket.sendto = self._originals["sendto"]  # type: ignore[method-assign]
        socket.getaddrinfo = self._originals["getaddrinfo"]
        self._originals = {}

    def take(self) -> list[str]:
        with self._lock:
            taken, self.attempts = self.attempts, []
        return taken


GUARD = Guard()


def pytest_sessionstart(session: pytest.Session) -> None:
    scrub(os.environ)
    GUARD.install()


def pytest_sessionfinish(session: pytest.Session) -> None:
    GUARD.uninstall()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """A test body that tried to leave loopback fails, even if the code under test swallowed the error."""
    try:
        return (yield)
    finally:
        if attempts := GUARD.take():
            pytest.fail(_message(attempts), pytrace=False)


def _message(attempts: list[str]) -> str:
    return f"this test tried to reach {', '.join(sorted(set(attempts)))}: tests may only use loopback"


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A clean environment and an empty working directory; fails the test if it left loopback."""
    for name in [n for n in os.environ if is_scrubbed(n)]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    if attempts := GUARD.take():  # from a fixture's setup or teardown
        pytest.fail(_message(attempts), pytrace=False)

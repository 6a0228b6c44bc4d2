"""HTTP/1.1 with no I/O, shared by steadyhand's own transports (``http_httptools.py`` async, ``http_sync.py``
sync): what a URL means to a pool, a request's bytes, the response as httptools reports it, a body's
decoder, and the steadyhand error for how an exchange failed."""

from __future__ import annotations

import functools
import ssl
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from ..errors import ConfigurationError, ProviderConnectionError, ProviderError, StreamInterrupted
from ._clock import Clock
from .base import HTTPRequest

__all__ = [
    "KEEPALIVE_EXPIRY",
    "MAX_CONNECTIONS",
    "MAX_FIELD",
    "MAX_HEAD",
    "Closed",
    "ReadTimeout",
    "ResponseParse",
    "Target",
    "body_decoder",
    "cached_target",
    "decode_body",
    "describe",
    "encode_request",
    "exchange_error",
    "parse_url",
    "refusal",
    "tls_context",
]

MAX_CONNECTIONS = 100
"""Connections in use at once, as for the other transports; a call waits (within ``connect``) for one."""
KEEPALIVE_EXPIRY = 30.0
"""Seconds an idle pooled connection is kept."""
MAX_FIELD = 65536
"""Longest response header (name and value) accepted, as for the aiohttp transport."""
MAX_HEAD = 1 << 20
"""Longest response head accepted: a hostile server cannot make the client buffer without end."""
_FRAMING = frozenset({"host", "content-length", "transfer-encoding"})
_DEFAULT_HEADERS = {"user-agent": "User-Agent: steadyhand\r\n", "accept": "Accept: */*\r\n"}
"""Sent unless the caller sets them (some providers' front ends refuse a request with no User-Agent)."""


class ReadTimeout(Exception):
    """A read ran out of time; ``phase`` names the limit (``total`` when the deadline passed)."""

    def __init__(self, phase: str) -> None:
        super().__init__(phase)
        self.phase = phase


class Closed(ConnectionError):
    """The server closed the connection before the answer ended."""


@dataclass(frozen=True, slots=True)
class Target:
    """What a URL means to the pool: where to connect and the request line's target."""

    key: tuple[str, str, int]
    host: str
    port: int
    tls: bool
    path: str
    host_header: str


def parse_url(url: str) -> Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigurationError(f"bad provider URL: {exc}; fix the provider's base_url") from exc
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("http", "https") or not host:
        raise ConfigurationError(
            f"bad provider URL {url!r}: not http(s)://host/...; fix the provider's base_url"
        )
    try:
        host.encode("idna")  # what connecting asks of it: a label empty or over 63 characters fails
    except UnicodeError:
        raise ConfigurationError(
            f"bad provider URL {url!r}: {host!r} is not a host name; fix the provider's base_url"
        ) from None
    default = 443 if scheme == "https" else 80
    port = port or default
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not path.isascii() or " " in path:
        path = quote(path, safe="/?&=%:@!$'()*+,;~")
    named = f"[{host}]" if ":" in host else host
    host_header = named if port == default else f"{named}:{port}"
    return Target((scheme, host, port), host, port, scheme == "https", path, host_header)


cached_target = functools.lru_cache(maxsize=256)(parse_url)
""":func:`parse_url` remembered: a transport asks for every request, and a client uses a few URLs."""


def encode_request(request: HTTPRequest, target: Target) -> bytes:
    """The request's bytes: the caller's headers, with Host (the caller's, if given) and Content-Length
    set here. A line break in a header (an injected header) or a colon in a name is refused."""
    host, lines, extra = target.host_header, [], _DEFAULT_HEADERS
    for name, value in request.headers.items():
        low = name.lower()
        if low in _FRAMING:
            if low == "host":
                host = value
            continue
        if low in extra or ":" in name:
            if ":" in name:
                raise ConfigurationError(f"header name {name!r} has a colon; fix the provider's headers")
            extra = {k: v for k, v in extra.items() if k != low}
        lines.append(f"{name}: {value}\r\n")
    block = "".join(lines)
    if block.count("\n") != len(lines) or block.count("\r") != len(lines) or "\n" in host or "\r" in host:
        bad = next((n for n, v in request.headers.items() if "\n" in n + v or "\r" in n + v), "host")
        raise ConfigurationError(f"header {bad!r} has a line break; fix the provider's headers")
    body = request.body
    length = (
        f"Content-Length: {len(body or b'')}\r\n"
        if body is not None or request.method in ("POST", "PUT", "PATCH")
        else ""
    )
    defaults = "".join(extra.values())
    head = f"{request.method} {target.path} HTTP/1.1\r\nHost: {host}\r\n{block}{defaults}{length}\r\n"
    return head.encode() + body if body else head.encode()


def tls_context() -> ssl.SSLContext:
    """The system's trust store, offering HTTP/1.1 by ALPN (as the stdlib's ``http.client`` does): some
    front ends pick the protocol from it."""
    context = ssl.create_default_context()
    context.set_alpn_protocols(["http/1.1"])
    return context


def body_decoder(headers: dict[str, str]) -> Callable[[bytes], bytes] | None:
    """A decoder for a gzip or deflate body (never asked for, but a server may send one anyway)."""
    coding = headers.get("content-encoding", "").strip().lower()
    if coding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress
    if coding == "deflate":
        return zlib.decompressobj().decompress
    return None


def decode_body(decode: Callable[[bytes], bytes], data: bytes) -> bytes:
    try:
        return decode(data)
    except zlib.error as exc:
        raise StreamInterrupted(f"the answer's body could not be decoded: {exc}") from exc


def describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def exchange_error(exc: BaseException, clock: Clock, *, in_body: bool) -> ProviderError:
    """The steadyhand error for how an exchange failed; a failure after the head is an interrupted stream."""
    if isinstance(exc, ReadTimeout):
        clock.phase = exc.phase
        return clock.read_timeout()
    if in_body:
        return StreamInterrupted(f"the connection closed mid-answer: {describe(exc)}")
    return ProviderConnectionError(f"the connection failed before an answer arrived: {describe(exc)}")


class ResponseParse:
    """The httptools callbacks both transports share: the head's limits, an interim answer (100
    Continue) skipped, how the body is framed, a HEAD answer ended at its head. A refusal is a
    ``ValueError`` raised from the callback, which httptools reports as the ``__context__`` of its
    own error. A connection adds how bytes arrive: ``_headed`` once a head is in and its body is to
    be read, ``_wake`` when the exchange moved on (both do nothing here)."""

    __slots__ = (
        "bodiless", "complete", "head_bytes", "head_done", "headers", "informational", "keep", "parser",
        "status", "until_close",
    )  # fmt: skip
    parser: Any
    status: int
    headers: dict[str, str]
    head_bytes: int
    head_done: bool
    complete: bool
    keep: bool
    until_close: bool
    informational: bool
    bodiless: bool

    def _headed(self) -> None:
        pass

    def _wake(self) -> None:
        pass

    def on_message_begin(self) -> None:
        if self.complete:
            raise ValueError("bytes after the answer")

    def on_header(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value)
        self.head_bytes += size
        if size > MAX_FIELD:
            raise ValueError(f"a response header is longer than {MAX_FIELD} bytes")
        if self.head_bytes > MAX_HEAD:
            raise ValueError(f"the response head is longer than {MAX_HEAD} bytes")
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # an interim answer: the real one follows
            self.informational = True
            self.headers = {}
            return
        self.status = status
        headers = self.headers
        self.until_close = (
            "content-length" not in headers
            and "chunked" not in headers.get("transfer-encoding", "").lower()
            and status not in (204, 304)
        )
        self.keep = self.parser.should_keep_alive()
        self.head_done = True
        if self.bodiless:  # a HEAD answer has no body whatever its Content-Length says; httptools cannot
            self.keep = False  # be told so, and would wait for one: end here, and drop the connection
            self.complete = True
            self._wake()
            return
        self._headed()

    def on_message_complete(self) -> None:
        if self.informational:
            self.informational = False
            return
        self.complete = True
        self._wake()


def refusal(exc: BaseException) -> BaseException:
    """What a parser error means: the callback's own refusal when there was one."""
    cause = exc.__context__
    return cause if isinstance(cause, ValueError) else exc

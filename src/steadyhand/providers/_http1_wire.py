"""HTTP/1.1 with no I/O, shared by steadyhand's own transports (``http_httptools.py`` async, ``http_sync.py``
sync): what a URL means to a pool, a request's bytes, the limits on a response head, a body's decoder."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from ..errors import ConfigurationError
from .base import HTTPRequest

__all__ = [
    "MAX_FIELD",
    "MAX_HEAD",
    "Closed",
    "ReadTimeout",
    "Target",
    "body_decoder",
    "encode_request",
    "parse_url",
]

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
    default = 443 if scheme == "https" else 80
    port = port or default
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not path.isascii() or " " in path:
        path = quote(path, safe="/?&=%:@!$'()*+,;~")
    named = f"[{host}]" if ":" in host else host
    host_header = named if port == default else f"{named}:{port}"
    return Target((scheme, host, port), host, port, scheme == "https", path, host_header)


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


def body_decoder(headers: dict[str, str]) -> Callable[[bytes], bytes] | None:
    """A decoder for a gzip or deflate body (never asked for, but a server may send one anyway)."""
    coding = headers.get("content-encoding", "").strip().lower()
    if coding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress
    if coding == "deflate":
        return zlib.decompressobj().decompress
    return None

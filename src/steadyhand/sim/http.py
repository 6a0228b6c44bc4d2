"""HTTP/1.1 and SSE framing as pure byte builders (no I/O)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import orjson

REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Content Too Large",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    529: "Site Overloaded",
}
JSON_TYPE = "application/json"
SSE_TYPE = "text/event-stream; charset=utf-8"
LAST_CHUNK = b"0\r\n\r\n"


def dumps(doc: Any) -> bytes:
    """Compact UTF-8 JSON, as the providers send it (orjson: big answers are built off the hot path
    in a fraction of the stdlib's time). Text that is not valid UTF-8, such as a lone surrogate echoed
    back from a prompt, falls back to ``\\u`` escapes, which is still valid JSON."""
    try:
        return orjson.dumps(doc)
    except TypeError:
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=True).encode()


def head(status: int, headers: Iterable[tuple[str, str]], *, length: int | None) -> bytes:
    """Status line and headers; ``length=None`` means a chunked body."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"]
    lines.extend(f"{name}: {value}" for name, value in headers)
    lines.append(f"content-length: {length}" if length is not None else "transfer-encoding: chunked")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def response(status: int, headers: Iterable[tuple[str, str]], body: bytes) -> bytes:
    """A whole plain response."""
    return head(status, headers, length=len(body)) + body


def chunk(data: bytes) -> bytes:
    """One HTTP chunk of a chunked body."""
    return b"%x\r\n%b\r\n" % (len(data), data)


def sse_data(doc: Any) -> bytes:
    """An OpenAI-style ``data:`` event."""
    return b"data: " + dumps(doc) + b"\n\n"


def sse_event(name: str, doc: Any) -> bytes:
    """An Anthropic-style named event."""
    return b"event: " + name.encode() + b"\ndata: " + dumps(doc) + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"

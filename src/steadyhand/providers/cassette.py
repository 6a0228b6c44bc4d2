"""Record and replay provider exchanges at the transport level, secrets stripped.

A cassette is a JSON file: ``{"version": 1, "interactions": [{"request": ..., "response": ...}]}``. A
request is matched by method, URL and body (JSON normalized: key order and spacing do not matter);
identical requests replay their recordings in order, the last one repeating. Streamed bodies are kept
one chunk per SSE event and replayed chunk by chunk. Authorization, API-key and cookie
headers are never written, and anything that looks like an ``sk-...`` key is masked in bodies and URLs
(a key that a model streams back token by token is not contiguous in the bytes and is not recognized).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigurationError
from .base import (
    AsyncHTTPStream,
    AsyncTransport,
    HTTPRequest,
    HTTPResponse,
    HTTPStream,
    Timeouts,
    Transport,
)

__all__ = [
    "AsyncCassetteTransport",
    "AsyncRecordingTransport",
    "AsyncReplayTransport",
    "Cassette",
    "CassetteMiss",
    "CassetteMode",
    "CassetteTransport",
    "RecordingTransport",
    "ReplayTransport",
    "mask_keys",
]

CassetteMode = Literal["record", "replay", "auto"]
UNRECORDED_HEADERS = frozenset(
    {
        "authorization",
        "x-api-key",
        "api-key",
        "cookie",
        "set-cookie",
        "proxy-authorization",
        "openai-organization",
    }
)
_KEY = re.compile(r"(sk-(?:ant-)?)[A-Za-z0-9_\-]{8,}")
_QUERY_KEY = re.compile(r"([?&](?:key|api_key|api-key)=)[^&]+")


class CassetteMiss(ConfigurationError):
    """Replay found no recording for a request: record it again (``cassette_mode="record"`` or ``auto``)."""


def mask_keys(text: str) -> str:
    """Mask API keys in a body or URL."""
    return _QUERY_KEY.sub(r"\1REDACTED", _KEY.sub(r"\1REDACTED", text))


def _text(data: bytes) -> dict[str, str]:
    try:
        return {"text": mask_keys(data.decode("utf-8"))}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}


def _bytes(stored: dict[str, str]) -> bytes:
    return base64.b64decode(stored["base64"]) if "base64" in stored else stored["text"].encode("utf-8")


def _key(method: str, url: str, body: bytes | None) -> str:
    text = "" if body is None else body.decode("utf-8", "replace")
    with suppress(ValueError):
        text = json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    return f"{method.upper()} {mask_keys(url)} {mask_keys(text)}"


class Cassette:
    """One cassette file, shared by the sync and async transports of a client; thread-safe."""

    def __init__(self, path: str | Path, *, mode: CassetteMode = "auto") -> None:
        self.path = Path(path)
        self.mode = mode
        self._lock = threading.Lock()
        self._interactions: list[dict[str, Any]] = []
        self._used: dict[str, int] = {}
        if mode != "record" and self.path.is_file():
            self._interactions = json.loads(self.path.read_text("utf-8")).get("interactions", [])
        elif mode == "replay":
            raise ConfigurationError(f"cassette {str(self.path)!r} does not exist; record it first")

    def find(self, request: HTTPRequest) -> dict[str, Any] | None:
        """The next recorded response for ``request``, or None."""
        key = _key(request.method, request.url, request.body)
        with self._lock:
            hits = [i for i in self._interactions if i["key"] == key]
            if not hits:
                return None
            n = self._used.get(key, 0)
            self._used[key] = n + 1
            return dict(hits[min(n, len(hits) - 1)]["response"])

    def miss(self, request: HTTPRequest) -> CassetteMiss:
        body = mask_keys((request.body or b"").decode("utf-8", "replace"))[:500]
        return CassetteMiss(
            f"cassette {str(self.path)!r} has no recording of {request.method} {mask_keys(request.url)} "
            f"with body {body}; record it with cassette_mode='record' or 'auto'"
        )

    def add(self, request: HTTPRequest, response: dict[str, Any]) -> None:
        headers = {
            k: v for k, v in response.get("headers", {}).items() if k.lower() not in UNRECORDED_HEADERS
        }
        entry = {
            "key": _key(request.method, request.url, request.body),
            "request": {
                "method": request.method,
                "url": mask_keys(request.url),
                "headers": {k: v for k, v in request.headers.items() if k.lower() not in UNRECORDED_HEADERS},
                "body": _text(request.body or b""),
            },
            "response": {**response, "headers": headers},
        }
        with self._lock:
            self._interactions.append(entry)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            data = {"version": 1, "interactions": self._interactions}
            self.path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", "utf-8")

    def lookup(self, request: HTTPRequest) -> dict[str, Any] | None:
        """A recording to replay, None when the request must go out, or raise on a replay miss."""
        if self.mode == "record":
            return None
        hit = self.find(request)
        if hit is None and self.mode == "replay":
            raise self.miss(request)
        return hit


def _recorded(
    status: int, headers: Any, body: bytes | None = None, chunks: list[bytes] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"status": status, "headers": dict(headers)}
    if chunks is not None:
        # Redact the whole body (a key may straddle two chunks), then keep one chunk per SSE event.
        whole = _text(b"".join(chunks))
        if "text" in whole:
            out["chunks"] = [{"text": e} for e in re.findall(r".*?\n\n|.+$", whole["text"], re.S)]
        else:
            out["chunks"] = [whole]
    else:
        out["body"] = _text(body or b"")
    return out


def _chunks_of(recorded: dict[str, Any]) -> list[bytes]:
    if "chunks" in recorded:
        return [_bytes(c) for c in recorded["chunks"]]
    return [_bytes(recorded["body"])]


def _response(recorded: dict[str, Any]) -> HTTPResponse:
    return HTTPResponse(recorded["status"], recorded["headers"], b"".join(_chunks_of(recorded)))


class CassetteTransport:
    """A sync :class:`Transport` that replays from ``cassette`` and records what ``inner`` answers.

    ``inner`` may be None for replay-only use. A stream is recorded once it has been read to its end;
    a stream that breaks is not recorded (the error is raised as usual).
    """

    def __init__(self, cassette: Cassette, inner: Transport | None = None) -> None:
        self.cassette = cassette
        self.inner = inner

    def _inner(self, request: HTTPRequest) -> Transport:
        if self.inner is None:
            raise self.cassette.miss(request)
        return self.inner

    def send(self, request: HTTPRequest, *, timeouts: Timeouts) -> HTTPResponse:
        hit = self.cassette.lookup(request)
        if hit is not None:
            return _response(hit)
        response = self._inner(request).send(request, timeouts=timeouts)
        self.cassette.add(request, _recorded(response.status_code, response.headers, response.body))
        return response

    @contextmanager
    def stream(self, request: HTTPRequest, *, timeouts: Timeouts) -> Iterator[HTTPStream]:
        hit = self.cassette.lookup(request)
        if hit is not None:
            yield HTTPStream(hit["status"], hit["headers"], iter(_chunks_of(hit)))
            return
        with self._inner(request).stream(request, timeouts=timeouts) as live:
            seen: list[bytes] = []

            def tee() -> Iterator[bytes]:
                for data in live.chunks:
                    seen.append(data)
                    yield data
                self.cassette.add(request, _recorded(live.status_code, live.headers, chunks=seen))

            yield HTTPStream(live.status_code, live.headers, tee())

    def close(self) -> None:
        if self.inner is not None:
            self.inner.close()


class AsyncCassetteTransport:
    """The :class:`AsyncTransport` twin of :class:`CassetteTransport`."""

    def __init__(self, cassette: Cassette, inner: AsyncTransport | None = None) -> None:
        self.cassette = cassette
        self.inner = inner

    def _inner(self, request: HTTPRequest) -> AsyncTransport:
        if self.inner is None:
            raise self.cassette.miss(request)
        return self.inner

    async def send(self, request: HTTPRequest, *, timeouts: Timeouts) -> HTTPResponse:
        hit = self.cassette.lookup(request)
        if hit is not None:
            return _response(hit)
        response = await self._inner(request).send(request, timeouts=timeouts)
        self.cassette.add(request, _recorded(response.status_code, response.headers, response.body))
        return response

    @asynccontextmanager
    async def stream(self, request: HTTPRequest, *, timeouts: Timeouts) -> AsyncIterator[AsyncHTTPStream]:
        hit = self.cassette.lookup(request)
        if hit is not None:
            yield AsyncHTTPStream(hit["status"], hit["headers"], _aiter(_chunks_of(hit)))
            return
        async with self._inner(request).stream(request, timeouts=timeouts) as live:
            seen: list[bytes] = []

            async def tee() -> AsyncIterator[bytes]:
                async for data in live.chunks:
                    seen.append(data)
                    yield data
                self.cassette.add(request, _recorded(live.status_code, live.headers, chunks=seen))

            yield AsyncHTTPStream(live.status_code, live.headers, tee())

    async def aclose(self) -> None:
        if self.inner is not None:
            await self.inner.aclose()


class RecordingTransport(CassetteTransport):
    """Record every exchange of ``inner`` to a fresh cassette at ``path``."""

    def __init__(self, inner: Transport, path: str | Path) -> None:
        super().__init__(Cassette(path, mode="record"), inner)


class ReplayTransport(CassetteTransport):
    """Answer only from the cassette at ``path``; a request it lacks raises :class:`CassetteMiss`."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(Cassette(path, mode="replay"))


class AsyncRecordingTransport(AsyncCassetteTransport):
    def __init__(self, inner: AsyncTransport, path: str | Path) -> None:
        super().__init__(Cassette(path, mode="record"), inner)


class AsyncReplayTransport(AsyncCassetteTransport):
    def __init__(self, path: str | Path) -> None:
        super().__init__(Cassette(path, mode="replay"))


async def _aiter(items: list[bytes]) -> AsyncIterator[bytes]:
    for item in items:
        yield item

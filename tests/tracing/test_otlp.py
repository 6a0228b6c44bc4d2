"""OTLP/HTTP JSON export, checked by a tiny local receiver that parses what it gets."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from steadyhand.errors import ConfigurationError
from steadyhand.tracing import OtlpExporter, SpanRecord, Tracer

from ._stores import MemoryStore


class _Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self.status = 200

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().server_bind()


class _Handler(BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((self.path, dict(self.headers), json.loads(body)))
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _attrs(span: dict[str, Any]) -> dict[str, Any]:
    return {a["key"]: next(iter(a["value"].values())) for a in span["attributes"]}


def test_spans_arrive_as_otlp_json_with_genai_attributes(receiver: _Receiver, tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{receiver.server_address[1]}"
    exporter = OtlpExporter(endpoint, headers={"x-api-key": "k"}, service_name="my-app")
    store = MemoryStore()
    with Tracer(store, spool_dir=tmp_path / "spool", exporters=[exporter], exit_timeout=None) as tracer:
        with tracer.span("handle", tags={"user": "u1"}) as root:
            tracer.record(
                SpanRecord(
                    name="chat gpt-4o-mini",
                    kind="llm",
                    trace_id=root.trace_id,
                    parent_id=root.span_id,
                    start_time=1700000000.5,
                    end_time=1700000001.25,
                    provider="openai",
                    model="gpt-4o-mini",
                    response_model="gpt-4o-mini-2024-07-18",
                    input_tokens=12,
                    output_tokens=5,
                    finish_reason="stop",
                    request={"messages": [], "temperature": 0.2},
                )
            )
        assert tracer.flush(5)
    exporter.close()
    assert store.spans and tracer.stats().export_failed == 0
    spans = []
    for path, headers, body in receiver.requests:
        assert path == "/v1/traces"
        assert headers["Content-Type"] == "application/json" and headers["x-api-key"] == "k"
        (rs,) = body["resourceSpans"]
        assert _attrs(rs["resource"]) == {"service.name": "my-app"}
        spans += rs["scopeSpans"][0]["spans"]
    by_name = {s["name"]: s for s in spans}
    llm, handle = by_name["chat gpt-4o-mini"], by_name["handle"]
    assert llm["traceId"] == root.trace_id and len(llm["traceId"]) == 32
    assert llm["parentSpanId"] == root.span_id == handle["spanId"]
    assert llm["startTimeUnixNano"] == "1700000000500000000"
    assert llm["endTimeUnixNano"] == "1700000001250000000"
    assert llm["kind"] == 3 and handle["kind"] == 1
    attrs = _attrs(llm)
    assert attrs["gen_ai.system"] == "openai"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert attrs["gen_ai.usage.input_tokens"] == "12" and attrs["gen_ai.usage.output_tokens"] == "5"
    assert attrs["gen_ai.response.finish_reasons"] == {"values": [{"stringValue": "stop"}]}
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["steadyhand.cost_usd"] > 0
    assert _attrs(handle)["steadyhand.tag.user"] == "u1"
    assert "parentSpanId" not in handle


def test_a_failing_backend_is_counted_and_the_store_still_gets_everything(
    receiver: _Receiver, tmp_path: Path
) -> None:
    receiver.status = 503
    exporter = OtlpExporter(f"http://127.0.0.1:{receiver.server_address[1]}/")
    store = MemoryStore()
    with Tracer(store, spool_dir=tmp_path / "spool", exporters=[exporter], exit_timeout=None) as tracer:
        with pytest.raises(ZeroDivisionError), tracer.span("failing"):
            _ = 1 / 0
        assert tracer.flush(5)
        assert tracer.stats().export_failed == 1
    exporter.close()
    assert [s.name for s in store.spans.values()] == ["failing"]
    (_, _, body) = receiver.requests[0]
    span = body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["status"]["code"] == 2 and "division" in span["status"]["message"]
    assert _attrs(span)["error.type"] == "ZeroDivisionError"


def test_endpoint_must_be_a_url() -> None:
    with pytest.raises(ConfigurationError, match="http"):
        OtlpExporter("localhost:4318")

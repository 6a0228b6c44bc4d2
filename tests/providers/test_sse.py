"""The SSE parser gives the same events however the bytes are split, its one-event fast path included."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from steadyhand.providers.sse import SSEEvent, SSEParser

_LINES = st.sampled_from(
    [b"data: x", b"data:y", b"data: ", b"data: a\rb", b"event: e", b": comment", b"id: 1", b"", b"data: {}"]
)


def _events(parts: list[bytes]) -> list[SSEEvent]:
    parser = SSEParser()
    events = [e for part in parts for e in parser.feed(part)]
    return events + parser.close()


@given(st.lists(_LINES, max_size=12), st.sampled_from([b"\n", b"\r\n", b"\r"]))
def test_same_events_whole_split_per_event_and_byte_by_byte(lines: list[bytes], end: bytes) -> None:
    body = b"".join(line + end for line in lines)
    whole = _events([body])
    per_event = [p + b"\n\n" for p in body.split(b"\n\n")[:-1]] + [body.split(b"\n\n")[-1]]
    assert _events(per_event) == whole
    assert _events([body[i : i + 1] for i in range(len(body))]) == whole


def test_one_whole_data_event_per_read() -> None:
    parser = SSEParser()
    assert parser.feed(b'data: {"a": 1}\n\n') == [SSEEvent("message", '{"a": 1}')]
    assert parser.feed(b"event: ping\n") == []
    assert parser.feed(b"data: x\n\n") == [SSEEvent("ping", "x")]  # a name sent in the read before
    assert parser.feed(b"data: y\n\n") == [SSEEvent("message", "y")]
    assert parser.feed(b"data: a\ndata: b\n\n") == [SSEEvent("message", "a\nb")]

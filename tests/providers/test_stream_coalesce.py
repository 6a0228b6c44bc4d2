"""A coalesced stream (``complete_stream(..., coalesce=True)``, what the gateway asks for) is the same
answer as the event-by-event one: the same text, tool calls, finish, usage and errors, in the same
order, whatever the events and however the reads split them; its merged chunks carry the provider's
own bytes for exactly the events they stand for, and the first content still comes out alone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steadyhand.context import CallContext
from steadyhand.providers._common import assemble
from steadyhand.providers._sse_template import learn, take
from steadyhand.providers.capabilities import OPENAI
from steadyhand.providers.http import HttpxTransport
from steadyhand.providers.http_provider import HTTPProvider
from steadyhand.providers.openai_chat import OpenAIChat
from steadyhand.types import Chunk, Message, ModelRequest

REQUEST = ModelRequest(model="m", messages=[Message(role="user", content="hi")])
COALESCE = CallContext(coalesce=True)


def event(delta: dict[str, Any] | None = None, finish: str | None = None, **top: Any) -> bytes:
    choice: dict[str, Any] = {"index": top.pop("index", 0), "delta": delta or {}, "finish_reason": finish}
    body = {"id": "c1", "object": "chat.completion.chunk", "model": "m", "choices": [choice], **top}
    return b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n"


def text(t: str) -> bytes:
    return event({"content": t})


ROLE = event({"role": "assistant", "content": ""})
STOP = event({}, "stop")
USAGE = b'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}\n\n'
DONE = b"data: [DONE]\n\n"


def _provider(reads: list[bytes]) -> HTTPProvider:
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=_Reads(reads))

    wire = OpenAIChat(base_url="http://h/v1", api_key=None, provider_name="p", capabilities=OPENAI)
    return HTTPProvider(wire, transport=HttpxTransport(httpx.Client(transport=httpx.MockTransport(answer))))


class _Reads(httpx.SyncByteStream):
    """The body in exactly these reads."""

    def __init__(self, reads: list[bytes]) -> None:
        self.reads = reads

    def __iter__(self) -> Iterator[bytes]:
        yield from self.reads


def _run(reads: list[bytes], ctx: CallContext) -> tuple[list[Chunk], str | None]:
    chunks: list[Chunk] = []
    try:
        for chunk in _provider(reads).stream(REQUEST, ctx=ctx):
            chunks.append(chunk)
    except Exception as exc:  # the error is part of the answer: its type, its words, the text before it
        return chunks, f"{type(exc).__name__}: {exc} | {getattr(exc, 'partial_text', None)!r}"
    return chunks, None


def _answer(chunks: list[Chunk]) -> dict[str, Any]:
    return assemble(chunks, provider="p", model="m").model_dump(exclude={"latency_ms"})


def _same(reads: list[bytes]) -> list[Chunk]:
    exact, exact_error = _run(reads, CallContext())
    merged, merged_error = _run(reads, COALESCE)
    assert merged_error == exact_error
    assert _answer(merged) == _answer(exact)
    assert "".join(c.text for c in merged) == "".join(c.text for c in exact)
    return merged


def test_a_whole_answer_in_one_read_merges_its_text_and_keeps_the_bytes() -> None:
    words = [text(w) for w in ("Hello", " there", ",", " friend")]
    body = ROLE + b"".join(words) + STOP + USAGE + DONE
    chunks = _same([body])
    relayed = [c for c in chunks if c.raw_events is not None]
    assert [c.text for c in relayed] == [" there, friend"]  # the first content came out alone, first
    assert relayed[0].raw_events == b"".join(words[1:])  # exactly the events it stands for
    assert chunks[0].raw_events is None and chunks[0].text == "Hello"
    assert chunks[-1].usage is not None and chunks[-1].usage.output_tokens == 4
    assert all(c.raw_events is None for c in chunks if c.finish_reason or c.usage)


def test_each_later_read_is_one_chunk() -> None:
    reads = [ROLE + text("a"), text("b") + text("c"), text("d") + text("e") + STOP, USAGE + DONE]
    chunks = _same(reads)
    assert [c.raw_events for c in chunks if c.raw_events] == [text("b") + text("c"), text("d") + text("e")]


def test_a_read_cut_inside_an_event_still_merges_what_is_whole() -> None:
    body = ROLE + text("a") + text("b") + text("c") + text("d") + STOP + DONE
    cut = body.index(text("c")) + 9
    chunks = _same([body[:cut], body[cut:]])  # "c" completes the held piece: it decodes alone
    assert [c.raw_events for c in chunks if c.raw_events] == [text("b"), text("d")]


def test_an_error_event_in_a_read_keeps_the_text_before_it_then_raises() -> None:
    error = b'data: {"error":{"message":"overloaded","type":"server_error"}}\n\n'
    _same([ROLE + text("a") + text("b") + error + STOP])
    _same([ROLE + text("a"), text("b") + text("c") + error])


@pytest.mark.parametrize(
    "bad",
    [b"data: {not json\n\n", b"data: 5\n\n", b"data: [1]\n\n", b"data: \xff\xfe\n\n", b"data: {}{}\n\n"],
)
def test_a_malformed_event_mid_read_fails_as_the_exact_path_does(bad: bytes) -> None:
    _same([ROLE + text("a") + text("b") + bad + STOP + DONE])


def test_a_stream_cut_before_its_finish_is_interrupted_with_the_text_so_far() -> None:
    merged = _same([ROLE + text("a"), text("b") + text("c")])
    assert "".join(c.text for c in merged) == "abc"


def test_tool_calls_refusals_other_choices_and_roles_are_never_merged() -> None:
    call = event({"tool_calls": [{"index": 0, "id": "t", "function": {"name": "f", "arguments": "{}"}}]})
    refusal = event({"refusal": "no"})
    other = event({"content": "x"}, index=1)
    odd_role = event({"role": "tool", "content": "y"})
    for special in (call, refusal, other, odd_role):
        chunks = _same([ROLE + text("a"), text("b") + special + text("c") + STOP + DONE])
        assert [c.raw_events for c in chunks if c.raw_events] == [text("b"), text("c")]


# -- any stream, any split ----------------------------------------------------------------------------

_PLAIN = st.builds(text, st.text(max_size=6))
_SPECIAL = st.sampled_from(
    [
        ROLE,
        STOP,
        USAGE,
        event({}, "length"),
        event({"content": "x"}, index=1),
        event({}, "stop", index=1),
        event({"tool_calls": [{"index": 0, "function": {"arguments": '{"a"'}}]}),
        event({"refusal": "no"}),
        event({"content": "z"}, "stop"),
        event({"content": 7}),
        event({"content": "u"}, usage=None, system_fingerprint="fp", logprobs=None),
        b": keep-alive\n\n",
        b"event: message\ndata: " + text("e")[6:],
        b'data: {"error":{"message":"boom","type":"server_error"}}\n\n',
        b"data: {broken\n\n",
        b"data:" + text("s")[5:],
        text("r").replace(b"\n\n", b"\r\n\r\n"),
        DONE,
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(_PLAIN, _PLAIN, _PLAIN, _SPECIAL), max_size=14),
    st.lists(st.integers(min_value=0, max_value=2000), max_size=4),
)
def test_any_stream_split_anywhere_is_the_same_answer(events: list[bytes], cuts: list[int]) -> None:
    body = b"".join(events)
    points = sorted({c % (len(body) + 1) for c in cuts})
    reads = [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True) if b > a]
    merged = _same(reads)
    for chunk in merged:  # a merged chunk's bytes are whole plain events whose text is the chunk's
        if chunk.raw_events is not None:
            docs = [json.loads(e[6:]) for e in chunk.raw_events.split(b"\n\n") if e]
            assert "".join(d["choices"][0]["delta"].get("content") or "" for d in docs) == chunk.text
            assert all(d["choices"][0].get("finish_reason") is None and not d.get("usage") for d in docs)


# -- the envelope of plain events -------------------------------------------------------------------


def _line(t: str) -> bytes:
    return text(t)[:-2]


def test_the_envelope_is_learnt_around_any_text_and_takes_events_by_their_bytes() -> None:
    for t in ('say "hi"', "back\\slash\\", "ünï\u2028", '\\"', "x"):
        envelope = learn(_line(t), t)
        assert envelope is not None
        run = text("a") + text(t) + text("b\\n")
        assert take(run + STOP + DONE, envelope) == (len(run), ["a", t, "b\\n"])
        assert take(run + STOP + text("c"), envelope) is None  # a run reaches the last such event


def test_an_event_that_is_the_envelope_around_more_than_one_string_is_not_taken() -> None:
    envelope = learn(_line("a"), "a")
    assert envelope is not None
    head, tail = envelope
    smuggled = head + b'"x","tool_calls":[{"index":0}]' + tail + b"\n\n"  # valid JSON, not plain
    assert take(smuggled, envelope) is None
    assert take(text("a") + smuggled, envelope) is None  # all or nothing: the caller decodes them
    assert take(head + b"5" + tail + b"\n\n", envelope) is None
    assert take(head + b'""' + tail + b"\n\n", envelope) == (len(head) + len(tail) + 4, [""])


def test_no_envelope_when_the_text_is_not_the_only_content() -> None:
    nested = event({"content": "a"}, meta={"content": "b"})[:-2]
    assert learn(nested, "a") is None
    assert learn(_line("a"), "b") is None

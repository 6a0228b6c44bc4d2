"""The envelope of a stream's plain text events, learnt from one of them: most servers send every text
delta of an answer with the same bytes around its text (id, created, model, index, the nulls), so
the events after it can be recognised by their bytes and only their text strings parsed, in one call.

Pure functions, no I/O; :meth:`OpenAIStreamDecoder.feed_batch` uses them. An event is taken only when
it is the learnt event's bytes with another JSON string token in the text's place: then it is the same
JSON document with another text, so whatever held for the learnt one (one choice, index 0, no finish,
usage, tool call or refusal) holds for it too.
"""

from __future__ import annotations

import re

import orjson

__all__ = ["Envelope", "learn", "take"]

Envelope = tuple[bytes, bytes]
"""The bytes before the text's JSON string (from ``data: ``) and after it (without the ``\\n\\n``)."""

_KEY = re.compile(rb'(?<!\\)"content"\s*:\s*"')


def learn(event: bytes, text: str) -> Envelope | None:
    """The envelope of ``event`` (one whole ``data:`` line, without ``\\n\\n``) whose content is ``text``;
    ``None`` unless its only ``"content"`` key holds exactly that string."""
    found = _KEY.search(event)
    if found is None or _KEY.search(event, found.end()) is not None:
        return None
    start = end = found.end() - 1
    while True:  # the closing quote: the first one not escaped (after an even run of backslashes)
        end = event.find(b'"', end + 1)
        if end < 0:
            return None
        slashes = len(event[start:end]) - len(event[start:end].rstrip(b"\\"))
        if slashes % 2 == 0:
            break
    try:
        if orjson.loads(event[start : end + 1]) != text:
            return None
    except orjson.JSONDecodeError:
        return None
    return event[:start], event[end + 1 :]


def take(data: bytes, envelope: Envelope) -> tuple[int, list[str]] | None:
    """The run of events at the start of ``data`` (whole single-line ``data:`` events) that are the
    envelope around one JSON string, as the bytes they take and their texts; ``None`` unless the run
    goes on to the last such event of ``data`` (what follows it, a finish, usage, ``[DONE]``, is the
    caller's). The run is found and checked in a few C calls, its strings parsed in one.
    """
    head, tail = envelope
    if not data.startswith(head):
        return None
    last = data.rfind(b"\n\n" + head) + 2  # where the run's last event starts (0: the first is the last)
    end = data.find(b"\n\n", max(last, 0)) + 2
    events = data[:end].split(b"\n\n")
    events.pop()  # after the last "\n\n"
    # Between two events of the run, and only there ("\n\n" ends events), the tail, "\n\n" and the head:
    # counted in one call (a long needle costs its preprocessing per call, so no replace or split by it).
    if data.count(tail + b"\n\n" + head, 0, end) != len(events) - 1 or not events[-1].endswith(tail):
        return None
    lh, lt = len(head), len(tail)
    strings = b",".join([event[lh : len(event) - lt] for event in events])
    try:
        texts = orjson.loads(b"".join((b"[", strings, b"]")))
    except orjson.JSONDecodeError:
        return None
    # As many strings as events: each middle was one string token (two would make two items, none a
    # JSON error), so each event is the learnt document with another text.
    if len(texts) != len(events) or set(map(type, texts)) != {str}:
        return None
    return end, texts

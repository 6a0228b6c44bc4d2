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


def take(events: list[bytes], envelope: Envelope) -> tuple[int, list[str]] | None:
    """How many of ``events`` (whole ``data:`` lines, without ``\\n\\n``) from the first are the envelope
    around one JSON string, and their texts; ``None`` when not even the first one is."""
    head, tail = envelope
    lh, lt = len(head), len(tail)
    count = 0
    for event in events:
        if not (event.startswith(head) and event.endswith(tail)) or len(event) < lh + lt + 2:
            break
        count += 1
    if not count:
        return None
    middles = [event[lh : len(event) - lt] for event in events[:count]]
    try:
        texts = orjson.loads(b"".join((b"[", b",".join(middles), b"]")))
    except orjson.JSONDecodeError:
        return None
    # As many strings as middles: each middle was one string token (two would make two items, or none
    # at all a JSON error), so each event is the learnt document with another text.
    if len(texts) != count or set(map(type, texts)) != {str}:
        return None
    return count, texts

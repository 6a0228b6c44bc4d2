"""The pre-check's built-in detectors as one compiled Hyperscan database: a single pass over a span's JSON.

``_precheck`` answers with a dozen regex and substring scans, each a pass over the text from Python:
~220,000 instructions on a typical span, most of ``record()``. Hyperscan runs every pattern at once, in
C, in about a tenth of that (with the Python around it, the pre-check costs a third). Each pattern here
is the one ``_precheck`` searches (same bytes, the case-folded ones ``CASELESS`` instead of searched in
lower-cased text), so the answer is the same or a needless walk, never a missed one:
``tests/tracing/test_scanner.py`` checks that against ``_precheck`` itself.

Cards and phones need more than a yes. ``_precheck`` rules out digit runs in numbers and in values of
identifier keys (every response's ``id`` and ``created``), one by one. Here the runs are reported
once per cluster of digits and separators, at its end (a candidate followed by what no cluster holds),
and each cluster is ruled out by the same reading ``_precheck`` gives its runs (``JsonText``): the
runs of one cluster are all in one string or all outside every string.

Hyperscan ships wheels for x86-64 and ARM64 on Linux, macOS and Windows (the dependency's markers);
where it cannot be imported, ``_precheck`` scans as before (``compiled`` returns ``None``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

from ._precheck import (
    _CANDIDATE_PATTERNS,
    _EMAIL_ASCII,
    _KEY_PATTERNS,
    _NAME_PATTERNS,
    _URL_PATTERN,
    JsonText,
)

__all__ = ["compiled"]

_CLUSTER = b"0123456789 ./-"
_RUN_IN_CLUSTER = rb"(?:" + b"|".join(_CANDIDATE_PATTERNS) + rb")[0-9 ./-]*(?:[^0-9 ./-]|$)"
_NUMBERS = 0
"""The id of ``_RUN_IN_CLUSTER`` (when cards or phones are on): its matches are read back by
``JsonText``; a match of any other pattern is a hit."""


class _Hit(Exception):
    """Raised from the match handler to end the scan at the first hit."""


@functools.cache
def compiled(builtin: frozenset[str]) -> Callable[[bytes], bool] | None:
    """A scan of ASCII JSON text for the built-in detectors in ``builtin`` (e-mail, secrets, cards and
    phones), ``True`` when any may match; ``None`` when Hyperscan is not installed.

    Compiled once per set of detectors (tens of ms); a scratch space per thread, since a scan needs its
    own and ``record()`` runs on any thread.
    """
    try:
        import hyperscan
    except ImportError:  # no wheel for this platform
        return None
    patterns: list[bytes] = []
    flags: list[int] = []
    single = hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_DOTALL
    if "card" in builtin or "phone" in builtin:
        patterns.append(_RUN_IN_CLUSTER)
        flags.append(hyperscan.HS_FLAG_DOTALL)
    if "email" in builtin:
        patterns.append(_EMAIL_ASCII)
        flags.append(single)
    if "secret" in builtin:
        patterns += [*_KEY_PATTERNS, b"github_pat_", b"PRIVATE KEY-----", _URL_PATTERN]
        flags += [single] * (len(_KEY_PATTERNS) + 3)
        patterns += _NAME_PATTERNS
        flags += [single | hyperscan.HS_FLAG_CASELESS] * len(_NAME_PATTERNS)
    if not patterns:
        return lambda data: False
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    numbers = patterns[0] is _RUN_IN_CLUSTER
    database.compile(expressions=patterns, ids=list(range(len(patterns))), flags=flags)
    local = threading.local()
    scan = database.scan
    Scratch = hyperscan.Scratch

    def may_find(data: bytes) -> bool:
        scratch = getattr(local, "scratch", None)
        if scratch is None:
            scratch = local.scratch = Scratch(database)

        text: list[JsonText] = []

        def on_match(pattern: int, _start: int, end: int, _flags: int, _context: object) -> None:
            if not numbers or pattern != _NUMBERS:
                raise _Hit
            if not text:
                text.append(JsonText(data))
            if data[end - 1] not in _CLUSTER:
                end -= 1  # the byte that ended the cluster
            window = end - 64 if end > 64 else 0
            start = window + len(data[window:end].rstrip(_CLUSTER))
            if start == window and start:
                start = _cluster_start(data, end)  # a long one
            if text[0].not_scanned(start, end) is None:
                raise _Hit

        try:
            scan(data, match_event_handler=on_match, scratch=scratch)
        except _Hit:
            return True
        return False

    return may_find


def _cluster_start(data: bytes, end: int) -> int:
    """Where the cluster of digits and separators that ends at ``end`` starts, read back in windows
    twice as long each time (one read of everything before it, at each cluster, would be quadratic)."""
    window = end
    while True:
        window = max(0, 2 * window - end - 64)
        start = window + len(data[window:end].rstrip(_CLUSTER))
        if start > window or start == 0 or data[start - 1] not in _CLUSTER:
            return start

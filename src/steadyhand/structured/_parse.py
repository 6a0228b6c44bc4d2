"""A tolerant JSON reader: one pass, bounded lookahead, every repair it makes written down.

``json.loads`` is tried first everywhere (valid JSON never comes here). This reader accepts what models
write instead of JSON: single, curly and unescaped inner quotes, unquoted keys, comments, Python
literals, trailing and missing commas, raw newlines in strings. It is iterative (no recursion, a depth
cap), looks ahead a bounded number of characters at each quote, and counts its work, so its cost is
linear in the input: a test checks the count, not the clock.

What it cannot read unambiguously it flags (``ambiguous=True``) or refuses (:class:`ParseFailed`);
an input that ends inside a value raises :class:`Truncated`, or, when closing is allowed, is closed and
marked, keeping only the closed sub-trees and the complete members of open ones.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_DEPTH", "ParseFailed", "Reader", "Repair", "Truncated", "read_value"]

MAX_DEPTH = 512
"""Containers nested deeper than this are refused (no model answer needs it; it bounds the stack)."""
_LOOKAHEAD = 64
"""Characters looked at after a candidate closing quote to decide whether it closes the string."""
_EXCERPT = 16

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_WORD = re.compile(r"[A-Za-z_$][\w$]*")
_WS = re.compile(r"[ \t\n\r\ufeff\u00a0]*")
_OPENERS = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "\u201d": "\u201d"}
"""Quote that opens a string -> the quote that closes it (curly quotes close with their partner)."""
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}
_PYTHON = {"True": True, "False": False, "None": None}
_JS_NUMBERS = {"NaN": float("nan"), "Infinity": float("inf")}
_PARTIAL_TOKEN = re.compile(r"[-+.\w]*")
_VALUE_START = set("\"'\u201c\u2018\u201d{[-+.0123456789")


@dataclass(frozen=True, slots=True)
class Repair:
    """One cleanup step that fired: its name, the text before and after (short excerpts), and whether
    another reading of the same text was possible (then the outcome is ``repaired_ambiguous``)."""

    step: str
    before: str
    after: str
    ambiguous: bool = False
    detail: str = ""


class ParseFailed(ValueError):
    """The text cannot be read as a value; ``pos`` is where reading stopped."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(f"{message} at character {pos}")
        self.pos = pos


class Truncated(ValueError):
    """The text ended inside a value (an open string, array or object)."""


class _Frame:
    __slots__ = ("comma", "container", "key", "state", "is_obj", "start")

    def __init__(self, is_obj: bool, start: int) -> None:
        self.is_obj = is_obj
        self.container: Any = {} if is_obj else []
        self.key: str | None = None
        self.state = "first"  # first | key | colon | value | after | comma
        self.start = start
        self.comma = start
        """Where the last comma was (a trailing one is logged there)."""


class Reader:
    """Reads one value from ``text[start:]``; ``repairs`` and ``work`` describe what it took."""

    def __init__(self, text: str, start: int = 0, *, close_truncated: bool = False) -> None:
        self.text = text
        self.pos = start
        self.close_truncated = close_truncated
        self.repairs: list[Repair] = []
        self.work = 0
        """Characters and tokens examined: linear in the input (the size-scaling test counts it)."""

    # -- helpers --------------------------------------------------------------------------------------

    def _note(self, step: str, a: int, b: int, replacement: str, *, ambiguous: bool = False) -> None:
        if len(self.repairs) >= 1000:  # a log, not a second copy of a huge input
            return
        text = self.text
        left, right = text[max(0, a - _EXCERPT) : a], text[b : b + _EXCERPT]
        self.repairs.append(
            Repair(step, left + text[a:b][:80] + right, left + replacement[:80] + right, ambiguous)
        )

    def _skip(self) -> None:
        """Skip whitespace and comments (noting each comment as a repair)."""
        text, n = self.text, len(self.text)
        while True:
            end = _WS.match(text, self.pos).end()  # type: ignore[union-attr]
            self.work += end - self.pos + 1
            self.pos = end
            if end >= n:
                return
            c = text[end]
            if c == "#" or text.startswith("//", end):
                stop = text.find("\n", end)
                stop = n if stop < 0 else stop
            elif text.startswith("/*", end):
                stop = text.find("*/", end + 2)
                if stop < 0:
                    raise Truncated("the text ends inside a /* comment")
                stop += 2
            else:
                return
            self.work += stop - end
            self._note("comment", end, stop, "")
            self.pos = stop

    def _peek_after(self, i: int) -> tuple[str, int]:
        """The first non-space character at or after ``i`` (bounded) and its index; '' at the end."""
        text, n = self.text, len(self.text)
        limit = min(n, i + _LOOKAHEAD)
        for _ in range(4):  # whitespace, and up to a few short comments, between tokens
            while i < limit and text[i] in " \t\r\n":
                i += 1
            if text.startswith(("//", "#"), i) or text.startswith("/*", i):
                stop = text.find("*/" if text.startswith("/*", i) else "\n", i, i + 4 * _LOOKAHEAD)
                if stop < 0:
                    break
                self.work += stop - i
                i = stop + (2 if text.startswith("/*", i) else 0)
                limit = min(n, i + _LOOKAHEAD)
                continue
            break
        self.work += 1
        if i >= n:
            return "", n
        if i >= limit:
            return " ", i
        return text[i], i

    def _key_follows(self, i: int) -> bool:
        """After a comma at ``i - 1``: does a key (quoted, or a bare word then ``:``) or ``}`` follow?"""
        c, j = self._peek_after(i)
        if c in ("", "}") or c in _OPENERS:
            return True
        m = _WORD.match(self.text, j, j + _LOOKAHEAD)
        if m is None:
            return False
        c2, _ = self._peek_after(m.end())
        return c2 == ":"

    def _value_follows(self, i: int) -> bool:
        c, j = self._peek_after(i)
        if c in ("", "]") or c in _VALUE_START:
            return True
        m = _WORD.match(self.text, j, j + _LOOKAHEAD)
        return m is not None and (m.group() in _LITERALS or m.group() in _PYTHON)

    def _closes(self, i: int, where: str) -> bool:
        """Whether the quote at ``i`` ends the string being read in context ``where``."""
        c, j = self._peek_after(i + 1)
        if where == "top":
            return c == "" or not c.isalnum()
        if where == "key":
            return True  # a key with quotes inside is not a reading worth making: the first quote ends it
        if c in ("", "}", "]", "#") or c in _OPENERS or self.text.startswith(("//", "/*"), j):
            return True
        if c == ",":
            return self._key_follows(j + 1) if where == "obj" else self._value_follows(j + 1)
        return False

    # -- scalars --------------------------------------------------------------------------------------

    def _string(self, where: str) -> str:
        text, start = self.text, self.pos
        opener = text[start]
        closer = _OPENERS[opener]
        kind = "" if opener == '"' else "single_quotes" if opener == "'" else "curly_quotes"
        closers = {closer, '"'} if opener == "\u201d" else {closer}
        if opener == "\u201c":
            closers.add("\u201c")
        out: list[str] = []
        i = seg = start + 1
        n = len(text)
        inner = control = bad_escape = False
        while True:
            # jump to the next character that matters
            j = i
            while j < n:
                ch = text[j]
                if ch == "\\" or ch in closers or ch == '"' or ch < " ":
                    break
                j += 1
            self.work += j - i + 1
            if j >= n:
                raise Truncated("the text ends inside a string")
            ch = text[j]
            if ch == "\\":
                if j + 1 >= n:
                    raise Truncated("the text ends inside a string")
                esc = text[j + 1]
                if esc in '"\\/bfnrt':
                    i = j + 2
                    continue
                if esc == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[j + 2 : j + 6]):
                    i = j + 6
                    continue
                out.append(text[seg:j])
                out.append(esc if esc == "'" else "\\\\" + esc)
                bad_escape = bad_escape or not (esc == "'" and opener == "'")
                i = seg = j + 2
                continue
            if ch < " ":
                control = True
                i = j + 1
                continue
            if ch in closers and self._closes(j, where):
                out.append(text[seg:j])
                self.pos = j + 1
                break
            # a quote inside the string: '"' in a single-quoted one is just a character
            out.append(text[seg:j])
            out.append('\\"' if ch == '"' else ch)
            if ch in closers:
                inner = True
            i = seg = j + 1
        body = "".join(out)
        end = self.pos
        try:
            value: str = json.loads('"' + body + '"', strict=False)
        except ValueError as exc:
            raise ParseFailed(f"a string that cannot be decoded ({exc})", start) from None
        fixed = json.dumps(value, ensure_ascii=False)
        if kind:
            self._note(kind, start, end, fixed)
        if inner:
            self._note("inner_quotes", start, end, fixed)
        if control:
            self._note("control_chars", start, end, fixed)
        if bad_escape:
            self._note("invalid_escape", start, end, fixed)
        return value

    def _number(self) -> Any:
        text, start = self.text, self.pos
        m = _NUMBER.match(text, start)
        if m is None:
            raise ParseFailed("expected a value", start)
        raw = m.group()
        end = m.end()
        self.work += end - start
        if end < len(text) and (text[end].isalnum() or text[end] in "_."):
            raise ParseFailed(f"not a number: {text[start : end + 1]!r}", start)
        self.pos = end
        body = raw.lstrip("+-")
        sign = "-" if raw.startswith("-") else ""
        fixed = body
        if fixed.startswith("."):
            fixed = "0" + fixed
        if fixed.endswith(".") or ".e" in fixed.lower():
            fixed = fixed.replace(".", ".0", 1)
        digits = fixed.split(".")[0].split("e")[0].split("E")[0]
        ambiguous = len(digits) > 1 and digits.startswith("0")
        if ambiguous:
            fixed = fixed.lstrip("0") or "0"
            if fixed[0] in ".eE":
                fixed = "0" + fixed
        fixed = sign + fixed
        try:
            value: Any = json.loads(fixed)
        except ValueError:  # more digits than Python converts
            raise ParseFailed(f"a number of {len(fixed)} characters", start) from None
        if fixed != raw:
            step = "leading_zeros" if ambiguous else "number_format"
            self._note(step, start, end, fixed, ambiguous=ambiguous)
        return value

    def _word(self, where: str) -> Any:
        text, start = self.text, self.pos
        m = _WORD.match(text, start)
        if m is None:
            raise ParseFailed(f"unexpected character {text[start]!r}", start)
        word, end = m.group(), m.end()
        self.work += end - start
        self.pos = end
        if word in _LITERALS:
            return _LITERALS[word]
        if word in _PYTHON:
            value = _PYTHON[word]
            self._note("python_literals", start, end, json.dumps(value))
            return value
        if word in _JS_NUMBERS:
            return _JS_NUMBERS[word]
        if word == "undefined":
            self._note("undefined", start, end, "null", ambiguous=True)
            return None
        c, _ = self._peek_after(end)
        if where != "top" and c in ("", ",", "}", "]"):
            self._note("unquoted_value", start, end, json.dumps(word), ambiguous=True)
            return word
        raise ParseFailed(f"unquoted text {word!r} where a value belongs", start)

    # -- the value loop -------------------------------------------------------------------------------

    def read(self) -> tuple[Any, int]:
        """The first value at the start position and the index just after it."""
        text, n = self.text, len(self.text)
        stack: list[_Frame] = []
        self._skip()
        if self.pos >= n:
            raise ParseFailed("no value", self.pos)
        result: Any = None
        have_result = False
        while True:
            self.work += 1
            if have_result and not stack:
                return result, self.pos
            self._skip()
            if self.pos >= n:
                return self._at_end(stack)
            frame = stack[-1] if stack else None
            c = text[self.pos]
            if frame is not None and frame.state in ("after", "comma", "first"):
                closer = "}" if frame.is_obj else "]"
                if c == closer:
                    if frame.state == "comma":
                        self._note("trailing_commas", frame.comma, frame.comma + 1, "")
                    self.pos += 1
                    stack.pop()
                    value = frame.container
                    if not stack:
                        result, have_result = value, True
                    else:
                        self._attach(stack[-1], value)
                    continue
                if c in "}]":
                    raise ParseFailed(f"{c!r} closes a {'{' if frame.is_obj else '['} ", self.pos)
                if frame.state == "after":
                    if c == ",":
                        frame.comma = self.pos
                        self.pos += 1
                        frame.state = "comma"
                        continue
                    ambiguous = (not frame.is_obj) and c in _OPENERS and isinstance(frame.container[-1], str)
                    self._note("missing_commas", self.pos, self.pos, ", ", ambiguous=ambiguous)
                    frame.state = "comma"
                elif c == ",":
                    self._note("extra_commas", self.pos, self.pos + 1, "", ambiguous=True)
                    self.pos += 1
                    continue
                frame.state = "key" if frame.is_obj else "value"
            if frame is not None and frame.state == "key":
                try:
                    self._key(frame)
                except Truncated:
                    if self.close_truncated:
                        return self.closed(stack), n
                    raise
                continue
            if frame is not None and frame.state == "colon":
                if c != ":":
                    raise ParseFailed("expected ':' after a key", self.pos)
                self.pos += 1
                frame.state = "value"
                continue
            # a value
            if c in "{[":
                if len(stack) >= MAX_DEPTH:
                    raise ParseFailed(f"nesting deeper than {MAX_DEPTH}", self.pos)
                stack.append(_Frame(c == "{", self.pos))
                self.pos += 1
                continue
            where = "top" if frame is None else ("obj" if frame.is_obj else "arr")
            start_of_value = self.pos
            try:
                if c in _OPENERS:
                    value = self._string(where)
                elif c in "-+.0123456789":
                    value = self._number()
                else:
                    value = self._word(where)
            except Truncated:
                if self.close_truncated and stack:
                    return self.closed(stack), n
                raise
            except ParseFailed:
                if self.close_truncated and stack and _PARTIAL_TOKEN.fullmatch(text, start_of_value):
                    return self.closed(stack), n  # a number or word cut short: "-", "1e", "tr"
                raise
            if frame is None:
                return value, self.pos
            if self.close_truncated and self.pos >= n and c not in _OPENERS:
                return self.closed(stack), n  # a number or word at the very end may be incomplete
            self._attach(frame, value)

    def _key(self, frame: _Frame) -> None:
        text, start = self.text, self.pos
        c = text[start]
        if c in _OPENERS:
            frame.key = self._string("key")
        else:
            m = _WORD.match(text, start) or _NUMBER.match(text, start)
            if m is None:
                raise ParseFailed(f"expected a key, found {c!r}", start)
            after, _ = self._peek_after(m.end())
            if after != ":":
                raise ParseFailed(f"unquoted text {m.group()!r} where a key belongs", start)
            frame.key = m.group()
            self.pos = m.end()
            self.work += self.pos - start
            self._note("unquoted_keys", start, self.pos, json.dumps(frame.key))
        frame.state = "colon"

    @staticmethod
    def _attach(frame: _Frame, value: Any) -> None:
        if frame.is_obj:
            frame.container[frame.key] = value
            frame.key = None
        else:
            frame.container.append(value)
        frame.state = "after"

    def _at_end(self, stack: list[_Frame]) -> tuple[Any, int]:
        if not self.close_truncated:
            raise Truncated(f"the text ends inside {len(stack)} open container(s)")
        return self.closed(stack), len(self.text)

    def closed(self, stack: list[_Frame]) -> Any:
        """Close every open container, keeping complete members only; the closing is noted."""
        closers = "".join("}" if f.is_obj else "]" for f in reversed(stack))
        self._note("closed_truncated", len(self.text), len(self.text), closers)
        value: Any = stack[-1].container if stack else None
        for i in range(len(stack) - 1, 0, -1):
            parent = stack[i - 1]
            if parent.is_obj:
                if parent.key is not None:
                    parent.container[parent.key] = stack[i].container
            else:
                parent.container.append(stack[i].container)
            value = stack[0].container
        return value


def read_value(text: str, start: int = 0, *, close_truncated: bool = False) -> tuple[Any, int, Reader]:
    """Read the first value in ``text[start:]``: (value, end index, the reader with its repairs)."""
    reader = Reader(text, start, close_truncated=close_truncated)
    value, end = reader.read()
    return value, end, reader

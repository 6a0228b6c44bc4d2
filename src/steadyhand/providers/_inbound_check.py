"""What the inbound codecs share: a safe JSON parse, a hostile-body walk, and typed field readers.

Every failure is an :class:`~steadyhand.errors.InvalidRequest` worded the way the target API words
it (a :class:`Style`), so a server built on the codecs answers a bad body with the very 400 the real
API sends. Nothing here does I/O.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pydantic_core

from ..errors import InvalidRequest
from ..types import ModelRequest

__all__ = ["MAX_BODY_BYTES", "MAX_DEPTH", "InboundRequest", "Kind", "Path", "Style", "kind_of", "parse_body"]

MAX_BODY_BYTES = 32 * 1024 * 1024
"""Anthropic's Messages limit (32 MB); bigger bodies get a 413 before they are parsed."""
MAX_DEPTH = 100
"""Containers nested deeper than this are refused: no real request needs it, and it bounds every walk."""


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """A decoded request: the ``ModelRequest`` plus how the client wants the answer delivered."""

    request: ModelRequest
    stream: bool = False
    include_usage: bool = False
    """OpenAI's ``stream_options.include_usage``: end the stream with a usage chunk."""


Path = tuple[str | int, ...]
Kind = Literal["string", "integer", "number", "boolean", "array", "object"]


def kind_of(value: Any) -> str:
    """The JSON kind of a value (``string``, ``integer``, ``null``...), for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


class Style(ABC):
    """How one API names a field and words each validation error (one subclass per format)."""

    @abstractmethod
    def name(self, path: Path) -> str: ...

    def error(self, message: str, path: Path | None, code: str | None, status: int = 400) -> InvalidRequest:
        return InvalidRequest(message, param=self.name(path) if path else None, code=code, status_code=status)

    @abstractmethod
    def bad_json(self) -> InvalidRequest: ...

    def not_object(self) -> InvalidRequest:
        return self.error("The request body must be a JSON object.", None, None)

    @abstractmethod
    def too_large(self, size: int, limit: int) -> InvalidRequest: ...

    def too_deep(self, path: Path) -> InvalidRequest:
        where = f" at '{self.name(path)[:80]}...'" if path else ""
        return self.error(f"The request body is nested more than {MAX_DEPTH} levels deep{where}.", None, None)

    @abstractmethod
    def missing(self, path: Path) -> InvalidRequest: ...

    @abstractmethod
    def wrong_type(self, path: Path, expected: Kind | str, value: Any) -> InvalidRequest: ...

    @abstractmethod
    def out_of_range(
        self, path: Path, value: float, *, minimum: float | None, maximum: float | None, integer: bool
    ) -> InvalidRequest: ...

    @abstractmethod
    def not_finite(self, path: Path, value: float) -> InvalidRequest: ...

    @abstractmethod
    def bad_value(self, path: Path, value: Any, allowed: Sequence[str]) -> InvalidRequest: ...

    @abstractmethod
    def length(self, path: Path, size: int, *, minimum: int, maximum: int | None) -> InvalidRequest: ...

    @abstractmethod
    def bad_text(self, path: Path) -> InvalidRequest: ...

    @abstractmethod
    def unsupported(self, path: Path, what: str) -> InvalidRequest:
        """Valid for the real API but not representable in a ``ModelRequest``: refused, never dropped."""

    # typed readers ------------------------------------------------------------------------------

    def required(self, obj: dict[str, Any], key: str, path: Path = ()) -> Any:
        value = obj.get(key)
        if value is None:
            raise self.missing((*path, key))
        return value

    def string(self, value: Any, path: Path) -> str:
        if not isinstance(value, str):
            raise self.wrong_type(path, "string", value)
        return value

    def integer(
        self, value: Any, path: Path, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.wrong_type(path, "integer", value)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise self.out_of_range(path, value, minimum=minimum, maximum=maximum, integer=True)
        return value

    def number(
        self, value: Any, path: Path, *, minimum: float | None = None, maximum: float | None = None
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.wrong_type(path, "number", value)
        if isinstance(value, float) and not math.isfinite(value):
            raise self.not_finite(path, value)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise self.out_of_range(path, value, minimum=minimum, maximum=maximum, integer=False)
        return value

    def boolean(self, value: Any, path: Path) -> bool:
        if not isinstance(value, bool):
            raise self.wrong_type(path, "boolean", value)
        return value

    def array(self, value: Any, path: Path, *, minimum: int = 0, maximum: int | None = None) -> list[Any]:
        if not isinstance(value, list):
            raise self.wrong_type(path, "array", value)
        if len(value) < minimum or (maximum is not None and len(value) > maximum):
            raise self.length(path, len(value), minimum=minimum, maximum=maximum)
        return value

    def object(self, value: Any, path: Path) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.wrong_type(path, "object", value)
        return value

    def choice(self, value: Any, path: Path, allowed: Sequence[str]) -> str:
        if not isinstance(value, str):
            raise self.wrong_type(path, "string", value)
        if value not in allowed:
            raise self.bad_value(path, value, allowed)
        return value


def parse_body(data: Any, style: Style, *, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The request body as a dict: ``bytes``/``str`` are parsed, a parsed value is checked as it is.

    Refused: bodies over ``max_bytes`` (413), malformed JSON, a non-object body, nesting deeper than
    ``MAX_DEPTH``, strings with a lone surrogate (``"\\ud800"``: not Unicode, cannot be re-encoded)
    and NaN/Infinity (not JSON; the parser tolerates them so the error can name the field).
    """
    parsed = isinstance(data, bytes | bytearray | memoryview | str)
    if parsed:
        size = len(data)
        if size > max_bytes:
            raise style.too_large(size, max_bytes)
        try:
            data = pydantic_core.from_json(
                bytes(data) if isinstance(data, memoryview) else data, allow_inf_nan=True
            )
        except ValueError as e:
            reason = str(e)
            if "recursion limit" in reason:
                raise style.too_deep(()) from None
            if "surrogate" in reason or "hex escape" in reason:
                raise style.bad_text(()) from None
            raise style.bad_json() from None
    if not _clean(data, strings=not parsed):  # the parser already refused invalid Unicode
        _walk(data, style)
    if not isinstance(data, dict):
        raise style.not_object()
    return data


def _clean(root: Any, *, strings: bool) -> bool:
    """The fast check: True when nothing in the tree needs refusing (iterative, no paths kept)."""
    if not isinstance(root, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        value, depth = stack.pop()
        if depth >= MAX_DEPTH:
            return False
        if type(value) is dict:
            if strings and not all(k.isascii() or _encodable(k) for k in value if type(k) is str):
                return False
            value = value.values()
        for item in value:
            kind = type(item)
            if kind is str:
                if strings and not item.isascii() and not _encodable(item):
                    return False
            elif kind is dict or kind is list:
                stack.append((item, depth + 1))
            elif kind is float:
                if not math.isfinite(item):
                    return False
            elif item is not None and kind is not int and kind is not bool:
                return False
    return True


def _walk(root: Any, style: Style) -> None:
    """The slow pass that names the offending field (iterative: a hostile dict may be very deep)."""
    stack: list[tuple[Any, Path]] = [(root, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if not value.isascii() and not _encodable(value):
                raise style.bad_text(path)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise style.not_finite(path, value)
        elif isinstance(value, dict | list):
            if len(path) >= MAX_DEPTH:
                raise style.too_deep(path)
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and not key.isascii() and not _encodable(key):
                    raise style.bad_text(path)
                if isinstance(item, dict | list | str | float):
                    stack.append((item, (*path, key)))
        elif value is not None and not isinstance(value, bool | int):
            raise style.wrong_type(path, "JSON value", value)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True

"""Running the examples in README.md and docs/ and checking what they print.

A Python block documents its output with ``#>`` lines, as in pydantic's docs::

    print(response.finish_reason)
    #> stop

Every line the block prints must match its ``#>`` lines, in order; ``...`` in a ``#>`` line stands for
any text (ids, timings, a model's words). A block that prints must document its output, and a block that
prints nothing must check something itself (an ``assert``), so no example merely "runs".
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_OUTPUT = re.compile(r"^\s*#>(?: (.*)|)$")


@dataclass(frozen=True)
class Example:
    """One fenced block: where it is (for test ids and tracebacks), its language and its text."""

    path: Path
    line: int
    lang: str
    code: str

    @property
    def id(self) -> str:
        return f"{self.path.name}:{self.line}"

    @property
    def expected(self) -> list[str]:
        """The documented output: every ``#>`` line, in order."""
        found = (_OUTPUT.match(line) for line in self.code.splitlines())
        return [m.group(1) or "" for m in found if m]


def examples(path: Path, lang: str = "python") -> list[Example]:
    """The ``lang`` blocks of a Markdown file, in order."""
    text = path.read_text("utf-8")
    found = []
    for m in _FENCE.finditer(text):
        if m.group(1) == lang:
            line = text.count("\n", 0, m.start(2)) + 1
            found.append(Example(path, line, lang, m.group(2)))
    return found


def _matches(pattern: str, line: str) -> bool:
    regex = ".*?".join(re.escape(part) for part in pattern.split("..."))
    return re.fullmatch(regex, line.rstrip()) is not None


def check_output(example: Example, printed: str) -> None:
    """Fail unless ``printed`` is what the example's ``#>`` lines say (or it checks by assert)."""
    expected, lines = example.expected, printed.splitlines()
    if not expected:
        assert not printed.strip(), f"{example.id} prints but documents no output (#> lines):\n{printed}"
        assert re.search(r"^\s*assert\b", example.code, re.M), f"{example.id} neither prints nor asserts"
        return
    mismatch = f"{example.id}: printed\n{printed}\nbut its #> lines say\n" + "\n".join(expected)
    assert len(lines) == len(expected), mismatch
    for want, got in zip(expected, lines, strict=True):
        assert _matches(want, got), f"{mismatch}\n(first difference: {got!r} vs {want!r})"


def run_example(
    example: Example,
    namespace: dict[str, Any] | None = None,
    *,
    replace: Mapping[str, str] | None = None,
    check: bool = True,
) -> dict[str, Any]:
    """Execute the block (``replace``: literal substitutions, e.g. a fixed port for a live URL) and
    check what it printed; returns its namespace for further checks."""
    code = example.code
    for old, new in (replace or {}).items():
        code = code.replace(old, new)
    ns: dict[str, Any] = {"__name__": "docs_example"} if namespace is None else namespace
    out = io.StringIO()
    padded = "\n" * (example.line - 1) + code  # tracebacks name the line in the Markdown file
    with contextlib.redirect_stdout(out):
        # dont_inherit: an example runs as users run it, without this module's __future__ imports
        exec(compile(padded, str(example.path), "exec", dont_inherit=True), ns)
    if check:
        check_output(example, out.getvalue())
    return ns

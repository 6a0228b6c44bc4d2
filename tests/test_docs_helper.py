"""The docs-example helper (``tests/_docs.py``) fails examples whose output differs from their ``#>``
lines, and examples that check nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from _docs import Example, examples, run_example

DOC = """# Title

```python
print("hello", 1 + 1)
#> hello 2
for word in ("a", "b"):
    print(word, id(word))
#> a ...
#> b ...
```

```toml
x = 1
```

```python
value = 3
```
"""


def _doc(tmp_path: Path) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(DOC)
    return path


def test_blocks_are_found_with_their_lines_and_expected_output(tmp_path: Path) -> None:
    first, last = examples(_doc(tmp_path))
    assert (first.id, first.line, first.expected) == ("doc.md:4", 4, ["hello 2", "a ...", "b ..."])
    assert (last.line, last.expected) == (17, [])
    assert [e.code for e in examples(_doc(tmp_path), "toml")] == ["x = 1\n"]


def test_matching_output_passes_and_returns_the_namespace(tmp_path: Path) -> None:
    assert run_example(examples(_doc(tmp_path))[0])["word"] == "b"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ('print("hello", 3)\n#> hello 2\n', "first difference"),
        ('print("a")\nprint("b")\n#> a\n', "but its #> lines say"),
        ('print("surprise")\n', "prints but documents no output"),
        ("value = 3\n", "neither prints nor asserts"),
    ],
)
def test_wrong_missing_or_unchecked_output_fails(code: str, error: str) -> None:
    with pytest.raises(AssertionError, match=error):
        run_example(Example(Path("doc.md"), 1, "python", code))


def test_an_example_that_asserts_needs_no_output() -> None:
    run_example(Example(Path("doc.md"), 1, "python", "assert 1 + 1 == 2\n"))


def test_tracebacks_name_the_markdown_line() -> None:
    with pytest.raises(ZeroDivisionError) as info:
        run_example(Example(Path("doc.md"), 40, "python", "x = 1\nassert 1 / 0\n"))
    assert info.traceback[-1].lineno + 1 == 41

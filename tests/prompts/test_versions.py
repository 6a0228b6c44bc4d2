"""A version changes with every behaviour-relevant edit and with no cosmetic one.

Cosmetic: TOML comments, key order and layout; in templates trailing blanks, runs of spaces, blank
lines, Jinja comments and spacing inside tags. Behaviour: a word of a template, the model, a parameter,
a variable's type or default, an example, the output schema. A cosmetic edit must also render the very
same messages (the canonical text is what is sent), else one version could send two requests.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from steadyhand.prompts import load, parse
from steadyhand.prompts._canon import canonical_template

from .conftest import TICKET, write_prompt

VARS = {"ticket": "Printer on fire", "tier": "pro"}


def version_of(text: str, **kwargs: object) -> str:
    return parse(text, name="classify_ticket", **kwargs).version  # type: ignore[arg-type]


def rendered(text: str) -> list[tuple[str, object]]:
    return [(m.role, m.content) for m in parse(text, name="classify_ticket").render(VARS)]


BASE = version_of(TICKET)


# -- cosmetic edits --------------------------------------------------------------------------------

_WORD_GAP = re.compile(r"(?<=\w) (?=\w)")


@st.composite
def cosmetic_edit(draw: st.DrawFn) -> str:
    """The ticket prompt with a random mix of whitespace and comment edits."""
    text = TICKET
    if draw(st.booleans()):  # TOML comments on their own lines
        lines = text.split("\n")
        at = draw(st.sampled_from([i for i, line in enumerate(lines) if line.startswith("[")]))
        lines.insert(at, "# " + draw(st.text(alphabet="abc xyz", max_size=20)))
        text = "\n".join(lines)
    if draw(st.booleans()):  # spacing around = in TOML
        text = text.replace("temperature = 0.0", "temperature=0.0").replace(
            "max_tokens = 20", "max_tokens =   20"
        )
    if draw(st.booleans()):  # [params] written as an inline table instead
        text = text.replace(
            "[params]\ntemperature = 0.0\nmax_tokens = 20\n",
            "params = { max_tokens = 20, temperature = 0.0 }\n",
        )
        text = text.replace('model = "default"   # pinned: an alias of steadyhand.toml\n', "")
        text = 'model = "default"\n' + text
    spaces = draw(st.sampled_from([" ", "  ", "\t", " \t "]))
    if draw(st.booleans()):  # runs of blanks between words of a template
        text = text.replace("urgent, normal or low.", f"urgent,{spaces}normal or{spaces}low.")
    if draw(st.booleans()):  # trailing blanks
        text = text.replace("or low.\n", f"or low.{spaces}\n")
    if draw(st.booleans()):  # blank lines inside and around a template
        extra = "\n" * draw(st.integers(1, 3))
        text = text.replace('content = """\n', f'content = """\n{extra}').replace(
            "{% endfor %}\n", "{% endfor %}\n" + extra
        )
    if draw(st.booleans()):  # a Jinja comment, alone on its line or inline
        comment = "{# " + draw(st.text(alphabet="abc xyz", max_size=15)) + " #}"
        if draw(st.booleans()):
            text = text.replace("{% for ex", comment + "\n{% for ex")
        else:
            text = text.replace("or low.", "or low. " + comment)
    if draw(st.booleans()):  # spacing inside tags
        text = text.replace("{{ tier }}", "{{tier}}").replace("{{ ticket }}", "{{  ticket   }}")
    if draw(st.booleans()):  # CRLF line endings
        text = text.replace("\n", "\r\n")
    return text


@given(cosmetic_edit())
def test_a_cosmetic_edit_keeps_the_version_and_the_messages(text: str) -> None:
    assert version_of(text) == BASE
    assert rendered(text) == rendered(TICKET)


@given(st.text(alphabet=" \t\n", max_size=6), st.text(alphabet=" \t", max_size=4))
def test_whitespace_only_edits_of_any_template_keep_its_canonical_text(outer: str, gap: str) -> None:
    source = "Summarize {{ doc }} in one line.\nBe terse."
    edited = outer + source.replace(" in ", f" {gap}in ").replace("terse.", f"terse.{gap}") + outer
    assert canonical_template(edited) == canonical_template(source)


def test_the_same_prompt_as_markdown_has_the_same_version() -> None:
    front, _, _ = TICKET.partition("[[messages]]")
    examples = "[[examples]]" + TICKET.partition("[[examples]]")[2]
    md = (
        f"+++\n{front}{examples}+++\n\n## system\n\nYou label support tickets as urgent, normal or low.\n"
        "{% for ex in examples %}\nTicket: {{ ex.input.ticket }} -> {{ ex.output }}\n{% endfor %}\n\n"
        "## user\nTicket ({{ tier }} plan): {{ ticket }}\n"
    )
    assert version_of(md, markdown=True) == BASE


# -- behaviour edits -------------------------------------------------------------------------------

BEHAVIOUR_EDITS = {
    "a word of the system template": ("or low.", "or minor."),
    "a word of the user template": ("Ticket ({{", "Issue ({{"),
    "a new blank-separated line": ("or low.\n", "or low.\nAnswer in one word.\n"),
    "the model": ('model = "default"', 'model = "other"'),
    "a parameter value": ("temperature = 0.0", "temperature = 0.5"),
    "a new parameter": ("max_tokens = 20", "max_tokens = 20\nseed = 7"),
    "a variable's type": ('ticket = "str"', 'ticket = "any"'),
    "a variable's default": ('default = "free"', 'default = "basic"'),
    "an example's output": ('output = "low"', 'output = "normal"'),
    "an example's input": ("change my invoice", "change my postal"),
    "an output schema": ("[params]", 'output_schema = { type = "string" }\n[params]'),
}


LINE = "You label support tickets as urgent, normal or low."


@given(st.integers(0, len(LINE) - 1), st.sampled_from("aZ9!?.,;-"))
def test_any_new_character_in_a_template_makes_a_new_version(at: int, char: str) -> None:
    assert version_of(TICKET.replace(LINE, LINE[:at] + char + LINE[at:])) != BASE


@pytest.mark.parametrize("edit", sorted(BEHAVIOUR_EDITS))
def test_a_behaviour_edit_makes_a_new_version(edit: str) -> None:
    old, new = BEHAVIOUR_EDITS[edit]
    assert old in TICKET
    assert version_of(TICKET.replace(old, new, 1)) != BASE


def test_metadata_edits_keep_the_version() -> None:
    text = TICKET.replace("support@example.com", "triage@example.com").replace(
        "by urgency.", "by how urgent."
    )
    text = text.replace("the customer's plan", "their plan")
    assert version_of(text) == BASE


def test_a_schema_file_is_part_of_the_version() -> None:
    Path("schemas").mkdir()
    Path("schemas/label.json").write_text(json.dumps({"type": "string", "enum": ["urgent", "low"]}))
    text = TICKET.replace("[params]", 'output_schema = "../schemas/label.json"\n[params]')
    path = write_prompt(text)
    first = load("classify_ticket")
    assert first.output_schema == {"type": "string", "enum": ["urgent", "low"]}
    assert first.schema_ref == "../schemas/label.json"
    Path("schemas/label.json").write_text(json.dumps({"enum": ["urgent", "low"], "type": "string"}, indent=4))
    assert load("classify_ticket").version == first.version  # the JSON's layout is not behaviour
    Path("schemas/label.json").write_text(json.dumps({"type": "string", "enum": ["urgent", "normal", "low"]}))
    assert load("classify_ticket").version != first.version
    assert path.is_file()


def test_a_pydantic_model_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ticket_models.py").write_text(
        "from pydantic import BaseModel\n\nclass Label(BaseModel):\n    label: str\n    confidence: float\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    prompt = parse(TICKET.replace("[params]", 'output_schema = "ticket_models.Label"\n[params]'), name="t")
    assert prompt.output_schema is not None and set(prompt.output_schema["properties"]) == {
        "label",
        "confidence",
    }
    assert prompt.output_model.__name__ == "Label"
    assert prompt.version != BASE


_PIECES = st.sampled_from(
    ["word", "  ", "\t", "\n", "\n\n\n", " \n", "{{ x }}", "{{x}}", "{%- if x %}", "{% endif -%}",
     "{# note #}", "{#\nmulti\n#}", "'q  q'", "\r\n", "  indented", "{{ 'a  b' }}"]
)  # fmt: skip


@given(st.lists(_PIECES, max_size=12).map("".join))
def test_canonical_text_is_a_fixed_point(source: str) -> None:
    """The registry stores canonical text and hashes it again on the way back: it must not move."""
    once = canonical_template(source)
    assert canonical_template(once) == once

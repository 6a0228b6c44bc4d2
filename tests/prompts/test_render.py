"""Rendering fails loudly (naming the variable and the fix) and prompt files fail at load, not mid-call."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from steadyhand import Prompt, PromptError, PromptRenderError
from steadyhand.prompts import load, parse

from .conftest import TICKET, write_prompt


def ticket() -> Prompt:
    return parse(TICKET, name="classify_ticket")


def test_render_fills_defaults_and_examples() -> None:
    system, user = ticket().render(ticket="Refund please")
    assert user.role == "user" and user.content == "Ticket (free plan): Refund please"
    assert system.content == (
        "You label support tickets as urgent, normal or low.\n"
        "Ticket: The site is down for everyone! -> urgent\n"
        "Ticket: Please change my invoice address. -> low"
    )
    assert ticket().render({"ticket": "x"}, tier="pro")[1].content == "Ticket (pro plan): x"


@pytest.mark.parametrize(
    ("variables", "variable", "words"),
    [
        ({}, "ticket", "needs the variable 'ticket' (str); pass ticket=..."),
        ({"ticket": 42}, "ticket", "must be str, got int 42"),
        ({"ticket": "x", "tier": None}, "tier", "must be str, got NoneType"),
        ({"ticket": "x", "urgency": "high"}, "urgency", "does not declare a variable 'urgency'"),
    ],
)
def test_missing_mistyped_and_undeclared_variables(
    variables: dict[str, object], variable: str, words: str
) -> None:
    with pytest.raises(PromptRenderError) as caught:
        ticket().render(variables)
    assert caught.value.variable == variable and caught.value.prompt == "classify_ticket"
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("int", 3, True),
        ("int", 3, "3"),
        ("float", 2, "2.0"),
        ("bool", False, 0),
        ("list[str]", ["a"], ["a", 1]),
        ("dict", {"a": 1}, [("a", 1)]),
    ],
)
def test_types_are_checked_strictly(kind: str, good: object, bad: object) -> None:
    prompt = Prompt(
        name="t", model="default", variables={"v": kind}, messages=[{"role": "user", "content": "{{ v }}"}]
    )
    prompt.render(v=good)
    with pytest.raises(PromptRenderError, match="must be"):
        prompt.render(v=bad)


def test_a_template_reading_an_undeclared_name_fails_at_load() -> None:
    with pytest.raises(PromptError, match=r"uses \{\{ customer \}\}.*add customer = \"str\""):
        parse(TICKET.replace("{{ ticket }}", "{{ ticket }} from {{ customer }}"), name="t")


def test_a_missing_attribute_and_the_sandbox_fail_as_render_errors() -> None:
    prompt = Prompt(
        name="t",
        model="default",
        variables={"d": "dict"},
        messages=[{"role": "user", "content": "{{ d.title }}"}],
    )
    assert prompt.render(d={"title": "T"})[0].content == "T"
    with pytest.raises(PromptRenderError, match="do not have"):
        prompt.render(d={})
    unsafe = Prompt(
        name="u", model="default", variables={"s": "str"},
        messages=[{"role": "user", "content": "{{ s.__class__.__mro__ }}"}],
    )  # fmt: skip
    with pytest.raises(PromptRenderError):
        unsafe.render(s="x")


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (('model = "default"', ""), "no model; pin one"),
        (("[params]", "colour = 1\n[params]"), "unknown key(s) ['colour']"),
        (("temperature = 0.0", "temperature = 9.0"), "[params]"),
        (("max_tokens = 20", "model_name = 20"), "unknown [params] key(s) ['model_name']"),
        (('ticket = "str"', 'ticket = "string"'), "unknown type 'string'"),
        (('ticket = "str"', 'examples = "str"'), "reserved name"),
        (('role = "user"', 'role = "robot"'), "needs role"),
        (('output = "low"', 'outcome = "low"'), "examples[1] needs exactly input"),
        (("Please change", "{{ oops"), ""),  # an example input is data, never a template: still valid
        (("{% endfor %}", ""), "not a valid template"),
        (('default = "free"', "default = 3"), "the default of 'tier' is int 3"),
        (('output = "low"', "output = 2024-01-01"), "JSON cannot represent"),
    ],
)
def test_invalid_prompt_files_say_what_to_fix(edit: tuple[str, str], words: str) -> None:
    text = TICKET.replace(*edit, 1)
    if not words:
        parse(text, name="t")
        return
    with pytest.raises(PromptError) as caught:
        parse(text, name="t")
    assert words in str(caught.value)


def test_load_finds_files_on_the_search_path(monkeypatch: pytest.MonkeyPatch) -> None:
    write_prompt()
    assert load("classify_ticket").source == "file"
    with pytest.raises(PromptError, match=r"no prompt 'classify' in prompts \(known: classify_ticket\)"):
        load("classify")
    write_prompt(name="other", folder="elsewhere")
    monkeypatch.setenv("STEADYHAND_PROMPTS_PATH", "elsewhere")
    assert load("other").path is not None
    assert load("classify_ticket", path=["elsewhere", "prompts"]).name == "classify_ticket"
    assert load("prompts/classify_ticket.toml").name == "classify_ticket"
    Path("prompts/greet.md").write_text(
        '+++\nmodel = "default"\n[variables]\nwho = "str"\n+++\nHi {{ who }}.\n'
    )
    greet = load("greet", path="prompts")
    assert [(m.role, m.content) for m in greet.render(who="Ann")] == [("user", "Hi Ann.")]
    with pytest.raises(PromptError, match="label="):
        load("classify_ticket", label="production")  # no registry given


def test_importing_steadyhand_does_not_import_jinja2() -> None:
    code = "import sys, steadyhand; assert 'jinja2' not in sys.modules; steadyhand.Prompt; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert out.stdout.strip() == "ok", out.stderr


def test_a_prompt_name_is_a_safe_file_stem() -> None:
    for bad in ("../etc", "a/b", "", " x"):
        with pytest.raises(PromptError, match="not a prompt name"):
            Prompt(name=bad, model="default", messages=[{"role": "user", "content": "hi"}])

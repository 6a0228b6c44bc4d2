"""Jinja2 in its sandbox: prompt files are data a team edits, so a template may read its variables but
never reach Python internals (attribute walks, calls into unsafe methods).

Jinja2 is imported here, on the first prompt loaded, never by ``import steadyhand``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import PromptError, PromptRenderError

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import SandboxedEnvironment

__all__ = ["compile_template", "render_template", "template_names"]


@functools.cache
def _environment() -> SandboxedEnvironment:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True
    )


def template_names(source: str, *, prompt: str, where: str) -> set[str]:
    """The variables a template reads (loop and ``set`` names excluded); a syntax error names the line."""
    from jinja2 import TemplateSyntaxError, meta

    try:
        ast = _environment().parse(source)
    except TemplateSyntaxError as e:
        raise PromptError(
            f"prompt {prompt!r}: {where} is not a valid template (line {e.lineno}: {e.message})",
            prompt=prompt,
        ) from None
    return set(meta.find_undeclared_variables(ast))


def compile_template(source: str, *, prompt: str, where: str) -> Template:
    template_names(source, prompt=prompt, where=where)  # the syntax error, worded for the prompt
    return _environment().from_string(source)


def render_template(template: Template, values: Mapping[str, Any], *, prompt: str, where: str) -> str:
    """Render, turning Jinja's errors (an undefined attribute, a sandbox refusal) into the prompt's own."""
    from jinja2 import TemplateError, UndefinedError
    from jinja2.exceptions import SecurityError

    try:
        return template.render(values)
    except UndefinedError as e:
        raise PromptRenderError(
            f"prompt {prompt!r}: {where} reads something the variables do not have ({e.message}); pass "
            "a value that has it, or guard it with {% if ... is defined %}",
            prompt=prompt,
        ) from None
    except SecurityError as e:
        raise PromptRenderError(
            f"prompt {prompt!r}: {where} tried something the sandbox forbids ({e}); templates may only "
            "read their variables",
            prompt=prompt,
        ) from None
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as e:
        raise PromptRenderError(
            f"prompt {prompt!r}: {where} failed to render ({type(e).__name__}: {e}); check the types of "
            "the variables it uses",
            prompt=prompt,
        ) from None

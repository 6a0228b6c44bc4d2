"""The :class:`Prompt`: a typed function from declared variables to messages, with its pinned model.

Everything that changes what the model is sent or how it is asked (templates, model alias, parameters,
variable types and defaults, few-shot examples, output schema) is its *behaviour*; the version is a
hash of the behaviour's canonical form, so a cosmetic edit keeps the version and any other makes a new
one. Description, owner and variable descriptions are metadata: shown, stored, never hashed.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import InvalidRequest, PromptError
from ..types import Message
from ._canon import canonical_template, content_hash
from ._template import compile_template, render_template, template_names
from ._vars import RESERVED, Variable, bind, parse_variable

if TYPE_CHECKING:
    from jinja2 import Template

__all__ = ["NAME", "PARAMS", "FewShot", "Prompt", "PromptSource", "PromptUse"]

PromptSource = Literal["file", "registry", "cache", "code"]
"""Where a prompt came from: its file on disk, the registry in the store, the local copy of what the
registry last served (the registry was down), or built in code."""
PARAMS = ("temperature", "top_p", "max_tokens", "stop", "seed", "n", "tools", "tool_choice",
          "response_format", "extra")  # fmt: skip
"""Keys of a prompt's ``[params]``: the call options of ``client.chat``."""
_ROLES = ("system", "user", "assistant")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
"""A prompt's name: a file stem, safe as a path component and a span tag."""


class _Value:
    """Equality and repr over ``__slots__``: plain classes, because each dataclass costs ~1 ms at import
    and this module loads with ``import steadyhand``."""

    __slots__: tuple[str, ...] = ()

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Value) and type(other) is type(self) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        inner = ", ".join(f"{field}={getattr(self, field)!r}" for field in self.__slots__)
        return f"{type(self).__name__}({inner})"


class FewShot(_Value):
    """One few-shot example: the variables of an input and the output the model should give for it."""

    __slots__ = ("input", "output")

    def __init__(self, input: dict[str, Any], output: Any) -> None:
        self.input = input
        self.output = output

    def to_data(self) -> dict[str, Any]:
        return {"input": dict(self.input), "output": self.output}


class PromptUse(_Value):
    """What a call's trace records about the prompt behind it (see :meth:`attributes`)."""

    __slots__ = ("fallback", "label", "name", "source", "variables", "version")

    def __init__(
        self,
        name: str,
        version: str,
        label: str | None,
        source: PromptSource,
        variables: dict[str, Any],
        fallback: str | None = None,
    ) -> None:
        self.name = name
        self.version = version
        self.label = label
        self.source: PromptSource = source
        self.variables = variables
        self.fallback = fallback
        """Why the registry did not serve (it was unreachable), when it did not."""

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def attributes(self) -> dict[str, Any]:
        """Span attributes: the exact version, the label asked for, the source and the variables."""
        out: dict[str, Any] = {
            "steadyhand.prompt.name": self.name,
            "steadyhand.prompt.version": self.version,
            "steadyhand.prompt.source": self.source,
            "steadyhand.prompt.variables": self.variables,
        }
        if self.label is not None:
            out["steadyhand.prompt.label"] = self.label
        if self.fallback is not None:
            out["steadyhand.prompt.fallback"] = self.fallback
        return out

    def tags(self) -> dict[str, str]:
        """Span tags (indexed: ``steadyhand traces list --tag prompt=NAME``, replay's queries)."""
        out = {"prompt": self.name, "prompt.version": self.version, "prompt.source": self.source}
        if self.label is not None:
            out["prompt.label"] = self.label
        return out


class _Message:
    """A message template; one that reads no variable (only ``examples``, or nothing) renders the same
    every time, so it is rendered once and kept."""

    __slots__ = ("constant", "content", "rendered", "role", "template")

    def __init__(self, role: str, content: str, template: Template, *, constant: bool) -> None:
        self.role = role
        self.content = content
        self.template = template
        self.constant = constant
        self.rendered: str | None = None


class Prompt:
    """A loaded prompt: ``prompt.render(ticket=...)`` gives messages; ``client.run(prompt, ...)`` calls.

    Build one with :func:`steadyhand.prompts.load` (from ``prompts/NAME.toml``) or directly::

        Prompt(name="greet", model="default", variables={"who": "str"},
               messages=[{"role": "user", "content": "Say hello to {{ who }}."}])
    """

    __slots__ = ("_messages", "_output_model", "_params", "_variables", "description", "examples",
                 "fallback", "label", "model", "name", "output_schema", "owner", "path", "schema_ref",
                 "source", "version")  # fmt: skip

    def __init__(
        self,
        *,
        name: str,
        model: str,
        messages: Sequence[Mapping[str, str]],
        variables: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        examples: Sequence[Mapping[str, Any] | FewShot] = (),
        output_schema: Mapping[str, Any] | None = None,
        schema_ref: str | None = None,
        description: str = "",
        owner: str = "",
        path: Path | None = None,
        source: PromptSource = "code",
        label: str | None = None,
        fallback: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not NAME.match(name) or ".." in name:
            raise PromptError(
                f"{name!r} is not a prompt name: use letters, digits, '_', '-' and '.' (the file's stem)",
                prompt=str(name),
            )
        self.name = name
        if not isinstance(model, str) or not model:
            raise PromptError(f"prompt {name!r}: model must be an alias or 'provider:model'", prompt=name)
        self.model = model
        """The pinned model alias (or ``provider:model``) the prompt is written for."""
        self._variables = {
            k: v if isinstance(v, Variable) else parse_variable(k, v, prompt=name)
            for k, v in (variables or {}).items()
        }
        self._params = _check_params(name, dict(params or {}))
        self._messages = tuple(self._message(i, m) for i, m in enumerate(messages))
        if not self._messages:
            raise PromptError(f"prompt {name!r} has no messages; add [[messages]]", prompt=name)
        self.examples = tuple(self._example(i, e) for i, e in enumerate(examples))
        self.output_schema = None if output_schema is None else dict(output_schema)
        """The JSON Schema the output must match (from a file or a pydantic model), if any."""
        self.schema_ref = schema_ref
        """Where the schema came from: a file path or ``module.Class``, as the prompt file wrote it."""
        self._output_model: Any = None
        self.description = description
        self.owner = owner
        self.path = path
        self.source: PromptSource = source
        self.label = label
        """The label this prompt was loaded by (``production``), or ``None``."""
        self.fallback = fallback
        try:
            self.version = content_hash(self.behaviour())
        except (TypeError, ValueError) as e:  # a TOML date or time, NaN: not JSON, so not storable
            raise PromptError(
                f"prompt {name!r} holds a value JSON cannot represent ({e}); write dates and times as "
                "strings",
                prompt=name,
            ) from None
        """The content hash of :meth:`behaviour` (12 hex digits)."""

    def __repr__(self) -> str:
        label = f" label={self.label}" if self.label else ""
        return f"<Prompt {self.ref} from {self.source}{label}>"

    @property
    def ref(self) -> str:
        """``name@version``: what traces store in ``prompt_version``."""
        return f"{self.name}@{self.version}"

    @property
    def variables(self) -> dict[str, Variable]:
        return dict(self._variables)

    @property
    def params(self) -> dict[str, Any]:
        """The pinned call options (temperature, max_tokens, ...): a copy."""
        return dict(self._params)

    @property
    def messages(self) -> list[dict[str, str]]:
        """The message templates (canonical text, as rendered and hashed)."""
        return [{"role": m.role, "content": m.content} for m in self._messages]

    # -- construction helpers ------------------------------------------------------------------------

    def _message(self, index: int, message: Mapping[str, str]) -> _Message:
        where = f"messages[{index}]"
        role, content = message.get("role"), message.get("content")
        unknown = sorted(set(message) - {"role", "content"})
        if unknown or role not in _ROLES or not isinstance(content, str):
            raise PromptError(
                f"prompt {self.name!r}: {where} needs role (one of {', '.join(_ROLES)}) and content (a "
                f"string){f'; unknown keys {unknown}' if unknown else ''}",
                prompt=self.name,
            )
        text = canonical_template(content)
        used = template_names(text, prompt=self.name, where=where) - RESERVED
        undeclared = sorted(used - set(self._variables))
        if undeclared:
            first = undeclared[0]
            raise PromptError(
                f"prompt {self.name!r}: {where} uses {{{{ {first} }}}}, which [variables] does not "
                f'declare; add {first} = "str" (or its type) under [variables]',
                prompt=self.name,
            )
        template = compile_template(text, prompt=self.name, where=where)
        return _Message(role, text, template, constant=not used)

    def _example(self, index: int, example: Mapping[str, Any] | FewShot) -> FewShot:
        if isinstance(example, FewShot):
            shot = example
        else:
            if set(example) != {"input", "output"} or not isinstance(example.get("input"), Mapping):
                raise PromptError(
                    f"prompt {self.name!r}: examples[{index}] needs exactly input (a table of variables) "
                    "and output",
                    prompt=self.name,
                )
            shot = FewShot(dict(example["input"]), example["output"])
        try:
            bind(self.name, self._variables, shot.input)
        except PromptError as e:
            raise PromptError(f"examples[{index}]: {e.message}", prompt=self.name) from None
        return shot

    # -- what the version hashes and the registry stores -------------------------------------------

    def behaviour(self) -> dict[str, Any]:
        """Everything that changes what is sent or how: the version is its content hash."""
        return {
            "model": self.model,
            "params": self._params,
            "variables": {k: v.behaviour() for k, v in sorted(self._variables.items())},
            "messages": self.messages,
            "examples": [e.to_data() for e in self.examples],
            "output_schema": self.output_schema,
        }

    def to_data(self) -> dict[str, Any]:
        """The whole definition as JSON data (what the registry keeps for each version)."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "owner": self.owner,
            **self.behaviour(),
            "variables": {k: v.to_data() for k, v in sorted(self._variables.items())},
            "schema_ref": self.schema_ref,
        }

    @classmethod
    def from_data(
        cls,
        data: Mapping[str, Any],
        *,
        source: PromptSource = "registry",
        label: str | None = None,
        fallback: str | None = None,
        path: Path | None = None,
    ) -> Prompt:
        """The prompt :meth:`to_data` described; ``PromptError`` if its stored version does not match."""
        prompt = cls(
            name=data["name"],
            model=data["model"],
            messages=data["messages"],
            variables=data.get("variables") or {},
            params=data.get("params") or {},
            examples=data.get("examples") or (),
            output_schema=data.get("output_schema"),
            schema_ref=data.get("schema_ref"),
            description=data.get("description", ""),
            owner=data.get("owner", ""),
            path=path,
            source=source,
            label=label,
            fallback=fallback,
        )
        stored = data.get("version")
        if stored is not None and stored != prompt.version:
            raise PromptError(
                f"stored prompt {prompt.name}@{stored} hashes to {prompt.version}: the copy was changed "
                "by hand; delete it (the registry or the cache file) and load the prompt again",
                prompt=prompt.name,
            )
        return prompt

    def replace(self, **changes: Any) -> Prompt:
        """A copy with ``changes`` (``model=``, ``params=``, ``messages=``...): a new version, no label.

        How replay runs stored inputs under another model.
        """
        data = {**self.to_data(), **changes}
        data.pop("version")
        return Prompt.from_data(
            data, source=self.source, label=changes.get("label"), path=self.path, fallback=self.fallback
        )

    # -- rendering ---------------------------------------------------------------------------------

    def bind(self, variables: Mapping[str, Any] | None = None, /, **kwargs: Any) -> dict[str, Any]:
        """The checked values (defaults filled); ``PromptRenderError`` names a missing, mistyped or
        undeclared variable and the fix."""
        given = {**(variables or {}), **kwargs}
        return bind(self.name, self._variables, given)

    def render(self, variables: Mapping[str, Any] | None = None, /, **kwargs: Any) -> list[Message]:
        """The messages for these variables: ``prompt.render(ticket="...")`` or ``render({...})``.

        Each message is stripped of the blank lines and spaces around it (what a loop or an ``if`` at
        the end of a template leaves behind)."""
        values = self.bind(variables, **kwargs)
        return self._render_bound(values)

    def _render_bound(self, values: Mapping[str, Any]) -> list[Message]:
        context: dict[str, Any] | None = None
        out = []
        for i, m in enumerate(self._messages):
            text = m.rendered
            if text is None:
                if context is None:
                    context = {**values, "examples": [e.to_data() for e in self.examples]}
                text = render_template(m.template, context, prompt=self.name, where=f"messages[{i}]").strip()
                if m.constant:
                    m.rendered = text
            out.append(Message(role=m.role, content=text))
        return out

    def use(self, values: Mapping[str, Any]) -> PromptUse:
        """The trace record of one call with these (bound) values."""
        return PromptUse(self.name, self.version, self.label, self.source, dict(values), self.fallback)

    # -- output schema -----------------------------------------------------------------------------

    @property
    def output_model(self) -> Any:
        """The pydantic model ``output_schema = "module.Class"`` names (imported on first use), else None."""
        if self._output_model is None and self.schema_ref is not None and not _is_file_ref(self.schema_ref):
            self._output_model = import_model(self.schema_ref, prompt=self.name)
        return self._output_model


def _check_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise PromptError(
            f"prompt {name!r}: unknown [params] key(s) {unknown}; use some of {', '.join(PARAMS)} (the model "
            "goes in `model = ...` at the top)",
            prompt=name,
        )
    from .._validate import build_request

    try:
        build_request("check", "check", **params)
    except InvalidRequest as e:
        raise PromptError(f"prompt {name!r}: [params] {e.message}", prompt=name) from None
    return params


def _is_file_ref(ref: str) -> bool:
    return ref.endswith(".json") or "/" in ref or "\\" in ref


def import_model(ref: str, *, prompt: str) -> Any:
    """``package.module.Class`` or ``package.module:Class`` → the class (a pydantic model)."""
    module_name, sep, attr = ref.partition(":")
    if not sep:
        module_name, _, attr = ref.rpartition(".")
    if not module_name or not attr:
        raise PromptError(
            f"prompt {prompt!r}: output_schema {ref!r} is neither a .json file nor module.Class",
            prompt=prompt,
        )
    try:
        model = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise PromptError(
            f"prompt {prompt!r}: cannot import output_schema {ref!r} ({e}); check the dotted path and "
            "that the module is importable from here",
            prompt=prompt,
        ) from None
    if not hasattr(model, "model_json_schema"):
        raise PromptError(f"prompt {prompt!r}: output_schema {ref!r} is not a pydantic model", prompt=prompt)
    return model

"""Prompt files: ``prompts/NAME.toml``, or ``prompts/NAME.md`` (Markdown with TOML front matter).

The format is in docs/prompts.md. Both forms parse to the same data; the version is computed from that
data (never from the file's bytes), so comments and layout are free.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import PromptError
from .prompt import NAME, Prompt, _is_file_ref, import_model

__all__ = ["DEFAULT_PATH", "SUFFIXES", "find", "load_file", "parse", "search_path"]

DEFAULT_PATH = ("prompts",)
"""Where :func:`find` looks when neither ``path=`` nor ``STEADYHAND_PROMPTS_PATH`` says otherwise."""
SUFFIXES = (".toml", ".md")
_KEYS = {"description", "owner", "model", "params", "variables", "messages", "examples", "output_schema"}
_FRONT = re.compile(r"\A\+\+\+[ \t]*\n(.*?)^\+\+\+[ \t]*(?:\n|\Z)", re.S | re.M)
_ROLE_HEADING = re.compile(r"^##[ \t]+(system|user|assistant)[ \t]*$", re.I | re.M)


def search_path(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None) -> list[Path]:
    """``path`` (a directory or several), else ``$STEADYHAND_PROMPTS_PATH`` (``os.pathsep``-separated),
    else ``./prompts``."""
    if path is None:
        env = os.environ.get("STEADYHAND_PROMPTS_PATH")
        return [Path(p) for p in (env.split(os.pathsep) if env else DEFAULT_PATH) if p]
    if isinstance(path, str | os.PathLike):
        return [Path(path)]
    return [Path(p) for p in path]


def find(name: str, path: Any = None) -> Path:
    """The file of prompt ``name`` (or ``name`` itself when it is a path to a .toml/.md file)."""
    direct = Path(name)
    if direct.suffix in SUFFIXES and (direct.is_file() or "/" in name or os.sep in name):
        if not direct.is_file():
            raise PromptError(f"prompt file {name} does not exist; check the path", prompt=direct.stem)
        return direct
    if not NAME.match(name):
        raise PromptError(
            f"{name!r} is not a prompt name: use letters, digits, '_', '-' and '.' (the file's stem)",
            prompt=name,
        )
    dirs = search_path(path)
    for folder in dirs:
        for suffix in SUFFIXES:
            candidate = folder / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
    known = sorted({p.stem for d in dirs if d.is_dir() for p in d.iterdir() if p.suffix in SUFFIXES})
    where = ", ".join(str(d) for d in dirs)
    raise PromptError(
        f"no prompt {name!r} in {where} (known: {', '.join(known) or 'none'}); create "
        f"{dirs[0] / (name + '.toml')} or pass path= (or set STEADYHAND_PROMPTS_PATH)",
        prompt=name,
    )


def load_file(file: str | os.PathLike[str]) -> Prompt:
    """Read and check one prompt file; every problem is a ``PromptError`` naming the file and the fix."""
    path = Path(file)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise PromptError(f"cannot read prompt file {path}: {e.strerror or e}", prompt=path.stem) from None
    return parse(text, name=path.stem, markdown=path.suffix == ".md", base=path.parent, path=path)


def parse(
    text: str,
    *,
    name: str,
    markdown: bool = False,
    base: Path | None = None,
    path: Path | None = None,
) -> Prompt:
    """A prompt from the text of a file (``base``: where relative schema files are found)."""
    where = str(path) if path is not None else name
    data = _markdown(text, name, where) if markdown else _toml(text, name, where)
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise PromptError(
            f"prompt file {where}: unknown key(s) {unknown}; use some of {', '.join(sorted(_KEYS))}",
            prompt=name,
        )
    if "model" not in data:
        raise PromptError(
            f'prompt file {where}: no model; pin one with model = "ALIAS" (an alias of steadyhand.toml or '
            '"provider:model")',
            prompt=name,
        )
    schema, ref = _schema(data.get("output_schema"), name, where, base or Path("."))
    for key in ("params", "variables"):
        if not isinstance(data.get(key, {}), dict):
            raise PromptError(f"prompt file {where}: {key} must be a table ([{key}])", prompt=name)
    for key in ("messages", "examples"):
        if not isinstance(data.get(key, []), list):
            raise PromptError(
                f"prompt file {where}: {key} must be an array of tables ([[{key}]])",
                prompt=name,
            )
    try:
        return Prompt(
            name=name,
            model=data["model"],
            messages=data.get("messages", []),
            variables=data.get("variables", {}),
            params=data.get("params", {}),
            examples=data.get("examples", []),
            output_schema=schema,
            schema_ref=ref,
            description=str(data.get("description", "")),
            owner=str(data.get("owner", "")),
            path=path,
            source="file",
        )
    except PromptError as e:
        if path is None:
            raise
        raise PromptError(f"{path}: {e.message}", prompt=name) from None


def _toml(text: str, name: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PromptError(f"prompt file {where} is not valid TOML: {e}", prompt=name) from None


def _markdown(text: str, name: str, where: str) -> dict[str, Any]:
    """``+++`` TOML front matter, then the messages: ``## system`` / ``## user`` / ``## assistant``
    headings start each one (a body without headings is one user message)."""
    text = text.replace("\r\n", "\n")
    match = _FRONT.match(text)
    if match is None:
        raise PromptError(
            f"prompt file {where} has no front matter: start it with a line +++, the TOML settings "
            "(model = ...), and another +++",
            prompt=name,
        )
    data = _toml(match.group(1), name, where)
    body = text[match.end() :]
    if "messages" in data:
        if body.strip():
            raise PromptError(
                f"prompt file {where} has [[messages]] in its front matter and a body: keep one", prompt=name
            )
        return data
    parts = _ROLE_HEADING.split(body)
    if parts[0].strip() and len(parts) > 1:
        raise PromptError(
            f"prompt file {where}: text before the first role heading; start with ## system or ## user",
            prompt=name,
        )
    if len(parts) == 1:
        data["messages"] = [{"role": "user", "content": body}]
    else:
        data["messages"] = [
            {"role": parts[i].lower(), "content": parts[i + 1]} for i in range(1, len(parts), 2)
        ]
    return data


def _schema(value: Any, name: str, where: str, base: Path) -> tuple[dict[str, Any] | None, str | None]:
    """An inline table, a ``.json`` file (relative to the prompt file) or ``module.Class``."""
    if value is None:
        return None, None
    if isinstance(value, dict):
        return value, None
    if not isinstance(value, str):
        raise PromptError(
            f"prompt file {where}: output_schema must be a .json path, module.Class or a table", prompt=name
        )
    if _is_file_ref(value):
        file = base / value
        try:
            schema = json.loads(file.read_text(encoding="utf-8"))
        except OSError as e:
            raise PromptError(
                f"prompt file {where}: cannot read output_schema {file}: {e.strerror or e}", prompt=name
            ) from None
        except json.JSONDecodeError as e:
            raise PromptError(
                f"prompt file {where}: output_schema {file} is not JSON: {e}",
                prompt=name,
            ) from None
        if not isinstance(schema, dict):
            raise PromptError(f"prompt file {where}: output_schema {file} is not a JSON object", prompt=name)
        return schema, value
    model = import_model(value, prompt=name)
    return model.model_json_schema(), value

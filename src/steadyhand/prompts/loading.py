"""``load``: a prompt from its file, or from the registry by label or version, never failing on a
registry that is down while a cached copy or the file can serve."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from ..errors import PromptError, StoreError
from .files import find, load_file
from .prompt import Prompt
from .registry import Registry, RegistryDown

__all__ = ["load"]

log = logging.getLogger("steadyhand.prompts")

PathArg = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None


def load(
    name: str,
    *,
    label: str | None = None,
    version: str | None = None,
    registry: Registry | None = None,
    path: PathArg = None,
) -> Prompt:
    """The prompt ``name``: its file (found on ``path``, default ``./prompts``), or with ``label`` /
    ``version`` the one the ``registry`` keeps.

    With a registry, a file's version is kept there on load (every version used is kept). When the
    registry is unreachable, the last cached copy of the label or version serves, else the file;
    ``prompt.source`` (and every trace of its calls) says which, ``prompt.fallback`` why. Only a
    prompt that exists nowhere raises (``PromptError``).
    """
    if label is not None and version is not None:
        raise PromptError(f"load({name!r}): give label= or version=, not both", prompt=name)
    if label is None and version is None:
        prompt = load_file(find(name, path))
        if registry is not None:
            try:
                registry.register(prompt)
            except StoreError as e:  # kept next time the registry is reachable
                log.warning("could not keep %s in the prompt registry: %s", prompt.ref, e)
        return prompt
    if registry is None:
        raise PromptError(
            f"load({name!r}, {'label' if label else 'version'}=...) reads the registry: pass "
            "registry=steadyhand.prompts.Registry(database_url)",
            prompt=name,
        )
    try:
        if label is not None:
            return registry.resolve(name, label)
        assert version is not None
        return registry.get(name, version)
    except RegistryDown as down:
        return _from_file(name, path, label=label, version=version, reason=str(down))


def _from_file(name: str, path: Any, *, label: str | None, version: str | None, reason: str) -> Prompt:
    """The registry is down and nothing is cached: the file on disk serves (if it has that version)."""
    try:
        prompt = load_file(find(name, path))
    except PromptError as e:
        raise PromptError(
            f"prompt {name!r}: the registry is unreachable ({reason}), nothing is cached and {e.message}",
            prompt=name,
        ) from None
    if version is not None and not prompt.version.startswith(version):
        raise PromptError(
            f"prompt {name!r}: the registry is unreachable ({reason}) and neither the cache nor the file "
            f"(version {prompt.version}) has version {version!r}",
            prompt=name,
        )
    prompt.label = label
    prompt.fallback = reason
    log.warning("prompt registry unreachable: %s serves from its file %s", prompt.ref, prompt.path)
    return prompt

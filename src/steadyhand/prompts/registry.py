"""The registry: prompt versions and labels in the store, with a local copy of everything it served.

The store can be down; a prompt call must not be. Each version and label the registry serves is
also written to a cache directory (one JSON file each), and when the store cannot be reached the cache
serves it instead (then the prompt file on disk: :func:`steadyhand.prompts.load` decides). After a
failure the registry does not try the store again for ``retry_after`` seconds, so a down database
costs one connect timeout, not one per call.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import PromptError, StoreError
from .prompt import Prompt

if TYPE_CHECKING:
    from ..store import LabelMoveView, PromptLabelView, PromptSummary, PromptVersionView, SpanView, Store

__all__ = ["DEFAULT_CACHE_DIR", "Registry", "RegistryDown", "current_user"]

log = logging.getLogger("steadyhand.prompts")

DEFAULT_CACHE_DIR = Path(".steadyhand/prompt-cache")
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
_HEX = re.compile(r"^[0-9a-f]{1,64}$")


def current_user() -> str:
    """Who moves a label or keeps a version: ``$STEADYHAND_USER``, else the login name."""
    try:
        return os.environ.get("STEADYHAND_USER") or getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return "unknown"


class RegistryDown(StoreError):
    """The registry's store is unreachable (or was, less than ``retry_after`` seconds ago)."""


class Registry:
    """Prompt versions and labels in the store (``store``: a ``Store``, a URL, or ``None`` for the
    default database), with a cache of what it served in ``cache_dir`` (``None``: no cache)."""

    def __init__(
        self,
        store: Store | str | None = None,
        *,
        cache_dir: str | os.PathLike[str] | None = DEFAULT_CACHE_DIR,
        retry_after: float = 30.0,
        user: str | None = None,
    ) -> None:
        self._store: Store | None = None if store is None or isinstance(store, str) else store
        self._url = store if isinstance(store, str) or store is None else None
        self._owned = self._store is None
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self.retry_after = retry_after
        self.user = user
        self._down_until = 0.0
        self._down_reason = ""
        self._lock = threading.Lock()
        self._kept: set[tuple[str, str]] = set()
        """Versions this registry already kept: loading the same file again costs no query."""
        self._pending: dict[tuple[str, str], tuple[Prompt, str]] = {}
        """Versions used while the store was down: kept at the next contact (every version used is kept)."""

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owned and self._store is not None:
            self._store.close()
            self._store = None

    # -- the store, guarded --------------------------------------------------------------------------

    def store(self) -> Store:
        """The store, opened on first use; ``RegistryDown`` while it is unreachable."""
        if time.monotonic() < self._down_until:
            raise RegistryDown(f"{self._down_reason} (not retried for {self.retry_after:g} s)")
        with self._lock:
            if self._store is None:
                from ..store import open_store

                try:
                    self._store = open_store(self._url)
                except (StoreError, OSError) as e:  # OSError: the SQLite file's directory cannot be made
                    raise RegistryDown(self._mark_down(e)) from e
            return self._store

    def _mark_down(self, error: BaseException) -> str:
        self._down_until = time.monotonic() + self.retry_after
        self._down_reason = " ".join(str(error).split())
        log.warning("prompt registry unreachable (%s): serving cached copies and files", self._down_reason)
        return self._down_reason

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        store = self.store()
        try:
            if self._pending:
                self._keep_pending(store)
            return fn(store.prompts, *args, **kwargs)
        except RegistryDown:
            raise
        except StoreError as e:
            raise RegistryDown(self._mark_down(e)) from e

    # -- versions ----------------------------------------------------------------------------------

    def register(self, prompt: Prompt, *, by: str | None = None) -> bool:
        """Keep ``prompt``'s version (and cache it); True when the registry did not have it yet."""
        from ..store import PromptTables

        key = (prompt.name, prompt.version)
        if key in self._kept:
            return False
        self._cache_version(prompt)
        who = by or self.user or current_user()
        data = prompt.to_data()
        try:
            new = bool(self._call(PromptTables.save_version, prompt.name, prompt.version, data, by=who))
        except RegistryDown:
            self._pending[key] = (prompt, who)
            raise
        self._kept.add(key)
        return new

    def _keep_pending(self, store: Store) -> None:
        for key, (prompt, who) in list(self._pending.items()):
            store.prompts.save_version(prompt.name, prompt.version, prompt.to_data(), by=who)
            self._pending.pop(key, None)
            self._kept.add(key)

    def get(self, name: str, version: str, *, label: str | None = None) -> Prompt:
        """Version ``version`` (a hash or a unique prefix) of ``name`` from the store, else the cache
        (``source="cache"``); ``PromptError`` when neither has it."""
        from ..store import PromptTables

        try:
            view: PromptVersionView | None = self._call(PromptTables.get_version, name, version)
        except RegistryDown as e:
            cached = self._cached_version(name, version)
            if cached is None:
                raise
            return Prompt.from_data(cached, source="cache", label=label, fallback=str(e))
        if view is None:
            raise PromptError(
                f"prompt {name!r} has no kept version {version!r}; see `steadyhand prompts log {name}`",
                prompt=name,
            )
        prompt = Prompt.from_data(view.definition, source="registry", label=label)
        self._cache_version(prompt)
        return prompt

    def resolve(self, name: str, label: str) -> Prompt:
        """The version ``label`` points at (``source="registry"``), else the cached copy of what it last
        pointed at (``source="cache"``, ``fallback`` saying why); ``RegistryDown`` with neither."""
        from ..store import PromptTables

        try:
            pointer: PromptLabelView | None = self._call(PromptTables.label, name, label)
        except RegistryDown as e:
            version = self._cached_label(name, label)
            cached = None if version is None else self._cached_version(name, version)
            if cached is None:
                raise
            return Prompt.from_data(cached, source="cache", label=label, fallback=str(e))
        if pointer is None:
            raise PromptError(
                f"prompt {name!r} has no label {label!r}; set it with `steadyhand prompts label {name} "
                f"VERSION {label}`",
                prompt=name,
            )
        prompt = self.get(name, pointer.version, label=label)
        self._cache_label(name, label, prompt.version)
        return prompt

    def versions(self, name: str) -> list[PromptVersionView]:
        from ..store import PromptTables

        return list(self._call(PromptTables.versions, name))

    def summaries(self) -> list[PromptSummary]:
        from ..store import PromptTables

        return list(self._call(PromptTables.summaries))

    # -- labels ------------------------------------------------------------------------------------

    def labels(self, name: str) -> list[PromptLabelView]:
        from ..store import PromptTables

        return list(self._call(PromptTables.labels, name))

    def move_label(
        self, name: str, label: str, version: str, *, by: str | None = None, note: str | None = None
    ) -> LabelMoveView:
        """Point ``label`` at ``version`` (a hash or unique prefix of a kept version): a rollback is a move
        back. Recorded with who (``by``, else the registry's user, else the login name) and when."""
        from ..store import PromptTables

        prompt = self.get(name, version)
        if prompt.source != "registry":
            raise RegistryDown(f"cannot move {name}:{label} while the registry is down ({prompt.fallback})")
        who = by or self.user or current_user()
        move: LabelMoveView = self._call(
            PromptTables.move_label, name, label, prompt.version, by=who, note=note
        )
        self._cache_label(name, label, prompt.version)
        return move

    def moves(self, name: str, *, label: str | None = None) -> list[LabelMoveView]:
        from ..store import PromptTables

        return list(self._call(PromptTables.moves, name, label=label))

    def calls(self, name: str, **filters: Any) -> list[SpanView]:
        """The LLM spans prompt ``name`` produced (see ``PromptTables.calls`` for the filters)."""
        from ..store import PromptTables

        return list(self._call(PromptTables.calls, name, **filters))

    # -- the local cache ---------------------------------------------------------------------------

    def _cache_file(self, name: str, *parts: str) -> Path | None:
        """The cache file, or None: no cache, or a name or label that is no safe path component."""
        if self.cache_dir is None or not all(_SAFE.match(p) for p in (name, *parts)):
            return None
        return self.cache_dir.joinpath(name, *parts)

    def _write_cache(self, path: Path | None, data: Any) -> None:
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(data, sort_keys=True, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, path)
        except OSError as e:  # a cache that cannot be written must not fail a call
            log.warning("cannot write the prompt cache %s: %s", path, e)

    def _read_cache(self, path: Path | None) -> Any:
        if path is None:
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _cache_version(self, prompt: Prompt) -> None:
        self._write_cache(self._cache_file(prompt.name, f"{prompt.version}.json"), prompt.to_data())

    def _cache_label(self, name: str, label: str, version: str) -> None:
        data = {"version": version, "cached_at": time.time()}
        self._write_cache(self._cache_file(name, "labels", f"{label}.json"), data)

    def _cached_label(self, name: str, label: str) -> str | None:
        data = self._read_cache(self._cache_file(name, "labels", f"{label}.json"))
        return data.get("version") if isinstance(data, dict) else None

    def _cached_version(self, name: str, version: str) -> dict[str, Any] | None:
        folder = self._cache_file(name)
        if folder is None or not folder.is_dir() or not _HEX.match(version):
            return None
        matches = sorted(p for p in folder.glob(f"{version}*.json"))
        data = self._read_cache(matches[0]) if len(matches) == 1 else None
        return data if isinstance(data, dict) else None

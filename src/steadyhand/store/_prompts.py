"""The prompt registry's tables: versions (kept forever), labels, label moves; and a prompt's calls.

Reached as ``store.prompts`` (:class:`PromptTables`). Every method is one short transaction; every
failure is a ``StoreError`` (the registry's callers fall back to files and cached copies on it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..errors import ConfigurationError
from ._engine import deadline, map_errors, write_transaction
from ._fit import tag_key, tag_value
from ._read import _views
from .models import prompt_label_moves, prompt_labels, prompt_versions, span_tags, spans
from .views import LabelMoveView, PromptLabelView, PromptSummary, PromptVersionView, SpanView

if TYPE_CHECKING:
    from ._store import Store

__all__ = ["PromptTables"]

_V = prompt_versions.c
_L = prompt_labels.c
_M = prompt_label_moves.c
_S = spans.c


class PromptTables:
    """Prompt versions and labels in the store (``store.prompts``)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        store = self._store
        with (
            map_errors(store.url, timeout=store.query_timeout),
            store._engine.begin() as conn,
            deadline(conn, store.query_timeout),
        ):
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with map_errors(self._store.url), write_transaction(self._store._engine) as conn:
            yield conn

    # -- versions ----------------------------------------------------------------------------------

    def save_version(self, name: str, version: str, definition: dict[str, Any], *, by: str) -> bool:
        """Keep a version (idempotent: a version already kept is left as it was); True when new."""
        with self._write() as conn:
            found = conn.execute(sa.select(_V.version).where(_V.name == name, _V.version == version)).first()
            if found is not None:
                return False
            conn.execute(
                sa.insert(prompt_versions).values(
                    name=name, version=version, definition=definition, created_at=time.time(), created_by=by
                )
            )
            return True

    def get_version(self, name: str, version: str) -> PromptVersionView | None:
        """The version whose hash is ``version`` or starts with it (a unique prefix, as git's)."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(prompt_versions)
                .where(_V.name == name, _V.version.startswith(version, autoescape=True))
                .limit(2)
            ).mappings()
            found = [PromptVersionView(**r) for r in rows]
        if len(found) > 1:
            raise ConfigurationError(
                f"version {version!r} of prompt {name!r} is ambiguous; give more of its digits"
            )
        return found[0] if found else None

    def versions(self, name: str) -> list[PromptVersionView]:
        """Every kept version of ``name``, newest first."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(prompt_versions).where(_V.name == name).order_by(_V.created_at.desc(), _V.version)
            ).mappings()
            return [PromptVersionView(**r) for r in rows]

    def summaries(self) -> list[PromptSummary]:
        """One row per prompt name: how many versions, the newest, where its labels point."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(_V.name, _V.version, _V.created_at).order_by(_V.name, _V.created_at, _V.version)
            ).all()
            labels: dict[str, dict[str, str]] = {}
            for name, label, version in conn.execute(sa.select(_L.name, _L.label, _L.version)):
                labels.setdefault(name, {})[label] = version
        found: dict[str, tuple[int, str, float]] = {}
        for name, version, created in rows:
            count = found[name][0] if name in found else 0
            found[name] = (count + 1, version, created)
        return [
            PromptSummary(name=n, versions=c, latest=v, latest_at=at, labels=labels.get(n, {}))
            for n, (c, v, at) in found.items()
        ]

    # -- labels ------------------------------------------------------------------------------------

    def labels(self, name: str) -> list[PromptLabelView]:
        with self._read() as conn:
            rows = conn.execute(sa.select(prompt_labels).where(_L.name == name).order_by(_L.label)).mappings()
            return [PromptLabelView(**r) for r in rows]

    def label(self, name: str, label: str) -> PromptLabelView | None:
        with self._read() as conn:
            row = (
                conn.execute(sa.select(prompt_labels).where(_L.name == name, _L.label == label))
                .mappings()
                .first()
            )
            return None if row is None else PromptLabelView(**row)

    def move_label(
        self, name: str, label: str, version: str, *, by: str, note: str | None = None
    ) -> LabelMoveView:
        """Point ``label`` at a kept ``version`` and record the move (rollback is another move)."""
        now = time.time()
        with self._write() as conn:
            known = conn.execute(sa.select(_V.version).where(_V.name == name, _V.version == version)).first()
            if known is None:
                raise ConfigurationError(
                    f"prompt {name!r} has no kept version {version!r}; see `steadyhand prompts log {name}`"
                )
            current = conn.execute(
                sa.select(_L.version).where(_L.name == name, _L.label == label)
            ).scalar_one_or_none()
            values = {"version": version, "moved_at": now, "moved_by": by}
            if current is None:
                conn.execute(sa.insert(prompt_labels).values(name=name, label=label, **values))
            else:
                update = sa.update(prompt_labels).where(_L.name == name, _L.label == label)
                conn.execute(update.values(**values))
            move = {
                "name": name, "label": label, "from_version": current, "to_version": version,
                "moved_at": now, "moved_by": by, "note": note,
            }  # fmt: skip
            seq = conn.execute(sa.insert(prompt_label_moves).values(**move)).inserted_primary_key
            return LabelMoveView(seq=int(seq[0]) if seq else 0, **move)

    def moves(self, name: str, *, label: str | None = None) -> list[LabelMoveView]:
        """Every move of ``name``'s labels (or of one), newest first."""
        with self._read() as conn:
            query = sa.select(prompt_label_moves).where(_M.name == name)
            if label is not None:
                query = query.where(_M.label == label)
            rows = conn.execute(query.order_by(_M.seq.desc())).mappings()
            return [LabelMoveView(**r) for r in rows]

    # -- the calls a prompt made -------------------------------------------------------------------

    def calls(
        self,
        name: str,
        *,
        version: str | None = None,
        label: str | None = None,
        since: float | None = None,
        status: str | None = None,
        traffic: str | None = None,
        limit: int = 100,
    ) -> list[SpanView]:
        """LLM spans made from prompt ``name`` (a version, a label, a time, a status, a traffic class),
        newest first; replays and few-shot checks (tagged ``replay_of`` / ``check``) are left out."""
        if not 1 <= limit <= 10_000:
            raise ConfigurationError(f"limit must be between 1 and 10000, got {limit}")
        where: list[Any] = [_S.kind == "llm"]
        if version is not None:
            where.append(_S.prompt_version.startswith(f"{name}@{version}", autoescape=True))
        else:
            where.append(_S.prompt_version.startswith(f"{name}@", autoescape=True))
        if since is not None:
            where.append(_S.start_time >= since)
        if status is not None:
            where.append(_S.status == status)
        tag = span_tags.c
        # calls that were themselves replays or checks are not production inputs
        where.append(~sa.exists().where(tag.span_id == _S.span_id, tag.key.in_(("replay_of", "check"))))
        if traffic is not None:
            of_class = (tag.span_id == _S.span_id, tag.key == "traffic", tag.value == tag_value(traffic))
            where.append(sa.exists().where(*of_class))
        if label is not None:
            where.append(
                sa.exists().where(
                    tag.span_id == _S.span_id,
                    tag.key == tag_key("prompt.label"),
                    tag.value == tag_value(label),
                )
            )
        query = sa.select(spans).where(*where).order_by(_S.start_time.desc(), _S.seq.desc())
        with self._read() as conn:
            return _views(conn, conn.execute(query.limit(limit)).mappings().all())

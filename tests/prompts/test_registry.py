"""The registry on both engines: versions kept, labels moved (who, when), rollback, and a registry that
is down: the cached copy serves, else the file, and the prompt (and its traces) say so."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from steadyhand import PromptError
from steadyhand.prompts import Registry, RegistryDown, load
from steadyhand.store import open_store

from .conftest import TICKET, write_prompt

DEAD_URL = "postgresql://nobody@127.0.0.1:1/none"
"""Nothing listens on port 1: connecting is refused at once, like a database that is down."""


def test_versions_labels_moves_and_rollback(empty_url: str) -> None:
    write_prompt()
    with Registry(empty_url, cache_dir="cache", user="alice") as registry:
        v1 = load("classify_ticket", registry=registry)  # loading with a registry keeps the version
        write_prompt(TICKET.replace("or low.", "or low. One word."))
        v2 = load("classify_ticket", registry=registry)
        assert v1.version != v2.version
        assert [v.version for v in registry.versions("classify_ticket")] == [v2.version, v1.version]
        assert registry.register(v2) is False  # kept once
        with Registry(empty_url, cache_dir=None) as fresh:
            assert fresh.register(v2) is False  # the store itself keeps each version once

        first = registry.move_label("classify_ticket", "production", v1.version[:6], note="launch")
        moved = (first.from_version, first.to_version, first.moved_by, first.note)
        assert moved == (None, v1.version, "alice", "launch")
        registry.move_label("classify_ticket", "production", v2.version, by="bob")
        registry.move_label("classify_ticket", "staging", v2.version)
        served = load("classify_ticket", label="production", registry=registry)
        assert (served.version, served.source, served.label) == (v2.version, "registry", "production")

        back = registry.move_label("classify_ticket", "production", v1.version, by="carol", note="rollback")
        assert (back.from_version, back.to_version) == (v2.version, v1.version)
        assert load("classify_ticket", label="production", registry=registry).version == v1.version
        moves = registry.moves("classify_ticket", label="production")
        assert [(m.moved_by, m.to_version) for m in moves] == [
            ("carol", v1.version), ("bob", v2.version), ("alice", v1.version),
        ]  # fmt: skip
        assert all(abs(m.moved_at - time.time()) < 60 for m in moves)
        labels = {lab.label: lab.version for lab in registry.labels("classify_ticket")}
        assert labels == {"production": v1.version, "staging": v2.version}
        (summary,) = registry.summaries()
        assert (summary.name, summary.versions, summary.latest) == ("classify_ticket", 2, v2.version)

        with pytest.raises(PromptError, match="no kept version 'ffffff'"):
            registry.get("classify_ticket", "ffffff")
        with pytest.raises(PromptError, match="no label 'canary'"):
            load("classify_ticket", label="canary", registry=registry)
        old = load("classify_ticket", version=v1.version[:8], registry=registry)
        assert old.render(ticket="x") == v1.render(ticket="x")  # every version is kept whole


def test_a_down_registry_serves_the_cached_copy_then_the_file(empty_url: str) -> None:
    write_prompt()
    with Registry(empty_url, cache_dir="cache") as registry:
        v1 = load("classify_ticket", registry=registry)
        registry.move_label("classify_ticket", "production", v1.version)
        load("classify_ticket", label="production", registry=registry)  # cached as it is served
    write_prompt(TICKET.replace("or low.", "or low. One word."))  # the file moved on since

    down = Registry(DEAD_URL, cache_dir="cache", retry_after=60)
    cached = load("classify_ticket", label="production", registry=down)
    assert (cached.version, cached.source, cached.label) == (v1.version, "cache", "production")
    assert cached.fallback is not None and "cannot reach" in cached.fallback
    started = time.monotonic()
    assert load("classify_ticket", version=v1.version, registry=down).source == "cache"
    assert time.monotonic() - started < 1.0  # not retried within retry_after: no second connect attempt

    no_cache = Registry(DEAD_URL, cache_dir="empty-cache")
    on_disk = load("classify_ticket", label="production", registry=no_cache)
    assert (on_disk.source, on_disk.label) == ("file", "production")
    assert on_disk.version != v1.version and on_disk.fallback is not None
    with pytest.raises(PromptError, match="neither the cache nor the file"):
        load("classify_ticket", version=v1.version, registry=no_cache)
    Path("prompts/classify_ticket.toml").unlink()
    with pytest.raises(PromptError, match="unreachable.*nothing is cached"):
        load("classify_ticket", label="production", registry=no_cache)


def test_loading_a_file_never_fails_because_the_registry_is_down() -> None:
    write_prompt()
    prompt = load("classify_ticket", registry=Registry(DEAD_URL, cache_dir="cache"))
    assert prompt.source == "file" and prompt.label is None
    with pytest.raises(RegistryDown):
        Registry(DEAD_URL, cache_dir=None).move_label("classify_ticket", "production", prompt.version)


def test_a_hand_edited_copy_is_refused(empty_url: str) -> None:
    write_prompt()
    with Registry(empty_url, cache_dir="cache") as registry:
        prompt = load("classify_ticket", registry=registry)
    cached = Path("cache/classify_ticket") / f"{prompt.version}.json"
    cached.write_text(cached.read_text().replace("or low.", "or never."))
    with pytest.raises(PromptError, match="changed by hand"):
        load("classify_ticket", version=prompt.version, registry=Registry(DEAD_URL, cache_dir="cache"))
    with open_store(empty_url) as store:
        assert store.prompts.get_version("classify_ticket", prompt.version) is not None


def test_a_version_used_while_the_registry_was_down_is_kept_once_it_is_back() -> None:
    write_prompt()
    Path("blocker").write_text("")  # a file where the database's directory should be: it cannot open
    registry = Registry("sqlite:///blocker/registry.db", cache_dir="cache", retry_after=0)
    used = load("classify_ticket", registry=registry)
    assert used.source == "file"
    with pytest.raises(RegistryDown):
        registry.versions("classify_ticket")
    Path("blocker").unlink()  # the database is reachable again
    assert [v.version for v in registry.versions("classify_ticket")] == [used.version]
    registry.close()

"""``steadyhand prompts``: list, show, diff, log, label, replay and check versioned prompts.

A prompt is named ``NAME`` (its file on disk), ``NAME@VERSION`` (a kept version, by hash or unique
prefix) or ``NAME@LABEL`` (where a label points). Every error is one line and a non-zero exit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .._config import Config
from ..errors import ConfigurationError, PromptError, StoreError
from ..prompts import (
    Prompt,
    Registry,
    check_examples,
    find,
    load_file,
    parse_query,
    replay,
    search_path,
)
from ..store import Store, open_store
from ._prompt_views import check_table, diff_table, log_tables, prompt_view, replay_table
from .db import DatabaseUrl, fail, open_cli_store

if TYPE_CHECKING:
    from ..client import Client
    from ..tracing import Tracer

__all__ = ["register", "resolve"]

_HEX = re.compile(r"^[0-9a-f]{4,64}$")

PromptPath = Annotated[
    list[Path] | None,
    typer.Option(
        "--path",
        help="A directory of prompt files; repeat for several "
        "(default: $STEADYHAND_PROMPTS_PATH, else ./prompts).",
    ),
]


def _console() -> Console:
    console = Console()
    return console if console.is_terminal else Console(width=160)


def _paths(path: list[Path] | None) -> list[Path]:
    return search_path(path or None)


@contextmanager
def _registry(url: str | None, *, create: bool = False) -> Iterator[Registry]:
    store = open_cli_store(url, create=create)
    try:
        yield Registry(store)
    finally:
        store.close()


def _file(name: str, path: list[Path] | None) -> Prompt:
    try:
        return load_file(find(name, _paths(path)))
    except PromptError as e:
        fail(str(e))


def resolve(
    ref: str, registry: Registry | None, path: list[Path] | None, *, default_name: str = ""
) -> Prompt:
    """``NAME``, ``NAME@VERSION``, ``NAME@LABEL`` (or ``@VERSION`` / ``@LABEL`` of ``default_name``)."""
    name, sep, at = ref.partition("@")
    name = name or default_name
    if not name:
        fail(f"{ref!r} names no prompt: write NAME, NAME@VERSION or NAME@LABEL")
    if not sep:
        return _file(name, path)
    if _HEX.match(at):
        try:  # the file on disk, when it is that version (not kept yet, or the registry is not needed)
            on_disk = load_file(find(name, _paths(path)))
            if on_disk.version.startswith(at):
                return on_disk
        except PromptError:
            pass
    if registry is None:
        fail(f"{ref} is in the registry: pass --database-url (or run where the app's database is)")
    try:
        if _HEX.match(at):
            return registry.get(name, at)
        return registry.resolve(name, at)
    except (PromptError, StoreError) as e:
        fail(str(e))


def _client(config: Config, url: str | None, model: str) -> tuple[Client, Tracer]:
    """A client for replays and checks (``eval`` traffic), traced to the same store; an unknown
    ``model`` fails here, once, not on every call."""
    from ..client import Client
    from ..tracing import tracer_from_config

    try:
        config.resolve(model)
    except ConfigurationError as e:
        fail(str(e))
    if url is not None:
        config = config.model_copy(update={"database_url": url})
    tracer = tracer_from_config(config)
    return Client(config, tracer=tracer, traffic="eval"), tracer


def _load_config() -> Config:
    try:
        return Config.load()
    except ConfigurationError as e:
        fail(str(e))


def register(app: typer.Typer) -> None:
    prompts = typer.Typer(no_args_is_help=True, help="Versioned prompts: files, versions, labels, replay.")
    app.add_typer(prompts, name="prompts")

    @prompts.command("list")
    def list_(path: PromptPath = None, database_url: DatabaseUrl = None) -> None:
        """Prompt files on the search path and the prompts the registry keeps, with their labels."""
        files: dict[str, Prompt] = {}
        problems: list[str] = []
        for folder in _paths(path):
            if not folder.is_dir():
                continue
            for file in sorted(folder.iterdir()):
                if file.suffix in (".toml", ".md") and file.stem not in files:
                    try:
                        files[file.stem] = load_file(file)
                    except PromptError as e:
                        problems.append(str(e))
        kept, note = {}, ""
        try:
            url = database_url if database_url is not None else _load_config().database_url
            with open_store(url, create=False) as store:
                kept = {s.name: s for s in Registry(store, cache_dir=None).summaries()}
        except StoreError as e:
            note = f"registry not read: {e}"
        table = Table("prompt", "file version", "model", "kept", "labels", "description", title="prompts")
        for name in sorted(set(files) | set(kept)):
            prompt, summary = files.get(name), kept.get(name)
            pointers = sorted(summary.labels.items()) if summary is not None else []
            labels = ", ".join(f"{k}={v}" for k, v in pointers)
            table.add_row(
                name,
                "-" if prompt is None else prompt.version,
                "-" if prompt is None else prompt.model,
                "0" if summary is None else str(summary.versions),
                Text(labels, style="cyan"),
                "" if prompt is None else prompt.description,
            )
        if note:
            table.caption = note
        console = _console()
        console.print(table)
        for problem in problems:
            console.print(f"[red]invalid:[/] {problem}", highlight=False)

    @prompts.command("show")
    def show(ref: str, path: PromptPath = None, database_url: DatabaseUrl = None) -> None:
        """One prompt: NAME (its file), NAME@VERSION or NAME@LABEL."""
        if "@" not in ref:
            _console().print(prompt_view(_file(ref, path)))
            return
        with _registry(database_url) as registry:
            _console().print(prompt_view(resolve(ref, registry, path)))

    @prompts.command("diff")
    def diff(a: str, b: str, path: PromptPath = None, database_url: DatabaseUrl = None) -> None:
        """What changed from A to B, side by side (B may be @VERSION or @LABEL of A's prompt)."""
        name = a.partition("@")[0]
        if "@" not in a and "@" not in b:
            _console().print(diff_table(_file(a, path), _file(b, path)))
            return
        with _registry(database_url) as registry:
            left = resolve(a, registry, path)
            right = resolve(b, registry, path, default_name=name)
        _console().print(diff_table(left, right))

    @prompts.command("log")
    def log(name: str, database_url: DatabaseUrl = None) -> None:
        """Every kept version of NAME and every move of its labels (who, when)."""
        with _registry(database_url) as registry:
            try:
                versions, labels = registry.versions(name), registry.labels(name)
                tables = log_tables(name, versions, labels, registry.moves(name))
            except StoreError as e:
                fail(str(e))
        if not tables[0].row_count:
            fail(f"the registry keeps no version of {name!r}: `steadyhand prompts list` shows what it has")
        for table in tables:
            _console().print(table)

    @prompts.command("label")
    def label(
        name: str,
        version: str,
        label: str,
        by: Annotated[
            str | None, typer.Option(help="Who moves it (default: $STEADYHAND_USER, else the login).")
        ] = None,
        note: Annotated[str | None, typer.Option(help="Why, kept with the move.")] = None,
        path: PromptPath = None,
        database_url: DatabaseUrl = None,
    ) -> None:
        """Point LABEL (production, staging) of NAME at VERSION; rollback is moving it back."""
        if not re.match(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$", label) or _HEX.match(label):
            fail(f"label {label!r}: use a name like production or staging (letters first, not a hash)")
        with _registry(database_url, create=True) as registry:
            try:
                on_disk = load_file(find(name, _paths(path)))
            except PromptError:
                on_disk = None
            try:
                if on_disk is not None and on_disk.version.startswith(version):
                    registry.register(on_disk, by=by)  # the file's version: kept first, then labelled
                move = registry.move_label(name, label, version, by=by, note=note)
            except (PromptError, StoreError) as e:
                fail(str(e))
        was = "new" if move.from_version is None else move.from_version
        line = f"{name}:{label} {was} → {move.to_version} (moved by {move.moved_by})"
        Console().print(line, highlight=False)

    @prompts.command("replay")
    def replay_(
        name: str,
        from_traces: Annotated[
            str,
            typer.Option(
                "--from-traces",
                metavar="QUERY",
                help='Which stored calls, e.g. "label=production since=7d limit=50" (all: the latest 100).',
                show_default=False,
            ),
        ],
        version: Annotated[
            str | None, typer.Option(help="Run under this version or label (default: the file).")
        ] = None,
        model: Annotated[
            str | None, typer.Option(help="Run under this model alias instead of the pinned one.")
        ] = None,
        path: PromptPath = None,
        database_url: DatabaseUrl = None,
    ) -> None:
        """Re-render stored inputs of NAME under another version (or model) and run them."""
        try:
            query = parse_query(from_traces)
        except ConfigurationError as e:
            fail(str(e))
        config = _load_config()
        with _registry(database_url) as registry:
            target = resolve(f"{name}@{version}" if version else name, registry, path)
            if model is not None:
                target = target.replace(model=model)
            client, tracer = _client(config, database_url, target.model)
            try:
                results = replay(client, registry, target, query)
            except (ConfigurationError, StoreError) as e:
                fail(str(e))
            finally:
                client.close()
                tracer.close()
        if not results:
            fail(
                f"no stored calls of {name!r} match {from_traces!r}; see "
                f"`steadyhand traces list --tag prompt={name}`"
            )
        title = f"{name}: stored calls replayed under {target.ref} ({target.model})"
        _console().print(replay_table(results, title))

    @prompts.command("check")
    def check(
        ref: str,
        dataset: Annotated[
            Path | None,
            typer.Option(help="An eval dataset (.jsonl, .json, .csv) to check for leaked examples."),
        ] = None,
        path: PromptPath = None,
        database_url: DatabaseUrl = None,
    ) -> None:
        """Run REF on its own examples: does the model reproduce them? Does DATASET contain them?"""
        config = _load_config()
        store: Store | None = open_cli_store(database_url) if "@" in ref else None
        try:
            prompt = resolve(ref, None if store is None else Registry(store), path)
        finally:
            if store is not None:
                store.close()
        if not prompt.examples:
            fail(f"{prompt.ref} has no few-shot examples to check; add [[examples]] with input and output")
        client, tracer = _client(config, database_url, prompt.model)
        started = time.perf_counter()
        try:
            report = check_examples(client, prompt, dataset=dataset)
        except ConfigurationError as e:
            fail(str(e))
        finally:
            client.close()
            tracer.close()
        console = _console()
        console.print(check_table(report))
        for leak in report.leaks:
            where = "its input" if leak.kind == "input" else f"its text in {leak.field}"
            console.print(f"[red]leak:[/] dataset row {leak.row} holds example {leak.example} ({where})")
        console.print(f"checked in {time.perf_counter() - started:.1f} s", style="dim")
        if not report.ok:
            missed = len(report.checks) - report.reproduced
            leaked = len(report.leaks)
            fail(f"{prompt.ref}: {missed} example(s) not reproduced, {leaked} leaked into the dataset")

"""The prompts part of ``steadyhand demo``: a prompt file with two versions, labels, traced calls that
link their version, a side-by-side diff, the label log, and a registry that is down."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .._config import Config
from ..client import Client
from ..prompts import Registry, load
from ..sim import SimServer
from ..sim.scenario import parse_scenario
from ..store import open_store
from ..tracing import tracer_from_config
from ._prompt_views import diff_table, log_tables

__all__ = ["PROMPT_V1", "run_prompts"]

PROMPT_V1 = """\
description = "Classify a support ticket by urgency."
owner = "support@example.com"
model = "default"

[params]
temperature = 0.0
max_tokens = 10

[variables]
ticket = "str"

[[messages]]
role = "system"
content = "You label support tickets as urgent, normal or low."

[[messages]]
role = "user"
content = "Ticket: {{ ticket }}"

[[examples]]
input = { ticket = "The site is down for everyone!" }
output = "urgent"
"""
SCENARIO = {
    "rules": [
        {"match": {"prompt_contains": "down"}, "respond": {"text": "urgent"}},
        {"match": {"prompt_contains": "Refund"}, "respond": {"text": "normal"}},
    ]
}
DOWN_URL = "postgresql://demo@127.0.0.1:1/registry"
"""Nothing listens on port 1: the registry as it looks when its database is down."""


def run_prompts(console: Console, config: Config, workdir: Path) -> int:
    """Section 6 of the tour; returns the exit code. Uses the demo's database for the registry."""
    console.rule("8. Prompts: versioned files, labels, traces that link the version")
    began = time.time()  # a second `make demo` finds the first one's calls in the same database
    folder = workdir / "prompts"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "classify_ticket.toml"
    path.write_text(PROMPT_V1, encoding="utf-8")
    cache = workdir / "prompt-cache"
    with (
        SimServer(parse_scenario(SCENARIO)) as sim,
        open_store(config.database_url) as store,
    ):
        registry = Registry(store, cache_dir=cache, user="demo")
        v1 = load("classify_ticket", path=folder, registry=registry)
        registry.move_label("classify_ticket", "production", v1.version, note="first release")
        edited = PROMPT_V1.replace("or low.", "or low. Answer with one word.").replace("0.0", "0.2")
        path.write_text(edited + "# a comment changes no version\n", encoding="utf-8")
        v2 = load("classify_ticket", path=folder, registry=registry)
        registry.move_label("classify_ticket", "staging", v2.version)
        console.print(f"  {path}: two versions kept, {v1.version} (production) and {v2.version} (staging)")

        local = Config.model_validate(
            {
                "database_url": config.database_url,
                "project": config.project,
                "providers": {"sim": {"kind": "sim", "base_url": sim.base_url}},
                "models": {"default": "sim:sim-basic"},
            }
        )
        tracer = tracer_from_config(local, spool_dir=workdir / "demo-spool-prompts")
        title = "client.run(prompt, ticket=...)"
        table = Table("label", "version", "source", "ticket", "answer", title=title)
        with Client(local, tracer=tracer) as client:
            for label in ("production", "staging"):
                prompt = load("classify_ticket", label=label, registry=registry, path=folder)
                for ticket in ("The site is down!", "Refund please"):
                    answer = client.run(prompt, ticket=ticket).text
                    table.add_row(label, prompt.version, prompt.source, ticket, answer)
        flushed = tracer.close(timeout=10)
        console.print(table)
        calls = registry.calls("classify_ticket", since=began, limit=10)
        linked = {(c.tags.get("prompt.label"), c.prompt_version) for c in calls}
        console.print(f"  {len(calls)} traced calls, each linking its version and label: {sorted(linked)}")
        console.print(diff_table(v1, v2))
        versions, labels = registry.versions("classify_ticket"), registry.labels("classify_ticket")
        for view in log_tables("classify_ticket", versions, labels, registry.moves("classify_ticket")):
            console.print(view)

    started = time.monotonic()
    down = Registry(DOWN_URL, cache_dir=cache)
    served = load("classify_ticket", label="production", registry=down, path=folder)
    console.print(
        f"  registry down: production still serves {served.ref} from its {served.source} copy "
        f"in {(time.monotonic() - started) * 1000:.0f} ms; the call's trace says source={served.source}"
    )
    if not flushed or served.version != v1.version or len(calls) != 4:
        console.print("[red]the prompts tour did not end as expected[/red]")
        return 1
    console.print("  Next: steadyhand prompts list | show | diff | log | label | replay | check")
    return 0

"""Fixtures for the prompt tests: a prompt file in an empty working directory, the simulator answering
its examples, and an empty database on each engine (SQLite and a throwaway PostgreSQL)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from services import PostgresCluster
from steadyhand import Config
from steadyhand.sim import SimServer
from steadyhand.sim.scenario import parse_scenario

_names = itertools.count()

TICKET = '''\
description = "Classify a support ticket by urgency."
owner = "support@example.com"
model = "default"   # pinned: an alias of steadyhand.toml

[params]
temperature = 0.0
max_tokens = 20

[variables]
ticket = "str"
tier = { type = "str", default = "free", description = "the customer's plan" }

[[messages]]
role = "system"
content = """
You label support tickets as urgent, normal or low.
{% for ex in examples %}
Ticket: {{ ex.input.ticket }} -> {{ ex.output }}
{% endfor %}
"""

[[messages]]
role = "user"
content = "Ticket ({{ tier }} plan): {{ ticket }}"

[[examples]]
input = { ticket = "The site is down for everyone!" }
output = "urgent"

[[examples]]
input = { ticket = "Please change my invoice address." }
output = "low"
'''

SCENARIO = {
    "rules": [
        {"match": {"prompt_contains": "site is down"}, "respond": {"text": "urgent"}},
        {"match": {"prompt_contains": "invoice"}, "respond": {"text": "normal"}},
        {"match": {"prompt_contains": "Refund"}, "respond": {"text": "normal"}},
    ]
}
"""The simulator gets the first example right and the second wrong (``normal``, not ``low``)."""


def write_prompt(text: str = TICKET, name: str = "classify_ticket", folder: str = "prompts") -> Path:
    path = Path(folder) / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer(parse_scenario(SCENARIO)) as server:
        yield server


def sim_config(base_url: str, **extra: object) -> Config:
    return Config.model_validate(
        {
            "providers": {"sim": {"kind": "sim", "base_url": base_url}},
            "models": {"default": "sim:sim-basic", "other": "sim:sim-other-2024-01-01"},
            **extra,
        }
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database (no tables) on each engine."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'steadyhand.db'}"
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"p{os.getpid()}_{next(_names)}")

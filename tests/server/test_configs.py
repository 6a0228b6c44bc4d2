"""Each configuration a gateway serves is stored once per hash, secrets masked, at start and on reload;
every span names the hash of the configuration that served it. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services import PostgresCluster
from steadyhand import Config
from steadyhand.records import SpanRecord
from steadyhand.server import Gateway, GatewayServer, config_hash
from steadyhand.server.configs import MASK, config_document, document_hash
from steadyhand.sim import SimServer
from steadyhand.store import Store, open_store

PLANTED = ("sk-planted-provider-key", "planted-header-token", "planted-url-password", "planted-db-password")


def _config(sim: SimServer, **models: Any) -> Config:
    """The simulator plus a spare provider and a database URL full of secrets (never stored)."""
    return Config.model_validate(
        {
            "database_url": f"postgresql://app:{PLANTED[3]}@db.internal:5432/steadyhand",
            "providers": {
                "sim": {"kind": "sim", "base_url": sim.base_url},
                "spare": {
                    "kind": "openai_compatible",
                    "base_url": f"http://user:{PLANTED[2]}@10.0.0.9:8000/v1",
                    "api_key": PLANTED[0],
                    "headers": {"Authorization": f"Bearer {PLANTED[1]}", "OpenAI-Beta": "assistants=v2"},
                },
            },
            "models": {"fast": {"target": "sim:sim-basic", "retry": {"attempts": 2}}, **models},
        }
    )


class Spans:
    def __init__(self) -> None:
        self.records: list[SpanRecord] = []

    def record(self, span: SpanRecord) -> None:
        self.records.append(span)

    def of(self, trace_id: str) -> list[SpanRecord]:
        return [s for s in self.records if s.trace_id == trace_id]


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'configs.db'}"
    else:
        cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
        url = cluster.create_database(f"configs{os.getpid()}_{len(tmp_path.name)}_{time.monotonic_ns()}")
    with open_store(url) as s:
        yield s


def test_the_document_masks_every_secret_and_hashes_canonically(sim: SimServer) -> None:
    config = _config(sim)
    document = config_document(config)
    text = json.dumps(document)
    assert not [secret for secret in PLANTED if secret in text]
    spare = document["providers"]["spare"]
    assert spare["api_key"] == MASK and spare["headers"]["Authorization"] == MASK
    assert spare["headers"]["OpenAI-Beta"] == "assistants=v2"  # not a credential: kept
    assert spare["base_url"] == f"http://user:{MASK}@10.0.0.9:8000/v1"
    assert document["database_url"] == f"postgresql://app:{MASK}@db.internal:5432/steadyhand"
    assert config_hash(config) == document_hash(document) and len(config_hash(config)) == 16
    reordered = Config.model_validate(
        {**config.model_dump(), "models": {"echo": "sim:sim-echo", "fast": "sim:sim-basic"}}
    )
    same = Config.model_validate(
        {**config.model_dump(), "models": {"fast": "sim:sim-basic", "echo": "sim:sim-echo"}}
    )
    assert config_hash(reordered) == config_hash(same) != config_hash(config)


def _chat(server: GatewayServer, model: str = "fast") -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(server.base_url + "/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response


def _rows(store: Store, count: int) -> list[str]:
    """The stored hashes once there are ``count`` (a reload stores in the background)."""
    deadline = time.monotonic() + 10
    while True:
        hashes = [c.hash for c in store.list_configs()]
        if len(hashes) >= count or time.monotonic() > deadline:
            return hashes
        time.sleep(0.05)


def test_stored_once_per_hash_at_start_and_on_reload(sim: SimServer, store: Store) -> None:
    spans = Spans()
    first = _config(sim)
    with GatewayServer(Gateway(first, tracer=spans, configs=store)) as server:
        before = _chat(server)
        old = before.headers["x-steadyhand-config-hash"]
        assert _rows(store, 1) == [old] == [config_hash(first)]
        # a replica (or a restart) on the same configuration stores nothing new; nor does a reload to it
        assert not store.save_config(old, config_document(first))
        server.call(lambda: server.gateway.reload(first))
        second = _config(sim, echo="sim:sim-echo")
        server.call(lambda: server.gateway.reload(second))
        after = _chat(server, "echo")
        new = after.headers["x-steadyhand-config-hash"]
        assert new == config_hash(second) != old
        assert sorted(_rows(store, 2)) == sorted([old, new])

    for response, expected in ((before, old), (after, new)):
        served = spans.of(response.headers["x-steadyhand-trace-id"])
        assert {s.kind for s in served} >= {"custom", "llm"}
        gateway_span = next(s for s in served if s.kind == "custom")
        assert gateway_span.attributes["steadyhand.config_hash"] == expected
        assert all(s.tags["gateway.config_hash"] == expected for s in served)  # every span, attempts too
    assert "attempt" in {s.kind for s in spans.of(before.headers["x-steadyhand-trace-id"])}
    documents = {h: store.get_config(h) for h in (old, new)}
    for stored_hash, row in documents.items():
        assert row is not None and document_hash(row.document) == stored_hash  # it re-hashes to its hash
        assert not [secret for secret in PLANTED if secret in json.dumps(row.document)]
    models = {h: row.document["models"] for h, row in documents.items() if row is not None}
    assert "echo" in models[new] and "echo" not in models[old]


def test_a_reload_that_moves_the_database_says_it_takes_a_restart(
    sim: SimServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The tracer and the key store are opened once, at start: a reload cannot move them, and says so
    (without the URL, which holds a password) rather than leaving the operator to find traces missing."""
    first = _config(sim)
    with GatewayServer(Gateway(first)) as server:
        with caplog.at_level("WARNING", logger="steadyhand.server"):
            server.call(lambda: server.gateway.reload(_config(sim, echo="sim:sim-echo")))
            assert not [r for r in caplog.records if "database_url" in r.getMessage()]
            moved = Config.model_validate({**first.model_dump(), "database_url": "sqlite:///elsewhere.db"})
            server.call(lambda: server.gateway.reload(moved))
        warned = [r.getMessage() for r in caplog.records if "database_url" in r.getMessage()]
        assert len(warned) == 1 and "restart" in warned[0] and PLANTED[3] not in warned[0]


def test_a_store_that_fails_does_not_stop_the_gateway(sim: SimServer) -> None:
    class Broken:
        def save_config(self, config_hash: str, document: dict[str, Any]) -> bool:
            raise OSError("the database is down")

    with GatewayServer(Gateway(_config(sim), configs=Broken())) as server:
        _chat(server)
        server.call(lambda: server.gateway.reload(_config(sim, echo="sim:sim-echo")))
        _chat(server, "echo")


def test_replicas_storing_one_configuration_at_once_make_one_row(sim: SimServer, store: Store) -> None:
    """Workers and replicas start together on one file: each inserts, exactly one row (and one winner)."""
    from concurrent.futures import ThreadPoolExecutor

    config = _config(sim)
    document, stored_hash = config_document(config), config_hash(config)
    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(lambda _: store.save_config(stored_hash, document), range(8)))
    assert won.count(True) == 1 and [c.hash for c in store.list_configs()] == [stored_hash]


def test_configs_show_names_an_unknown_hash(tmp_path: Path) -> None:
    import subprocess

    from .serve_process import serve_command, serve_env

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with open_store(url):
        pass
    done = subprocess.run(
        [*serve_command()[:-1], "configs", "show", "0123456789abcdef", "--database-url", url],
        capture_output=True, text=True, timeout=60, env=serve_env(),
    )  # fmt: skip
    assert done.returncode == 1 and "no configuration '0123456789abcdef'" in done.stderr
    assert "steadyhand configs list" in done.stderr

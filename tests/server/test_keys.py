"""Keys, projects and budgets through the gateway over real HTTP: the store keeps only a key's hash,
Bearer and x-api-key both work, and the allow-list, rate and budget hold; traces carry the project
and key id, never the key."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from steadyhand.records import SpanRecord
from steadyhand.server import Gateway, GatewayServer
from steadyhand.server.budgets import KeyAdmission
from steadyhand.server.keys import KeyAuth, new_key
from steadyhand.sim import SimServer
from steadyhand.store import Store, open_store

from .conftest import gateway_config
from .serve_process import serve_command, serve_env

USER: list[Any] = [{"role": "user", "content": "hi"}]


class Spans:
    def __init__(self) -> None:
        self.records: list[SpanRecord] = []

    def record(self, span: SpanRecord) -> None:
        self.records.append(span)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'keys.db'}") as s:
        yield s


def _key(store: Store, project: str, **limits: Any) -> tuple[str, str]:
    key, row = new_key(project, **limits)
    store.create_key(row)
    return key, row.id


@pytest.fixture
def keyed(sim: SimServer, store: Store) -> Iterator[tuple[GatewayServer, Spans]]:
    spans = Spans()
    _key(store, "bootstrap")
    auth = KeyAuth(store, refresh=0.0)
    gateway = Gateway(gateway_config(sim), auth=auth, admission=KeyAdmission(store), tracer=spans)
    with GatewayServer(gateway) as server:
        yield server, spans


def _chat(server: GatewayServer, key: str | None, model: str = "fast", **extra: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    body = {"model": model, "messages": USER, **extra}
    return httpx.post(server.base_url + "/v1/chat/completions", json=body, headers=headers, timeout=10)


def test_the_store_keeps_only_the_hash(store: Store, tmp_path: Path) -> None:
    key, key_id = _key(store, "alpha")
    assert key.startswith("sk-sh-") and len(key) > 40
    [row] = store.list_keys()
    assert row.id == key_id and row.secret_hash != key and key not in row.model_dump_json()
    raw = (tmp_path / "keys.db").read_bytes()
    assert key.encode() not in raw and key.split("-")[-1].encode() not in raw


def test_keys_authenticate_both_header_styles(keyed: tuple[GatewayServer, Spans], store: Store) -> None:
    server, _ = keyed
    key, _ = _key(store, "alpha")
    assert _chat(server, key).status_code == 200
    missing = _chat(server, None)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "invalid_api_key"
    assert _chat(server, key[:-2] + "xx").status_code == 401
    assert _chat(server, "sk-sh-nothing-here").status_code == 401
    with anthropic.Anthropic(base_url=server.base_url, api_key=key, max_retries=0) as ac:
        assert ac.messages.create(model="claude", max_tokens=20, messages=USER).content
    with (
        anthropic.Anthropic(base_url=server.base_url, api_key="wrong", max_retries=0) as ac,
        pytest.raises(anthropic.AuthenticationError),
    ):
        ac.messages.create(model="claude", max_tokens=20, messages=USER)
    with (
        openai.OpenAI(base_url=server.base_url + "/v1", api_key="wrong", max_retries=0) as oc,
        pytest.raises(openai.AuthenticationError),
    ):
        oc.models.list()


def test_allow_list_limits_models_and_their_listing(keyed: tuple[GatewayServer, Spans], store: Store) -> None:
    server, _ = keyed
    key, _ = _key(store, "alpha", models=["echo"])
    assert _chat(server, key, "echo").status_code == 200
    refused = _chat(server, key, "fast")
    assert refused.status_code == 404 and "'echo'" in refused.json()["error"]["message"]
    assert refused.json()["error"]["message"].endswith("(steadyhand): 'echo'.")
    assert _chat(server, key, "sim:sim-basic").status_code == 404
    with openai.OpenAI(base_url=server.base_url + "/v1", api_key=key, max_retries=0) as oc:
        assert [m.id for m in oc.models.list()] == ["echo"]


def test_rpm_is_the_gateways_own_429_with_headers(keyed: tuple[GatewayServer, Spans], store: Store) -> None:
    server, _ = keyed
    key, key_id = _key(store, "alpha", rpm=2)
    assert [_chat(server, key).status_code for _ in range(2)] == [200, 200]
    limited = _chat(server, key)
    assert limited.status_code == 429 and key_id in limited.json()["error"]["message"]
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["x-ratelimit-limit-requests"] == "2"
    assert limited.headers["x-ratelimit-remaining-requests"] == "0"
    assert limited.headers["x-ratelimit-reset-requests"].endswith("s")
    other, _ = _key(store, "beta", rpm=2)
    assert _chat(server, other).status_code == 200  # one key's rate is not another's


def test_budget_reserves_settles_and_then_refuses(keyed: tuple[GatewayServer, Spans], store: Store) -> None:
    server, _ = keyed
    # sim-basic costs $1 / $2 per million tokens: a 1000-token reservation is ~$0.002
    key, key_id = _key(store, "alpha", budget_usd=0.00005, period="month")
    first = _chat(server, key, max_tokens=20)
    assert first.status_code == 200
    for _ in range(50):
        if _chat(server, key, max_tokens=20).status_code == 429:
            break
    refused = _chat(server, key, max_tokens=20)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "insufficient_quota"
    assert "Budget exhausted" in refused.json()["error"]["message"]
    time.sleep(0.3)  # spend is written off the event loop
    from steadyhand.server.budgets import period_start

    spent = store.key_spend(key_id, period_start("month", time.time()))
    assert 0.00005 <= spent < 0.00005 + 0.0001  # over by at most one call's cost


def test_a_failed_call_releases_its_reservation(keyed: tuple[GatewayServer, Spans], store: Store) -> None:
    server, _ = keyed
    key, _ = _key(store, "alpha", budget_usd=0.01, period="day")
    for _ in range(3):
        assert _chat(server, key, "down", max_tokens=1000).status_code == 503
    assert _chat(server, key, max_tokens=1000).status_code == 200


def test_revoked_keys_stop_working(keyed: tuple[GatewayServer, Spans], store: Store) -> None:
    server, _ = keyed
    key, key_id = _key(store, "alpha")
    assert _chat(server, key).status_code == 200
    assert store.revoke_key(key_id) and not store.revoke_key(key_id)
    assert _chat(server, key).status_code == 401


def test_traces_carry_project_and_key_id_never_the_key(
    keyed: tuple[GatewayServer, Spans], store: Store
) -> None:
    server, spans = keyed
    key, key_id = _key(store, "alpha")
    response = _chat(server, key)
    trace_id = response.headers["x-steadyhand-trace-id"]
    time.sleep(0.1)
    mine = [s for s in spans.records if s.trace_id == trace_id]
    assert {s.kind for s in mine} >= {"llm", "custom"}
    assert all(s.project == "alpha" for s in mine)
    config_hash = response.headers["x-steadyhand-config-hash"]
    for span in mine:
        if span.kind in ("llm", "custom"):
            assert span.tags["gateway.key_id"] == key_id and span.tags["gateway.config_hash"] == config_hash
        assert key not in repr(span)
    gateway_span = next(s for s in mine if s.kind == "custom")
    llm = next(s for s in mine if s.kind == "llm")
    assert llm.parent_id == gateway_span.span_id and gateway_span.attributes["steadyhand.key_id"] == key_id


def test_cli_create_list_revoke(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [*serve_command()[:-1], "keys", *args, "--database-url", url]
        return subprocess.run(
            command, capture_output=True, text=True, timeout=60, env=serve_env(), cwd=tmp_path
        )

    made = run(
        "create",
        "--project",
        "alpha",
        "--models",
        "fast,echo",
        "--budget-usd",
        "5",
        "--period",
        "month",
        "--rpm",
        "60",
    )
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert (
        key.startswith("sk-sh-") and len(made.stdout.splitlines()) == 1 and "not shown again" in made.stderr
    )
    listed = run("list")
    assert "alpha" in listed.stdout and "$5/month" in listed.stdout and key not in listed.stdout
    key_id = "key_" + key.removeprefix("sk-sh-").split("-")[0]
    assert key_id in listed.stdout
    assert run("revoke", key_id).returncode == 0
    assert "revoked" in run("list").stdout
    again = run("revoke", key_id)
    assert again.returncode == 1 and "no active key" in again.stderr
    bad = run("create", "--project", "alpha", "--period", "year", "--budget-usd", "1")
    assert bad.returncode == 1 and "--period must be one of" in bad.stderr
    with sqlite3.connect(tmp_path / "cli.db") as db:
        rows = db.execute("SELECT secret_hash FROM api_keys").fetchall()
    assert rows and all(key not in r[0] for r in rows)

"""Record real calls to a cassette, stop the server, replay them: identical answers, no secrets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from steadyhand import AsyncClient, Client
from steadyhand._config import Config
from steadyhand.local import LocalModelServer
from steadyhand.types import ModelResponse

from .conftest import API_KEY, local_config

pytestmark = pytest.mark.real_model

CALLS = [
    [{"role": "user", "content": "Say hello."}],
    [{"role": "user", "content": "Name a colour."}],
]
OPTIONS: dict[str, Any] = {"temperature": 0.8, "seed": 5, "max_tokens": 12}


def _run(config: Config) -> list[ModelResponse]:
    out = []
    with Client(config) as client:
        for messages in CALLS:
            out.append(client.chat(messages, model="local", **OPTIONS))
            with client.stream(messages, model="local", **OPTIONS) as stream:
                out.append(stream.until_done())
    return out


async def _arun(config: Config) -> list[ModelResponse]:
    out = []
    async with AsyncClient(config) as client:
        for messages in CALLS:
            out.append(await client.chat(messages, model="local", **OPTIONS))
            async with client.stream(messages, model="local", **OPTIONS) as stream:
                out.append(await stream.until_done())
    return out


async def test_record_stop_replay(tmp_path: Path) -> None:
    cassette = tmp_path / "local.json"
    # A server of its own: this test stops it, the session's server keeps serving the others.
    with LocalModelServer(startup_timeout=90.0) as server:
        recorded = _run(local_config(server, cassette=str(cassette), cassette_mode="record"))
        url = server.base_url
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/models")  # really gone: replay cannot be reaching it
    config = local_config(server, cassette=str(cassette), cassette_mode="replay")
    expected = [r.model_dump() for r in recorded]
    assert [r.model_dump() for r in _run(config)] == expected
    assert [r.model_dump() for r in await _arun(config)] == expected
    assert [r.usage.estimated for r in recorded] == [False, True, False, True]
    text = cassette.read_text("utf-8")
    assert "SECRET123" not in text and API_KEY not in text
    assert text.count('"key"') == len(CALLS) * 2

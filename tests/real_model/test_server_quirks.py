"""The llama.cpp server's departures from OpenAI, pinned with raw HTTP so the llama_cpp profile is
revisited when llama-cpp-python changes (see docs/local-model.md)."""

from __future__ import annotations

import json

import httpx
import pytest

from steadyhand.local import LocalModelServer

pytestmark = pytest.mark.real_model


def test_quirks_the_llama_cpp_profile_is_built_on(local_server: LocalModelServer) -> None:
    url, model = local_server.base_url, local_server.model_name
    hello = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}
    with httpx.Client(timeout=60, trust_env=False) as http:
        listed = http.get(f"{url}/models").json()["data"]
        assert [m["id"] for m in listed] == [model] and "created" not in listed[0]

        answer = http.post(f"{url}/chat/completions", json=hello).json()
        assert "refusal" not in answer["choices"][0]["message"]

        stream = http.post(
            f"{url}/chat/completions",
            json={**hello, "stream": True, "stream_options": {"include_usage": True}},
        )
        events = [json.loads(line[6:]) for line in stream.text.splitlines() if line.startswith("data: {")]
        assert events and not any(e.get("usage") for e in events)  # include_usage is ignored

        schema = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}
        rejected = http.post(f"{url}/chat/completions", json={**hello, "response_format": schema})
        assert rejected.status_code == 500
        assert rejected.json()["error"]["type"] == "internal_server_error"

        malformed = http.post(
            f"{url}/chat/completions", content=b'{"model":', headers={"content-type": "application/json"}
        )
        assert (malformed.status_code, malformed.headers["content-type"].split(";")[0]) == (500, "text/plain")

    with httpx.Client(timeout=60, trust_env=False) as http:  # the malformed body closed the connection
        assert http.post(f"{url}/embeddings", json={"model": model, "input": "hi"}).status_code == 500
        assert http.post(f"{local_server.url}/v1/messages", json=hello).status_code == 404

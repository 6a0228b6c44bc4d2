"""``POST /v1/responses`` on the simulator: the official ``openai`` SDK (sync and async, streamed and not)
reads it, every body and typed event validates against the contract's Responses schemas, the sim's
models and faults apply, and the shared black-box check still holds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from _contract import schema_errors
from steadyhand.sim import SimServer

from .sim_process import sim_process

CHECKS = Path(__file__).resolve().parents[2] / ".." / "shared" / "checks" / "sim_contract.py"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": False,
}
EVENTS = {
    "response.created": "ResponseCreatedEvent",
    "response.in_progress": "ResponseInProgressEvent",
    "response.output_item.added": "ResponseOutputItemAddedEvent",
    "response.output_item.done": "ResponseOutputItemDoneEvent",
    "response.content_part.added": "ResponseContentPartAddedEvent",
    "response.content_part.done": "ResponseContentPartDoneEvent",
    "response.output_text.delta": "ResponseTextDeltaEvent",
    "response.output_text.done": "ResponseTextDoneEvent",
    "response.function_call_arguments.delta": "ResponseFunctionCallArgumentsDeltaEvent",
    "response.function_call_arguments.done": "ResponseFunctionCallArgumentsDoneEvent",
    "response.completed": "ResponseCompletedEvent",
    "response.incomplete": "ResponseIncompleteEvent",
    "response.failed": "ResponseFailedEvent",
}


def valid(schema: str, doc: Any) -> None:
    errors = schema_errors(schema, doc)
    assert not errors, f"{schema}: {errors[0]}"


def post(sim: SimServer, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(sim.base_url + "/v1/responses", json=body, timeout=10)


def events(sim: SimServer, body: dict[str, Any]) -> tuple[httpx.Response, list[dict[str, Any]]]:
    """The stream's events; each ``event:`` name must equal its data's ``type``."""
    out: list[dict[str, Any]] = []
    with httpx.stream("POST", sim.base_url + "/v1/responses", json={**body, "stream": True}, timeout=10) as r:
        name = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                doc = json.loads(line[6:])
                assert doc["type"] == name
                out.append(doc)
    return r, out


def valid_events(docs: list[dict[str, Any]]) -> None:
    assert [d["sequence_number"] for d in docs] == list(range(len(docs)))
    for doc in docs:
        valid(EVENTS[doc["type"]], doc)
        valid("ResponseStreamEvent", doc)


@pytest.mark.parametrize(
    "body",
    [
        {"model": "gpt-4o", "input": "Say hello.", "instructions": "Be brief."},
        {"model": "sim-tool-call", "input": [{"role": "user", "content": "Weather?"}], "tools": [WEATHER]},
        {"model": "sim-echo", "input": " ".join(["word"] * 40), "max_output_tokens": 16},
        {"model": "gpt-4o", "input": "Plan a trip.", "text": {"format": {
            "type": "json_schema", "name": "trip", "strict": False,
            "schema": {"type": "object", "properties": {"days": {"type": "integer"}}}}}},
        {"model": "sim-content-filter-finish", "input": "Tell me a long story about tea."},
    ],
    ids=["text", "tool", "length", "json", "filtered"],
)  # fmt: skip
def test_every_body_and_event_matches_the_contract(sim: SimServer, body: dict[str, Any]) -> None:
    valid("CreateResponse", body)
    plain = post(sim, body)
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("application/json")
    assert plain.headers["x-request-id"] and plain.headers["x-ratelimit-remaining-requests"]
    doc = plain.json()
    valid("Response", doc)
    streamed, docs = events(sim, body)
    assert streamed.headers["content-type"].startswith("text/event-stream")
    valid_events(docs)
    assert docs[0]["type"] == "response.created" and docs[1]["type"] == "response.in_progress"
    final = docs[-1]["response"]
    assert final["status"] == doc["status"] and docs[-1]["type"] == (
        "response.completed" if doc["status"] == "completed" else "response.incomplete"
    )
    strip = ("id", "created_at", "completed_at")
    ids = ("id", "call_id")  # per request: the tool-call ids are random
    assert [{k: v for k, v in i.items() if k not in ids} for i in final["output"]] == [
        {k: v for k, v in i.items() if k not in ids} for i in doc["output"]
    ]
    assert {k: v for k, v in final.items() if k not in (*strip, "output")} == {
        k: v for k, v in doc.items() if k not in (*strip, "output")
    }


def test_status_and_items_per_model(sim: SimServer) -> None:
    length = post(
        sim, {"model": "sim-echo", "input": " ".join(["word"] * 40), "max_output_tokens": 16}
    ).json()
    assert length["status"] == "incomplete" and length["incomplete_details"] == {
        "reason": "max_output_tokens"
    }
    assert length["usage"]["output_tokens"] == 16
    tool = post(sim, {"model": "sim-tool-call", "input": "Weather?", "tools": [WEATHER]}).json()
    assert [i["type"] for i in tool["output"]] == ["function_call"]
    assert json.loads(tool["output"][0]["arguments"]) == {"city": "example"}
    assert tool["tools"][0]["name"] == "get_weather" and tool["status"] == "completed"


def test_official_sdk_sync(sim: SimServer) -> None:
    client = openai.OpenAI(base_url=sim.base_url + "/v1", api_key="sk-test", max_retries=0)
    answer = client.responses.create(model="sim-echo", input="ping pong", instructions="Echo.")
    assert answer.output_text == "ping pong" and answer.status == "completed"
    assert answer.usage is not None and answer.usage.output_tokens == 2
    assert answer.usage.input_tokens_details.cached_tokens == 0
    stream = client.responses.create(model="sim-echo", input="ping pong", stream=True)
    kinds = [event.type for event in stream]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert kinds.count("response.output_text.delta") == 2
    # the agent loop: the SDK's own output items go back as input, with the tool's result
    first = client.responses.create(model="sim-tool-call", input="Weather in Paris?", tools=[WEATHER])  # type: ignore[list-item]
    call = first.output[0]
    assert call.type == "function_call" and call.name == "get_weather"
    result = {"type": "function_call_output", "call_id": call.call_id, "output": "18C, sunny"}
    history: list[Any] = [{"role": "user", "content": "Weather in Paris?"}, *first.output, result]
    second = client.responses.create(model="sim-tool-call", input=history, tools=[WEATHER])  # type: ignore[list-item]
    assert second.output_text == "The tool returned: 18C, sunny"
    with client.responses.stream(model="sim-tool-call", input="Weather?", tools=[WEATHER]) as s:  # type: ignore[list-item]
        final = s.get_final_response()
    assert final.output[0].type == "function_call" and final.output[0].arguments == '{"city":"example"}'


async def test_official_sdk_async(sim: SimServer) -> None:
    client = openai.AsyncOpenAI(base_url=sim.base_url + "/v1", api_key="sk-test", max_retries=0)
    answer = await client.responses.create(model="gpt-4o", input="hi")
    assert answer.output_text == "Hello! This is the steadyhand simulator answering as gpt-4o."
    stream = await client.responses.create(model="gpt-4o", input="hi", stream=True)
    text = "".join([e.delta async for e in stream if e.type == "response.output_text.delta"])
    assert text == answer.output_text
    async with client.responses.stream(model="sim-echo", input="a b c") as s:
        final = await s.get_final_response()
    assert final.output_text == "a b c"
    await client.close()


def test_faults_and_errors_in_openai_shape(sim: SimServer) -> None:
    client = openai.OpenAI(base_url=sim.base_url + "/v1", api_key="sk-test", max_retries=0)
    with pytest.raises(openai.RateLimitError) as limited:
        client.responses.create(model="sim-429", input="hi")
    assert limited.value.response.headers["retry-after"] == "1"
    valid("ErrorResponse", limited.value.response.json())
    with pytest.raises(openai.InternalServerError):
        client.responses.create(model="sim-500", input="hi", stream=True)
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.create(model="m", input="hi", max_output_tokens=3)
    assert bad.value.body["param"] == "max_output_tokens"  # type: ignore[index]
    garbage = httpx.post(sim.base_url + "/v1/responses", content=b"{not json", timeout=10)
    assert garbage.status_code == 400
    valid("ErrorResponse", garbage.json())
    missing = post(sim, {"model": "m"})
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "input"


def test_a_stream_that_breaks_ends_with_response_failed(sim: SimServer) -> None:
    _, docs = events(sim, {"model": "sim-529-in-stream", "input": "hi"})
    valid_events(docs)
    assert [d["type"] for d in docs] == ["response.created", "response.in_progress", "response.failed"]
    assert docs[-1]["response"]["error"]["code"] == "server_error"
    assert not any(d["type"] == "response.completed" for d in docs)
    client = openai.OpenAI(base_url=sim.base_url + "/v1", api_key="sk-test", max_retries=0)
    for model in ("sim-529-in-stream", "sim-no-done"):  # the SDK never reads either as a finished answer
        with (
            pytest.raises(RuntimeError, match="response.completed"),
            client.responses.stream(model=model, input="hi") as s,
        ):
            s.get_final_response()
    _, cut = events(sim, {"model": "sim-no-done", "input": "hi"})
    assert cut and cut[-1]["type"] != "response.completed"  # the end marker the fault leaves out


def test_shared_black_box_check_still_holds_against_steadyhand_sim() -> None:
    """``../shared/checks/sim_contract.py`` against the CLI simulator (``steadyhand sim``)."""
    with sim_process() as (_, base_url):
        result = subprocess.run(
            [sys.executable, str(CHECKS), base_url], capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0 and "contract ok: 8 of 8" in result.stdout, (
            result.stdout + result.stderr
        )
        # and the Responses API on the same process, through the official SDK
        client = openai.OpenAI(base_url=base_url + "/v1", api_key="sk-test", max_retries=0)
        assert client.responses.create(model="sim-echo", input="still here").output_text == "still here"

"""Anthropic endpoints: ``/v1/messages`` (plain and streamed) and the Anthropic-shaped model list."""

from __future__ import annotations

from typing import Any

from . import anthropic_wire, http
from .actions import Action, Plain
from .answers import Prompt, compose
from .faults import ErrorSpec
from .router import INVALID, MODELS, Router, fault_action, output_fault, plain_answer, stream_answer
from .tokens import content_text, count_messages


def _invalid(message: str) -> ErrorSpec:
    return ErrorSpec(400, "invalid_request_error", message)


def _check(body: Any) -> ErrorSpec | None:
    if body is INVALID:
        return _invalid("There was an issue with your request body: the body is not valid JSON.")
    if not isinstance(body, dict):
        return _invalid("The request body must be a JSON object.")
    for name in ("model", "max_tokens", "messages"):
        if name not in body:
            return _invalid(f"{name}: Field required")
    if not isinstance(body["model"], str):
        return _invalid("model: Input should be a valid string")
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        return _invalid("max_tokens: Input should be a positive integer")
    if not isinstance(body["messages"], list) or not body["messages"]:
        return _invalid("messages: at least one message is required")
    return None


def _tools(body: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(
        (t["name"], t.get("input_schema"))
        for t in body.get("tools") or ()
        if isinstance(t, dict) and isinstance(t.get("name"), str)
    )


def messages(router: Router, body: Any) -> Action:
    """``POST /v1/messages``."""
    problem = _check(body)
    if problem is not None:
        return router.error("anthropic", problem)
    model, msgs = body["model"], body["messages"]
    users = [m for m in msgs if isinstance(m, dict) and m.get("role") == "user"]
    last_user = content_text(users[-1].get("content")) if users else ""
    last_role = msgs[-1].get("role") if isinstance(msgs[-1], dict) else None
    prompt_tokens = count_messages(msgs, system=body.get("system"))
    stream = bool(body.get("stream"))
    decision = router.decide(
        model=model, last_user=last_user, last_role=last_role, prompt_tokens=prompt_tokens, stream=stream
    )
    failed = fault_action(router, "anthropic", decision, model, prompt_tokens)
    if failed is not None:
        return failed
    prompt = Prompt(
        model=model,
        last_user=last_user,
        prompt_tokens=prompt_tokens,
        request_number=decision.request_number,
        seed=router.seed,
        max_tokens=body["max_tokens"],
        tools=_tools(body),
    )
    answer = compose(
        prompt,
        respond=decision.respond,
        output_fault=output_fault(decision),
        default_text=router.scenario.default_text,
    )
    rid = "msg_01" + router.next_id()
    request_id = "req_" + router.next_id()
    hdrs = anthropic_wire.headers(request_id=request_id, limits=decision.limits)
    if not stream:
        payload = http.dumps(anthropic_wire.message_body(answer, rid=rid, model=model))
        head = http.head(200, [("content-type", http.JSON_TYPE), *hdrs], length=len(payload))
        return plain_answer(head + payload, len(head), decision, answer.completion_tokens)
    events = [http.sse_event(n, d) for n, d in anthropic_wire.message_events(answer, rid=rid, model=model)]
    head = http.head(
        200, [("content-type", http.SSE_TYPE), ("cache-control", "no-cache"), *hdrs], length=None
    )
    overloaded = anthropic_wire.error_body("Overloaded", type="overloaded_error", request_id=None)
    return stream_answer(
        head,
        events,
        decision=decision,
        preamble=3,
        done=None,
        error_event=http.sse_event("error", overloaded),
        broken_event=b'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"ty\n\n',
    )


def models(router: Router, name: str | None) -> Action:
    """``GET /v1/models`` with an ``anthropic-version`` header: the Anthropic list shape."""

    def entry(model: str) -> dict[str, Any]:
        return {"type": "model", "id": model, "display_name": model, "created_at": "2024-10-22T00:00:00Z"}

    if name:
        doc: dict[str, Any] = entry(name)
    else:
        data = [entry(m) for m in MODELS]
        doc = {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
    rid = "req_" + router.next_id()
    return Plain(http.response(200, [("content-type", http.JSON_TYPE), ("request-id", rid)], http.dumps(doc)))

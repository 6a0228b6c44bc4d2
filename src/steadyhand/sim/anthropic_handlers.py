"""Anthropic endpoints: ``/v1/messages`` (plain and streamed) and the Anthropic-shaped model list."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidRequest
from ..providers import inbound_anthropic_encode as codec
from ..providers.inbound_anthropic import decode_messages
from ..types import ModelRequest
from . import anthropic_wire, envelope, http
from .actions import Action, Plain
from .answers import Prompt, compose
from .router import MODELS, Router, fault_action, output_fault, plain_answer, stream_answer, wire_body
from .tokens import content_text, count_messages


def _tools(request: ModelRequest) -> tuple[tuple[str, Any], ...]:
    return tuple((t.name, t.parameters) for t in request.tools or ())


def messages(router: Router, body: Any) -> Action:
    """``POST /v1/messages``."""
    try:
        inbound = decode_messages(wire_body(body))
    except InvalidRequest as e:
        return router.error("anthropic", envelope.refused(e, anthropic=True))
    request = inbound.request
    model, msgs = request.model, body["messages"]
    users = [m for m in msgs if isinstance(m, dict) and m.get("role") == "user"]
    last_user = content_text(users[-1].get("content")) if users else ""
    last_role = msgs[-1].get("role") if isinstance(msgs[-1], dict) else None
    prompt_tokens = count_messages(msgs, system=body.get("system"))
    stream = inbound.stream
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
        max_tokens=request.max_tokens,
        tools=_tools(request),
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
    events = [codec.sse_event(n, d) for n, d in anthropic_wire.message_events(answer, rid=rid, model=model)]
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
        error_event=codec.sse_event("error", overloaded),
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

"""Anthropic endpoints: ``/v1/messages`` (plain and streamed), ``/v1/messages/count_tokens`` and the
Anthropic-shaped, paginated model list."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from ..errors import InvalidRequest
from ..providers import inbound_anthropic_encode as codec
from ..providers.inbound_anthropic import decode_messages
from . import anthropic_wire, envelope, http, shaping
from .actions import Action, Plain
from .answers import Prompt, compose
from .conversation import anthropic_conversation
from .faults import ErrorSpec
from .openai_handlers import stop_sequences
from .router import (
    MODELS,
    Router,
    Unparsed,
    fault_action,
    output_fault,
    plain_answer,
    stream_answer,
    tool_specs,
    wire_body,
)
from .tokens import count_messages

DEFAULT_PAGE = 20
MAX_PAGE = 1000


def _invalid(message: str) -> ErrorSpec:
    return ErrorSpec(400, "invalid_request_error", message)


def messages(router: Router, body: Any) -> Action:
    """``POST /v1/messages``."""
    try:
        inbound = decode_messages(wire_body(body))
    except InvalidRequest as e:
        return router.error("anthropic", envelope.refused(e, anthropic=True))
    request = inbound.request
    model, msgs = request.model, body["messages"]
    talk = anthropic_conversation(msgs, system=body.get("system"))
    last_user = talk.last_user
    prompt_tokens = count_messages(msgs, system=body.get("system"))
    stream = inbound.stream
    refused = router.too_long("anthropic", model, prompt_tokens)
    if refused is not None:
        return refused
    decision = router.decide(
        model=model,
        last_user=last_user,
        last_role=talk.last_role,
        prompt_tokens=prompt_tokens,
        stream=stream,
        tool_results=talk.tool_results,
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
        tools=tool_specs(request),
        stop=stop_sequences(body.get("stop_sequences")),
        tool_results=talk.tool_results,
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
    plain = shaping.plain_answer_for_anthropic(answer)
    if not stream:
        doc = shaping.shape_message(anthropic_wire.message_body(plain, rid=rid, model=model), answer)
        payload = http.json_body(doc)
        head = http.head(200, [("content-type", http.JSON_TYPE), *hdrs], length=len(payload))
        return plain_answer(head + payload, len(head), decision, answer.completion_tokens)
    shaped = shaping.shape_events(anthropic_wire.message_events(plain, rid=rid, model=model), answer)
    events = [codec.sse_event(n, d) for n, d in shaped]
    stop = events.pop()  # message_stop: the end marker the missing-end fault leaves out
    head = http.head(
        200, [("content-type", http.SSE_TYPE), ("cache-control", "no-cache"), *hdrs], length=None
    )
    overloaded = anthropic_wire.error_body("Overloaded", type="overloaded_error", request_id=None)
    return stream_answer(
        head,
        events,
        decision=decision,
        preamble=3,
        done=stop,
        error_event=codec.sse_event("error", overloaded),
        broken_event=b'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"ty\n\n',
    )


def count_tokens(router: Router, body: Any) -> Action:
    """``POST /v1/messages/count_tokens``: the ``input_tokens`` a ``/v1/messages`` call would report."""
    if isinstance(body, Unparsed) or not isinstance(body, dict):
        return router.error("anthropic", _invalid("The request body must be a JSON object."))
    for name in ("model", "messages"):
        if name not in body:
            return router.error("anthropic", _invalid(f"{name}: Field required"))
    if not isinstance(body["messages"], list) or not body["messages"]:
        return router.error("anthropic", _invalid("messages: at least one message is required"))
    doc = {"input_tokens": count_messages(body["messages"], system=body.get("system"))}
    rid = "req_" + router.next_id()
    return Plain(
        http.response(200, [("content-type", http.JSON_TYPE), ("request-id", rid)], http.json_body(doc))
    )


def _entry(model: str) -> dict[str, Any]:
    return {"type": "model", "id": model, "display_name": model, "created_at": "2024-10-22T00:00:00Z"}


def _page(query: str) -> list[str] | ErrorSpec:
    """The model ids of one page: ``limit`` (1 to 1000, default 20) after ``after_id`` or before
    ``before_id``."""
    params = {k: v[-1] for k, v in parse_qs(query).items()}
    raw = params.get("limit", str(DEFAULT_PAGE))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        return _invalid(f"limit: Input should be an integer from 1 to {MAX_PAGE}")
    limit, names = int(raw), MODELS
    if "after_id" in params:
        at = names.index(params["after_id"]) + 1 if params["after_id"] in names else len(names)
        return names[at : at + limit]
    if "before_id" in params:
        at = names.index(params["before_id"]) if params["before_id"] in names else 0
        return names[max(at - limit, 0) : at]
    return names[:limit]


def models(router: Router, name: str | None, query: str = "") -> Action:
    """``GET /v1/models`` with an ``anthropic-version`` header: the Anthropic list shape, paginated."""
    if name:
        if not router.knows(name):
            return router.error("anthropic", ErrorSpec(404, "not_found_error", f"model: {name}"))
        doc: dict[str, Any] = _entry(name)
    else:
        page = _page(query)
        if isinstance(page, ErrorSpec):
            return router.error("anthropic", page)
        last = MODELS.index(page[-1]) if page else len(MODELS)
        doc = {
            "data": [_entry(m) for m in page],
            "has_more": last < len(MODELS) - 1,
            "first_id": page[0] if page else None,
            "last_id": page[-1] if page else None,
        }
    rid = "req_" + router.next_id()
    return Plain(
        http.response(200, [("content-type", http.JSON_TYPE), ("request-id", rid)], http.json_body(doc))
    )

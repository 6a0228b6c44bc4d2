"""``POST /v1/responses``: the Responses API, plain and streamed, with the simulator's models and faults.

The body is decoded by the inbound codec (``inbound_openai_responses``), answered by the same engine
as chat completions, and encoded by ``inbound_openai_responses_encode``: the one copy of the format
the gateway shares. Stream faults act on the typed events: ``error-in-stream`` ends the stream with
``response.failed``, ``no-done`` leaves out the final ``response.completed``, ``malformed-sse``
inserts a cut-off event, ``stall``/``cut`` stop after the fault's number of events.
"""

from __future__ import annotations

from typing import Any

from ..providers import inbound_openai_responses_encode as codec
from ..providers.inbound_openai import InboundRequest
from ..providers.inbound_openai_responses import decode_responses
from ..types import ModelRequest
from . import envelope, http
from .actions import Action
from .answers import Answer, Prompt, compose
from .conversation import request_conversation
from .engine import Decision
from .openai_handlers import _decode, _headers, _response_format
from .openai_wire import CALL_PREFIX
from .prompt_json import shape_in
from .router import Router, fault_action, output_fault, plain_answer, stream_answer, tool_specs
from .tokens import MESSAGE_OVERHEAD, count_tokens

PREAMBLE = 2
"""``response.created`` and ``response.in_progress``: stream faults count events after them."""
FAILED_MESSAGE = "The server had an error while processing your request. Sorry about that!"
_BROKEN = b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","item_id":"msg_\n\n'


def prompt_tokens(request: ModelRequest) -> int:
    """Input tokens of a decoded request: each message's text plus the per-message framing."""
    return sum(MESSAGE_OVERHEAD + count_tokens(m.text) for m in request.messages)


def responses(router: Router, body: Any) -> Action:
    """``POST /v1/responses``."""
    inbound = _decode(router, body, decode_responses)
    if not isinstance(inbound, InboundRequest):
        return inbound
    request = inbound.request
    model, talk, tokens = request.model, request_conversation(request.messages), prompt_tokens(request)
    refused = router.too_long("openai", model, tokens)
    if refused is not None:
        return refused
    decision = router.decide(
        model=model,
        last_user=talk.last_user,
        last_role=talk.last_role,
        prompt_tokens=tokens,
        stream=inbound.stream,
        tool_results=talk.tool_results,
    )
    failed = fault_action(router, "openai", decision, model, tokens)
    if failed is not None:
        return failed
    schema, wants_json = _response_format(request)
    prompt = Prompt(
        model=model,
        last_user=talk.last_user,
        prompt_tokens=tokens,
        request_number=decision.request_number,
        seed=router.seed,
        max_tokens=request.max_tokens,
        tools=tool_specs(request),
        json_schema=schema,
        wants_json=wants_json,
        json_hint=shape_in(talk.instructions) if wants_json and schema is None else None,
        tool_results=talk.tool_results,
    )
    answer = compose(
        prompt,
        respond=decision.respond,
        output_fault=output_fault(decision),
        default_text=router.scenario.default_text,
    )
    rid = "resp_" + router.next_id()
    if not inbound.stream:
        response = envelope.response(answer, rid=rid, model=model, call_prefix=CALL_PREFIX)
        doc = codec.response_object(response, request=request, created=router.created)
        payload = http.json_body(doc)
        head = http.head(200, _headers(router, decision, 0.0, http.JSON_TYPE), length=len(payload))
        return plain_answer(head + payload, len(head), decision, answer.completion_tokens)
    return _stream(router, decision, answer, request, rid)


def _encoder(router: Router, request: ModelRequest, rid: str) -> codec.ResponseStreamEncoder:
    return codec.ResponseStreamEncoder(id=rid, model=request.model, created=router.created, request=request)


def _stream(router: Router, decision: Decision, answer: Answer, request: ModelRequest, rid: str) -> Action:
    chunks = envelope.chunks(answer, call_prefix=CALL_PREFIX)
    encoder = _encoder(router, request, rid)
    events = encoder.start()
    for chunk in chunks:
        events += encoder.feed(chunk)
    events += encoder.close()
    head = http.head(200, _headers(router, decision, 0.0, http.SSE_TYPE), length=None)
    framed = [codec.sse_event(e) for e in events]
    done = framed.pop()  # response.completed: the end marker the no-done fault leaves out
    return stream_answer(
        head,
        framed,
        decision=decision,
        preamble=PREAMBLE,
        done=done,
        error_event=codec.sse_event(_failed(router, decision, chunks, request, rid, len(framed))),
        broken_event=_BROKEN,
    )


def _failed(
    router: Router, decision: Decision, chunks: list[Any], request: ModelRequest, rid: str, total: int
) -> dict[str, Any]:
    """The ``response.failed`` event that follows the events sent before an ``error-in-stream`` fault:
    the output so far, and the next sequence number."""
    fault = decision.fault
    sent = min(PREAMBLE + (fault.after_chunks if fault is not None else 0), total)
    encoder = _encoder(router, request, rid)
    count = len(encoder.start())
    for chunk in chunks:
        if count >= sent:
            break
        count += len(encoder.feed(chunk))
    event = encoder.failed(FAILED_MESSAGE)[0]
    event["sequence_number"] = sent
    return event

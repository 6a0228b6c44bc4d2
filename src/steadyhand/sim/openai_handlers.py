"""OpenAI endpoints: validate the request, ask the engine, build the answer as an action."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidRequest
from ..providers import inbound_openai_encode as codec
from ..providers.inbound_openai import OPENAI_STYLE, InboundRequest, decode_chat, decode_completions
from ..types import ModelRequest
from . import envelope, http, openai_wire, shaping
from .actions import Action, Plain
from .answers import Prompt, compose
from .conversation import openai_conversation
from .engine import Decision
from .faults import ErrorSpec
from .prompt_json import shape_in
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
from .tokens import count_messages, count_tokens

DEFAULT_DIMENSIONS = 1536
MAX_EMBEDDING_INPUTS = 2048
"""The real API's limits: inputs per request, tokens per input, tokens summed over a request."""
MAX_EMBEDDING_INPUT_TOKENS = 8192
MAX_EMBEDDING_REQUEST_TOKENS = 300_000
_INPUT_INVALID = (
    "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."
)


def _invalid(message: str, param: str | None = None, code: str | None = None) -> ErrorSpec:
    return ErrorSpec(400, "invalid_request_error", message, code, param)


def _missing(name: str) -> ErrorSpec:
    return _invalid(f"Missing required parameter: '{name}'.", name, "missing_required_parameter")


def _check(body: Any, required: tuple[str, ...]) -> ErrorSpec | None:
    if isinstance(body, Unparsed):
        return _invalid(OPENAI_STYLE.bad_json().message)
    if not isinstance(body, dict):
        return _invalid("The request body must be a JSON object.")
    for name in required:
        if name not in body or body[name] is None:
            return _missing(name)
    if not isinstance(body["model"], str):
        return _invalid("Invalid type for 'model': expected a string.", "model", "invalid_type")
    return None


def _response_format(request: ModelRequest) -> tuple[Any, bool]:
    fmt = request.response_format
    if fmt is None:
        return None, False
    if fmt.type == "json_schema":
        return (fmt.json_schema if fmt.json_schema is not None else {}), True
    return None, fmt.type == "json_object"


def _decode(router: Router, body: Any, decode: Any) -> InboundRequest | Action:
    """The decoded request, or the 400 the real API sends for it (the codec words it)."""
    try:
        inbound: InboundRequest = decode(wire_body(body))
    except InvalidRequest as e:
        return router.error("openai", envelope.refused(e))
    return inbound


def stop_sequences(value: Any) -> tuple[str, ...]:
    """``stop`` (OpenAI: a string or up to 4 strings) or ``stop_sequences`` (Anthropic: a list)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str) and v)
    return ()


def _headers(router: Router, decision: Decision, delay: float, content_type: str) -> list[tuple[str, str]]:
    rid = "req_" + router.next_id()
    hdrs = openai_wire.headers(request_id=rid, processing_ms=int(delay * 1000), limits=decision.limits)
    return [("content-type", content_type), *hdrs]


def chat(router: Router, body: Any) -> Action:
    """``POST /v1/chat/completions``."""
    inbound = _decode(router, body, decode_chat)
    if not isinstance(inbound, InboundRequest):
        return inbound
    request = inbound.request
    model, messages = request.model, body["messages"]
    talk = openai_conversation(messages)
    last_user = talk.last_user
    prompt_tokens = count_messages(messages)
    stream, include_usage = inbound.stream, inbound.include_usage
    refused = router.too_long("openai", model, prompt_tokens)
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
    failed = fault_action(router, "openai", decision, model, prompt_tokens)
    if failed is not None:
        return failed
    schema, wants_json = _response_format(request)
    prompt = Prompt(
        model=model,
        last_user=last_user,
        prompt_tokens=prompt_tokens,
        request_number=decision.request_number,
        seed=router.seed,
        max_tokens=request.max_tokens,
        tools=tool_specs(request),
        json_schema=schema,
        wants_json=wants_json,
        json_hint=shape_in(talk.instructions) if wants_json and schema is None else None,
        stop=stop_sequences(body.get("stop")),
        tool_results=talk.tool_results,
    )
    answer = compose(
        prompt,
        respond=decision.respond,
        output_fault=output_fault(decision),
        default_text=router.scenario.default_text,
    )
    rid, created, shape = "chatcmpl-" + router.next_id(), router.created, shaping.chat_shape(body)
    if not stream:
        doc = openai_wire.chat_body(answer, rid=rid, created=created, model=model)
        payload = http.json_body(shaping.shape_chat(doc, answer, shape))
        head = http.head(200, _headers(router, decision, 0.0, http.JSON_TYPE), length=len(payload))
        return plain_answer(head + payload, len(head), decision, answer.completion_tokens)
    chunks = openai_wire.chat_chunks(
        answer, rid=rid, created=created, model=model, include_usage=include_usage
    )
    chunks = shaping.shape_chunks(chunks, answer, shape, chat=True)
    return _stream(router, decision, [codec.sse_data(c) for c in chunks], rid)


def _stream(router: Router, decision: Decision, events: list[bytes], rid: str) -> Action:
    head = http.head(200, _headers(router, decision, 0.0, http.SSE_TYPE), length=None)
    error = openai_wire.error_body(
        "The server had an error while processing your request. Sorry about that!", type="server_error"
    )
    broken = (
        b'data: {"id":"' + rid.encode() + b'","object":"chat.completion.chunk","choices":[{"delta":{"con\n\n'
    )
    return stream_answer(
        head,
        events,
        decision=decision,
        preamble=1,
        done=codec.SSE_DONE,
        error_event=codec.sse_data(error),
        broken_event=broken,
    )


def completions(router: Router, body: Any) -> Action:
    """``POST /v1/completions`` (legacy text completions)."""
    inbound = _decode(router, body, decode_completions)
    if not isinstance(inbound, InboundRequest):
        return inbound
    request = inbound.request
    model, text = request.model, request.messages[0].text
    prompt_tokens = count_tokens(text)
    stream, include_usage = inbound.stream, inbound.include_usage
    refused = router.too_long("openai", model, prompt_tokens)
    if refused is not None:
        return refused
    decision = router.decide(
        model=model, last_user=text, last_role="user", prompt_tokens=prompt_tokens, stream=stream
    )
    failed = fault_action(router, "openai", decision, model, prompt_tokens)
    if failed is not None:
        return failed
    prompt = Prompt(
        model=model,
        last_user=text,
        prompt_tokens=prompt_tokens,
        request_number=decision.request_number,
        seed=router.seed,
        max_tokens=request.max_tokens,
        stop=stop_sequences(body.get("stop")),
    )
    answer = compose(
        prompt,
        respond=decision.respond,
        output_fault=output_fault(decision),
        default_text=router.scenario.default_text,
    )
    if answer.tool_calls:  # legacy completions cannot call tools; answer with the arguments as text
        answer = compose(prompt, respond=None, output_fault=None, default_text=answer.tool_calls[0].arguments)
    rid, created, shape = "cmpl-" + router.next_id(), router.created, shaping.completion_shape(body)
    if not stream:
        doc = openai_wire.completion_body(answer, rid=rid, created=created, model=model)
        payload = http.json_body(shaping.shape_completion(doc, answer, shape))
        head = http.head(200, _headers(router, decision, 0.0, http.JSON_TYPE), length=len(payload))
        return plain_answer(head + payload, len(head), decision, answer.completion_tokens)
    chunks = openai_wire.completion_chunks(
        answer, rid=rid, created=created, model=model, include_usage=include_usage
    )
    chunks = shaping.shape_chunks(chunks, answer, shape, chat=False)
    return _stream(router, decision, [codec.sse_data(c) for c in chunks], rid)


def _inputs(raw: Any) -> list[str] | None:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw:
        if all(isinstance(x, int) for x in raw):
            return [" ".join(map(str, raw))]
        if all(isinstance(x, str) for x in raw):
            return list(raw)
        if all(isinstance(x, list) and all(isinstance(t, int) for t in x) for x in raw):
            return [" ".join(map(str, x)) for x in raw]
    return None


def _embedding_tokens(texts: list[str]) -> ErrorSpec | int:
    """Tokens of the request, or the real API's error when a limit is passed (before any vector is built)."""
    total = 0
    for text in texts:
        tokens = count_tokens(text)
        if tokens > MAX_EMBEDDING_INPUT_TOKENS:
            message = (
                f"This model's maximum context length is {MAX_EMBEDDING_INPUT_TOKENS} tokens, however you "
                f"requested {tokens} tokens ({tokens} in your prompt; 0 for the completion). "
                "Please reduce your prompt; or completion length."
            )
            return _invalid(message)
        total += tokens
    if total > MAX_EMBEDDING_REQUEST_TOKENS:
        message = f"Requested {total} tokens, max {MAX_EMBEDDING_REQUEST_TOKENS} tokens per request"
        return ErrorSpec(400, "max_tokens_per_request", message, "max_tokens_per_request")
    return total


def embeddings(router: Router, body: Any) -> Action:
    """``POST /v1/embeddings``: deterministic unit vectors; ``dimensions`` and base64 honoured."""
    problem = _check(body, ("model", "input"))
    if problem is not None:
        return router.error("openai", problem)
    model, texts = body["model"], _inputs(body["input"])
    if texts is None:
        return router.error(
            "openai", _invalid("'input' must be a string, an array of strings or of tokens.", "input")
        )
    if len(texts) > MAX_EMBEDDING_INPUTS:
        return router.error("openai", _invalid(_INPUT_INVALID))
    counted = _embedding_tokens(texts)
    if isinstance(counted, ErrorSpec):
        return router.error("openai", counted)
    dims = body.get("dimensions")
    if dims is not None and (not isinstance(dims, int) or not 1 <= dims <= 3072):
        return router.error(
            "openai", _invalid("'dimensions' must be an integer from 1 to 3072.", "dimensions")
        )
    fmt = body.get("encoding_format", "float")
    if fmt not in ("float", "base64"):
        return router.error(
            "openai", _invalid("'encoding_format' must be 'float' or 'base64'.", "encoding_format")
        )
    prompt_tokens = counted
    decision = router.decide(
        model=model, last_user=texts[-1], last_role="user", prompt_tokens=prompt_tokens, stream=False
    )
    failed = fault_action(router, "openai", decision, model, prompt_tokens)
    if failed is not None:
        return failed
    size = dims or (3072 if "large" in model else DEFAULT_DIMENSIONS)
    vectors = [openai_wire.embedding_vector(t, model=model, dimensions=size) for t in texts]
    doc = openai_wire.embedding_body(
        vectors, model=model, prompt_tokens=prompt_tokens, base64_encoded=fmt == "base64"
    )
    payload = http.dumps_items(doc, "data")
    head = http.head(200, _headers(router, decision, 0.0, http.JSON_TYPE), length=len(payload))
    return plain_answer(head + payload, len(head), decision, 0)


def models(router: Router, name: str | None) -> Action:
    """``GET /v1/models`` and ``GET /v1/models/{id}`` (404 ``model_not_found`` for a name it does not know,
    though requests naming it are still answered)."""
    if name and not router.knows(name):
        message = f"The model `{name}` does not exist or you do not have access to it."
        return router.error("openai", ErrorSpec(404, "invalid_request_error", message, "model_not_found"))
    doc = (
        openai_wire.model_object(name, created=router.created)
        if name
        else openai_wire.models_body(MODELS, created=router.created)
    )
    payload = http.json_body(doc)
    rid = "req_" + router.next_id()
    hdrs = [("content-type", http.JSON_TYPE), ("x-request-id", rid), ("openai-processing-ms", "0")]
    return Plain(http.response(200, hdrs, payload))

"""The routes that are not a model call: models, embeddings, health, readiness, metrics and reload.

Embeddings have no normalized type in the library yet, so the gateway forwards them: the body is
checked (``model`` and ``input``), the alias resolved, and the request passed to an OpenAI-format
upstream with the pinned model name; the upstream's answer comes back as it is.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, InvalidRequest, ProviderError
from ..providers._common import json_bytes
from ..providers._inbound_check import parse_body
from ..providers.base import HTTPRequest
from ..providers.inbound_openai import OPENAI_STYLE
from ..providers.registry import wire_for
from ..timeouts import Timeouts
from .auth import Refused
from .http import Request, Responder
from .metrics import CONTENT_TYPE
from .replies import error_reply, exception_reply

if TYPE_CHECKING:
    from .gateway import Gateway

__all__ = ["admin_reload", "embeddings", "healthz", "metrics", "model", "models", "readyz"]

JSON = ("content-type", "application/json")
_EMBEDDING_KEYS = ("model", "input", "encoding_format", "dimensions", "user")


def _json(out: Responder, status: int, doc: Any, headers: list[tuple[str, str]] | None = None) -> None:
    out.send(status, [JSON, *(headers or [])], json_bytes(doc))


def _model_doc(gateway: Gateway, name: str, anthropic: bool) -> dict[str, Any]:
    target = gateway.state.config.all_models()[name].target
    if anthropic:
        return {
            "type": "model",
            "id": name,
            "display_name": f"{name} ({target})",
            "created_at": "1970-01-01T00:00:00Z",
        }
    return {"id": name, "object": "model", "created": 0, "owned_by": target.partition(":")[0]}


def _caller_or_reply(gateway: Gateway, request: Request, out: Responder) -> Any:
    protocol = gateway.protocol_of(request.path, request.headers)
    try:
        return gateway.auth.identify(request.headers, protocol)
    except Refused as refused:
        out.send(refused.reply.status, [JSON, *refused.reply.headers], refused.reply.body)
        return None


async def models(gateway: Gateway, request: Request, out: Responder) -> None:
    """``GET /v1/models``: the aliases this caller may use (Anthropic's list shape for Anthropic clients)."""
    caller = _caller_or_reply(gateway, request, out)
    if caller is None:
        return
    anthropic = "anthropic-version" in request.headers
    names = [m for m in gateway.state.models() if caller.allows(m)]
    data = [_model_doc(gateway, n, anthropic) for n in names]
    if anthropic:
        doc = {"data": data, "has_more": False, "first_id": names[0] if names else None,
               "last_id": names[-1] if names else None}  # fmt: skip
    else:
        doc = {"object": "list", "data": data}
    _json(out, 200, doc)


async def model(gateway: Gateway, request: Request, out: Responder) -> None:
    """``GET /v1/models/{id}``."""
    caller = _caller_or_reply(gateway, request, out)
    if caller is None:
        return
    name = request.path.removeprefix("/v1/models/")
    protocol = gateway.protocol_of(request.path, request.headers)
    if request.method != "GET":
        reply = error_reply(protocol, 405, f"{request.method} is not allowed on {request.path}; use GET")
        out.send(405, [JSON, ("allow", "GET")], reply.body)
        return
    if name not in gateway.state.models() or not caller.allows(name):
        reply = error_reply(protocol, 404, f"The model '{name}' does not exist on this gateway.",
                            param="model", code="model_not_found")  # fmt: skip
        out.send(404, [JSON], reply.body)
        return
    _json(out, 200, _model_doc(gateway, name, protocol == "anthropic"))


def _embedding_body(gateway: Gateway, raw: bytes) -> dict[str, Any]:
    s = OPENAI_STYLE
    obj = parse_body(raw, s, max_bytes=gateway.options.max_body_bytes)
    s.string(s.required(obj, "model"), ("model",))
    value = s.required(obj, "input")
    if isinstance(value, list):
        items = s.array(value, ("input",), minimum=1, maximum=2048)
        for i, item in enumerate(items):
            if isinstance(item, list):
                for j, token in enumerate(item):
                    s.integer(token, ("input", i, j), minimum=0)
            else:
                s.string(item, ("input", i))
    else:
        s.string(value, ("input",))
    for key in obj:
        if key not in _EMBEDDING_KEYS:
            raise s.unsupported((key,), f"'{key}'")
    if obj.get("encoding_format") is not None:
        s.choice(obj["encoding_format"], ("encoding_format",), ("float", "base64"))
    if obj.get("dimensions") is not None:
        s.integer(obj["dimensions"], ("dimensions",), minimum=1)
    return obj


async def embeddings(gateway: Gateway, request: Request, out: Responder) -> None:
    """``POST /v1/embeddings``: checked, resolved and forwarded to an OpenAI-format upstream."""
    caller = _caller_or_reply(gateway, request, out)
    if caller is None:
        return
    state = gateway.acquire()
    try:
        try:
            body = _embedding_body(gateway, request.body)
        except InvalidRequest as exc:
            reply = exception_reply("openai", exc)
            out.send(reply.status, [JSON], reply.body)
            return
        name = body["model"]
        try:
            if not caller.allows(name):
                raise ConfigurationError(name)
            target = state.client.resolve(name)
        except ConfigurationError:
            listed = ", ".join(f"'{m}'" for m in state.models() if caller.allows(m)) or "none"
            reply = error_reply("openai", 404, f"The model '{name}' does not exist or you do not have access "
                                f"to it. Models on this gateway (steadyhand): {listed}.",
                                param="model", code="model_not_found")  # fmt: skip
            out.send(404, [JSON], reply.body)
            return
        config = state.config
        provider = config.all_providers()[target.provider]
        if provider.kind == "anthropic":
            message = f"Model '{name}' is served by an Anthropic upstream, which has no embeddings API; "
            reply = error_reply("openai", 400, message + "use an OpenAI-format model.", param="model")
            out.send(400, [JSON], reply.body)
            return
        try:
            env, sim_url = config.env(), config.sim_url
            wire = wire_for(target.provider, provider, api="chat", env=env, sim_url=sim_url)
            upstream = HTTPRequest(
                "POST", wire.base_url + "/embeddings",  # type: ignore[attr-defined]
                dict(wire.headers), json_bytes({**body, "model": target.model}),  # type: ignore[attr-defined]
            )  # fmt: skip
            answer = await gateway.transport.send(
                upstream, timeouts=provider.timeouts or config.timeouts or Timeouts()
            )
        except (ProviderError, ConfigurationError) as exc:
            reply = exception_reply("openai", exc)
            out.send(reply.status, [JSON, *reply.headers], reply.body)
            return
        status = answer.status_code if answer.status_code < 500 else 502
        out.send(status, [JSON], answer.body)
    finally:
        gateway.release(state)


async def healthz(gateway: Gateway, request: Request, out: Responder) -> None:
    """Alive, and which configuration is serving."""
    state = gateway.state
    _json(out, 200, {"status": "ok", "config_hash": state.hash, "loaded_at": state.loaded_at},
          [("x-steadyhand-config-hash", state.hash)])  # fmt: skip


async def readyz(gateway: Gateway, request: Request, out: Responder) -> None:
    """Ready to serve: config loaded; dependencies that are down make it ``degraded``, not failing."""
    checks: dict[str, str] = {"config": "ok"}
    probe = getattr(gateway.admission, "ready", None)
    if callable(probe):
        checks.update(probe())
    shared = gateway.shared
    if shared.backend != "memory":
        before = shared.stats.unreachable
        await shared.aget_bytes("steadyhand:readyz")
        reachable = shared.stats.unreachable == before
        checks["state"] = "ok" if reachable else f"{shared.backend} unreachable (serving per state_failure)"
    degraded = any(v != "ok" for v in checks.values())
    _json(out, 200, {"status": "degraded" if degraded else "ready", "checks": checks,
                     "config_hash": gateway.state.hash})  # fmt: skip


async def metrics(gateway: Gateway, request: Request, out: Responder) -> None:
    out.send(200, [("content-type", CONTENT_TYPE)], gateway.metrics.render())


async def admin_reload(gateway: Gateway, request: Request, out: Responder) -> None:
    """``POST /admin/reload`` with the admin key: load and check the config file again, then swap."""
    admin = gateway.options.admin_key
    from .auth import presented_key

    given = presented_key(request.headers)
    if admin is None:
        reply = error_reply("openai", 403, "No admin key is configured: start the gateway with "
                            "STEADYHAND_ADMIN_KEY set to use /admin/reload (or send it SIGHUP).")  # fmt: skip
        out.send(403, [JSON], reply.body)
        return
    if given is None or not hmac.compare_digest(given.encode(), admin.encode()):
        reply = error_reply("openai", 401, "The admin key is missing or wrong.", code="invalid_api_key")
        out.send(401, [JSON], reply.body)
        return
    before = gateway.state.hash
    try:
        state = gateway.reload()
    except Exception as exc:  # a bad config is the admin's input: reported, the old one stays
        gateway.metrics.reloads.labels("rejected").inc()
        reply = error_reply(
            "openai", 400, f"The new configuration was rejected; still serving {before}: {exc}"
        )
        out.send(400, [JSON, ("x-steadyhand-config-hash", before)], reply.body)
        return
    gateway.metrics.reloads.labels("ok").inc()
    _json(out, 200, {"status": "reloaded", "previous": before, "config_hash": state.hash},
          [("x-steadyhand-config-hash", state.hash)])  # fmt: skip

"""The gateway part of ``steadyhand demo``: the same policies over HTTP, driven by the official SDK.

A gateway on the demo's simulator, a key with a tiny budget, then: a failover through HTTP (the
route header shows the second attempt answered), a budget refusal in OpenAI's error shape, and a few
lines of ``/metrics``.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from rich.console import Console

from .._config import Config

__all__ = ["gateway_tour"]


def gateway_tour(console: Console, config: Config, workdir: Path) -> int:
    """Section 5 of the demo; returns an exit code (0: every step showed what it should)."""
    try:
        import openai
    except ImportError:  # the SDK is a dev dependency (make install has it)
        console.print("  (skipped: the official `openai` SDK is not installed; `pip install openai`)")
        return 0
    from ..server import Gateway, GatewayServer
    from ..server.budgets import KeyAdmission
    from ..server.keys import KeyAuth, new_key
    from ..store import open_store

    models = {name: alias.model_dump(exclude_none=True) for name, alias in config.models.items()}
    models["flaky"] = {"target": "sim:sim-500", "fallbacks": ["default"], "retry": {"attempts": 1}}
    served = config.model_copy(update={"models": Config.model_validate({"models": models}).models})
    with open_store(config.database_url) as store:
        key, row = new_key("demo", budget_usd=0.0001, period="day")
        store.create_key(row)
        gateway = Gateway(served, auth=KeyAuth(store), admission=KeyAdmission(store, prices=config.prices))
        with (
            GatewayServer(gateway) as server,
            openai.OpenAI(base_url=server.base_url + "/v1", api_key=key, max_retries=0) as client,
        ):
            console.print(f"  gateway at {server.base_url}/v1; key {row.id} (project demo, $0.0001/day)")
            raw = client.chat.completions.with_raw_response.create(
                model="flaky", messages=[{"role": "user", "content": "hi"}], max_tokens=20
            )
            answer = raw.parse().choices[0].message.content or ""
            route = raw.headers["x-steadyhand-route"]
            console.print(f"  openai SDK -> model 'flaky' (a 500 upstream): {answer[:50]!r}")
            console.print(f"  x-steadyhand-route: {route}   x-steadyhand-overhead-ms: "
                          f"{raw.headers['x-steadyhand-overhead-ms']}")  # fmt: skip
            refused = None
            for _ in range(20):
                try:
                    client.chat.completions.create(
                        model="default", messages=[{"role": "user", "content": "again"}], max_tokens=20
                    )
                except openai.RateLimitError as exc:
                    refused = exc
                    break
            if refused is None or "attempts=2" not in route:
                console.print("[red]the gateway did not fail over or refuse the spent budget[/red]")
                return 1
            body = refused.body if isinstance(refused.body, dict) else {}
            message = str(body.get("message", refused.message))
            console.print(f"  budget spent -> {refused.status_code} {refused.code}: {message[:110]}")
            metrics = httpx.get(server.base_url + "/metrics").text
    shown = [
        line for line in metrics.splitlines()
        if line.startswith(("steadyhand_gateway_requests_total{", "steadyhand_gateway_fallbacks_total{",
                            "steadyhand_gateway_rejections_total{"))
    ]  # fmt: skip
    console.print("  /metrics:")
    for line in shown:
        console.print(f"    {line}", highlight=False)
    return 0

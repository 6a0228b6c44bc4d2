# mypy: disable-error-code="comparison-overlap"
# (tuples holding pytest.approx compare by Approx.__eq__, which mypy cannot see)
"""Worked cost examples for every token kind, both providers' conventions, streamed or not."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from steadyhand.errors import ConfigurationError
from steadyhand.providers._common import assemble
from steadyhand.providers.anthropic import AnthropicMessages
from steadyhand.providers.base import Capabilities, HTTPResponse
from steadyhand.providers.openai_chat import OpenAIChat
from steadyhand.tracing import (
    CostUpdate,
    PriceTable,
    SpanRecord,
    Tracer,
    fill_usage,
    load_prices,
    recompute_costs,
)
from steadyhand.types import Message, ModelRequest, Usage

from ._stores import MemoryStore

TABLE = """
version = "test-1"
[models."oa-model"]
input = 2.0
cached_input = 0.5
output = 8.0
[models."an-model"]
input = 3.0
cached_input = 0.30
cache_write = 3.75
output = 15.0
[models."thinker"]
input = 1.0
output = 4.0
reasoning = 10.0
"""


@pytest.fixture
def prices(tmp_path: Path) -> PriceTable:
    path = tmp_path / "prices.toml"
    path.write_text(TABLE)
    return PriceTable.load(path)


def _cost(prices: PriceTable, model: str, usage: Usage) -> float | None:
    span = SpanRecord(name="c", kind="llm", model=model)
    fill_usage(span, usage)
    prices.apply(span)
    return span.cost_usd


# Usage as the real adapters parse it from each provider's wire format, non-streamed and streamed.
_HI = [Message(role="user", content="Hi")]
CAPS = Capabilities()


def _openai(raw: dict[str, Any], *, stream: bool = False) -> Usage:
    """OpenAI chat: the usage object of a response, or of the last chunk of a stream (include_usage)."""
    wire = OpenAIChat(
        base_url="https://api.openai.com/v1/", api_key="sk-test", provider_name="openai", capabilities=CAPS
    )
    request = ModelRequest(model="oa-model", messages=_HI)
    if not stream:
        body = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "oa-model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "ok"},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": raw,
        }
        return wire.parse_response(_json(body), request).usage
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "oa-model"}
    events = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "ok"}}], "usage": None},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": None},
        {**base, "choices": [], "usage": raw},
    ]
    data = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    decoder = wire.stream_decoder(request)
    chunks = decoder.feed(data.encode()) + decoder.close()
    return assemble(chunks, provider="openai", model="oa-model").usage


def _anthropic(raw: dict[str, Any], *, stream_output: list[int] | None = None) -> Usage:
    """Anthropic messages: the response's usage, or (``stream_output``) a stream whose message_start
    carries the input counts and whose message_delta events carry the cumulative output counts."""
    wire = AnthropicMessages(
        base_url="https://api.anthropic.com", api_key="sk-ant", provider_name="anthropic", capabilities=CAPS
    )
    request = ModelRequest(model="an-model", messages=_HI)
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "an-model"}
    if stream_output is None:
        body = {
            **message,
            "content": [{"type": "text", "text": "ok"}],
            "stop_reason": "end_turn",
            "usage": raw,
        }
        return wire.parse_response(_json(body), request).usage
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {**message, "content": [], "usage": raw}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}},
        {"type": "content_block_stop", "index": 0},
        *(
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": n}}
            for n in stream_output
        ),
        {"type": "message_stop"},
    ]
    data = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
    decoder = wire.stream_decoder(request)
    chunks = decoder.feed(data.encode()) + decoder.close()
    return assemble(chunks, provider="anthropic", model="an-model").usage


def _json(body: dict[str, Any]) -> HTTPResponse:
    return HTTPResponse(200, {"content-type": "application/json"}, json.dumps(body).encode())


@pytest.mark.parametrize(
    ("model", "usage", "expected"),
    [
        ("oa-model", Usage(input_tokens=1_000_000, output_tokens=0), 2.0),
        ("oa-model", Usage(input_tokens=0, output_tokens=1_000_000), 8.0),
        ("oa-model", Usage(input_tokens=1_000_000, output_tokens=0, cached_input_tokens=1_000_000), 0.5),
        ("an-model", Usage(input_tokens=1_000_000, output_tokens=0, cache_write_tokens=1_000_000), 3.75),
        # reasoning is inside output: 1M output of which 1M reasoning costs the reasoning price once
        ("thinker", Usage(input_tokens=0, output_tokens=1_000_000, reasoning_tokens=1_000_000), 10.0),
        ("oa-model", Usage(input_tokens=0, output_tokens=1_000_000, reasoning_tokens=400_000), 8.0),
    ],
    ids=["input", "output", "cached-input", "cache-write", "reasoning", "reasoning-at-output-price"],
)
def test_each_token_kind(prices: PriceTable, model: str, usage: Usage, expected: float) -> None:
    assert _cost(prices, model, usage) == pytest.approx(expected)


OPENAI_RAW = {
    "prompt_tokens": 1200,
    "completion_tokens": 300,
    "total_tokens": 1500,
    "prompt_tokens_details": {"cached_tokens": 1000},
    "completion_tokens_details": {"reasoning_tokens": 200},
}


def test_openai_convention_non_streamed_and_streamed(prices: PriceTable) -> None:
    # 200 uncached*2.0 + 1000 cached*0.5 + 100 visible out*8.0 + 200 reasoning*8.0 = 3300 per million
    non_streamed = _openai(OPENAI_RAW)
    # streamed: the one usage chunk before [DONE] carries the same object
    streamed = _openai(OPENAI_RAW, stream=True)
    for usage in (non_streamed, streamed):
        assert (usage.input_tokens, usage.cached_input_tokens, usage.reasoning_tokens) == (1200, 1000, 200)
    assert _cost(prices, "oa-model", non_streamed) == pytest.approx(0.0033)
    assert _cost(prices, "oa-model", streamed) == pytest.approx(0.0033)


def test_reasoning_is_not_charged_twice(prices: PriceTable) -> None:
    usage = Usage(input_tokens=100, output_tokens=300, reasoning_tokens=200)
    # 100*1.0 + 100 visible*4.0 + 200 reasoning*10.0 = 2500 (not 100 + 300*4 + 200*10 = 3300)
    assert _cost(prices, "thinker", usage) == pytest.approx(0.0025)


def test_anthropic_convention_non_streamed_and_streamed(prices: PriceTable) -> None:
    raw = {"input_tokens": 50, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 2000}
    non_streamed = _anthropic({**raw, "output_tokens": 100})
    # streamed: message_start carries input and cache counts, message_delta the cumulative output (last wins)
    streamed = _anthropic({**raw, "output_tokens": 1}, stream_output=[40, 100])
    for usage in (non_streamed, streamed):  # input_tokens includes cache reads and writes, as for OpenAI
        assert (usage.input_tokens, usage.output_tokens) == (3050, 100)
        assert (usage.cached_input_tokens, usage.cache_write_tokens) == (1000, 2000)
    # 50*3.0 + 1000*0.30 + 2000*3.75 + 100*15.0 = 9450 per million
    assert _cost(prices, "an-model", non_streamed) == pytest.approx(0.00945)
    assert _cost(prices, "an-model", streamed) == pytest.approx(0.00945)


def test_zero_usage_costs_zero_and_missing_usage_costs_none(prices: PriceTable) -> None:
    zero = SpanRecord(name="z", kind="llm", model="oa-model")
    fill_usage(zero, Usage(input_tokens=0, output_tokens=0))
    prices.apply(zero)
    assert (zero.cost_usd, zero.price_version) == (0.0, "test-1")
    missing = SpanRecord(name="m", kind="llm", model="oa-model")
    fill_usage(missing, Usage())
    prices.apply(missing)
    assert (missing.cost_usd, missing.price_version) == (None, None)
    assert _cost(prices, "no-such-model", Usage(input_tokens=5, output_tokens=5)) is None


def test_prefix_fallback_prefers_the_longest_match() -> None:
    bundled = load_prices()
    assert bundled.version
    mini, full = bundled.price_for("gpt-4o-mini-2024-07-18"), bundled.price_for("gpt-4o-2024-08-06")
    assert mini is not None and full is not None
    assert mini == bundled.models["gpt-4o-mini"] and full == bundled.models["gpt-4o"]
    assert bundled.price_for("claude-sonnet-4-20250514") == bundled.models["claude-sonnet-4"]
    assert bundled.price_for("llama-3") is None


def test_the_tracer_prices_llm_spans_at_record_time(tmp_path: Path, prices: PriceTable) -> None:
    store = MemoryStore()
    with Tracer(store, spool_dir=tmp_path / "spool", prices=prices, exit_timeout=None) as tracer:
        span = SpanRecord(name="chat", kind="llm", model="oa-model", input_tokens=1000, output_tokens=0)
        tracer.record(span)
        tracer.record(SpanRecord(name="custom", kind="custom", model="oa-model", input_tokens=1000))
        assert tracer.flush(5)
    by_name = {s.name: s for s in store.spans.values()}
    assert by_name["chat"].cost_usd == pytest.approx(0.002) and by_name["chat"].price_version == "test-1"
    assert by_name["custom"].cost_usd is None


def test_tracer_takes_a_price_file_path(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(TABLE.replace("test-1", "from-file"))
    tracer = Tracer(None, spool_dir=None, prices=path, exit_timeout=None)
    assert tracer.prices.version == "from-file"
    tracer.close()


def test_bad_price_tables_say_what_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="version"):
        PriceTable.from_mapping({"models": {}})
    with pytest.raises(ConfigurationError, match="needs numeric"):
        PriceTable.from_mapping({"version": "1", "models": {"x": {"input": 1}}})
    with pytest.raises(ConfigurationError, match="cannot read"):
        PriceTable.load(tmp_path / "missing.toml")


class _CostStore:
    def __init__(self, spans: list[SpanRecord]) -> None:
        self.spans = {s.span_id: s for s in spans}

    def iter_llm_spans(self) -> Iterable[SpanRecord]:
        return list(self.spans.values())

    def update_span_costs(self, updates: Sequence[CostUpdate]) -> int:
        for u in updates:
            self.spans[u.span_id].cost_usd, self.spans[u.span_id].price_version = u.cost_usd, u.price_version
        return len(updates)


def test_recompute_costs_after_a_price_change(prices: PriceTable) -> None:
    old = PriceTable.from_mapping({"version": "old", "models": {"oa-model": {"input": 1.0, "output": 1.0}}})
    spans = [
        SpanRecord(name=f"s{i}", kind="llm", model="oa-model", input_tokens=1000, output_tokens=0)
        for i in range(3)
    ]
    for s in spans:
        old.apply(s)
    spans.append(SpanRecord(name="nousage", kind="llm", model="oa-model"))
    store = _CostStore(spans)
    assert recompute_costs(store, prices, batch_size=2) == 3
    assert [(s.cost_usd, s.price_version) for s in spans[:3]] == [(pytest.approx(0.002), "test-1")] * 3
    assert (spans[3].cost_usd, spans[3].price_version) == (None, None)
    assert recompute_costs(store, prices) == 0

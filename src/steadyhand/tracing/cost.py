"""Cost of an LLM call from a versioned price table (USD per million tokens).

Usage arrives normalized (see :class:`steadyhand.types.Usage`): ``input_tokens`` includes cached and
cache-write tokens, whatever the provider's convention (OpenAI's prompt_tokens already does; Anthropic's
input_tokens does not, and its adapter adds them in). So::

    uncached input = input - cached_input - cache_write
    cost = uncached*input + cached*cached_input + cache_write*cache_write
         + (output - reasoning)*output + reasoning*reasoning

Reasoning tokens are part of ``output_tokens`` (OpenAI's convention) and are priced once, at the
``reasoning`` price (which defaults to the output price), never on top of output.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from ..errors import ConfigurationError
from ..records import CostUpdate, SpanRecord, fill_usage

__all__ = [
    "CostStore",
    "CostUpdate",
    "ModelPrice",
    "PriceTable",
    "fill_usage",
    "load_prices",
    "recompute_costs",
]

_PER = 1_000_000.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelPrice:
    """USD per million tokens of each kind."""

    input: float
    output: float
    cached_input: float
    cache_write: float
    reasoning: float


def _price(model: str, raw: Any) -> ModelPrice:
    if not isinstance(raw, Mapping) or "input" not in raw or "output" not in raw:
        raise ConfigurationError(f"price table: model {model!r} needs numeric `input` and `output` prices")
    try:
        inp, out = float(raw["input"]), float(raw["output"])
        return ModelPrice(
            input=inp,
            output=out,
            cached_input=float(raw.get("cached_input", inp)),
            cache_write=float(raw.get("cache_write", inp)),
            reasoning=float(raw.get("reasoning", out)),
        )
    except (TypeError, ValueError) as e:
        raise ConfigurationError(f"price table: model {model!r} has a non-numeric price: {e}") from e


class PriceTable:
    """Per-model prices with a ``version`` string that is stamped on every span it priced."""

    def __init__(self, *, version: str, models: Mapping[str, ModelPrice]) -> None:
        self.version = version
        self.models = dict(models)
        self._by_length = sorted(self.models, key=len, reverse=True)
        self._resolved: dict[str, ModelPrice | None] = {}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> PriceTable:
        """Build from parsed TOML: ``version = "..."`` and ``[models."name"]`` tables."""
        version = data.get("version")
        if not isinstance(version, str) or not version:
            raise ConfigurationError('price table needs a top-level `version = "..."` string')
        models = data.get("models", {})
        if not isinstance(models, Mapping):
            raise ConfigurationError('price table: `models` must be a table of `[models."name"]` entries')
        return cls(version=version, models={name: _price(name, raw) for name, raw in models.items()})

    @classmethod
    def load(cls, path: str | Path) -> PriceTable:
        """Read a TOML price table file."""
        try:
            with open(path, "rb") as f:
                return cls.from_mapping(tomllib.load(f))
        except OSError as e:
            raise ConfigurationError(f"cannot read price table {path}: {e}") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigurationError(f"price table {path} is not valid TOML: {e}") from e

    @classmethod
    def bundled(cls) -> PriceTable:
        """The table shipped with steadyhand (``steadyhand/tracing/prices.toml``)."""
        text = resources.files(__package__).joinpath("prices.toml").read_text()
        return cls.from_mapping(tomllib.loads(text))

    def price_for(self, model: str) -> ModelPrice | None:
        """The exact name's price, else the longest key that prefixes ``model``, else ``None``."""
        try:
            return self._resolved[model]
        except KeyError:
            pass
        found = self.models.get(model)
        if found is None:
            found = next((self.models[k] for k in self._by_length if model.startswith(k)), None)
        if len(self._resolved) < 4096:
            self._resolved[model] = found
        return found

    def cost(
        self,
        model: str | None,
        *,
        input_tokens: int | None,
        output_tokens: int | None,
        cached_input_tokens: int | None = None,
        cache_write_tokens: int | None = None,
        reasoning_tokens: int | None = None,
    ) -> float | None:
        """USD for one call; ``None`` when usage is missing or the model has no price (zero usage: 0.0)."""
        if model is None or (input_tokens is None and output_tokens is None):
            return None
        price = self.price_for(model)
        if price is None:
            return None
        inp, out = input_tokens or 0, output_tokens or 0
        cached, written, reasoning = cached_input_tokens or 0, cache_write_tokens or 0, reasoning_tokens or 0
        uncached = max(inp - cached - written, 0)
        visible_out = max(out - reasoning, 0)
        total = (
            uncached * price.input
            + cached * price.cached_input
            + written * price.cache_write
            + visible_out * price.output
            + min(reasoning, out) * price.reasoning
        )
        return total / _PER

    def span_cost(self, span: SpanRecord) -> tuple[float | None, str | None]:
        """``(cost_usd, price_version)`` for the span's model and token counts; both None if unpriced."""
        cost = self.cost(
            span.model,
            input_tokens=span.input_tokens,
            output_tokens=span.output_tokens,
            cached_input_tokens=span.cached_input_tokens,
            cache_write_tokens=span.cache_write_tokens,
            reasoning_tokens=span.reasoning_tokens,
        )
        return cost, None if cost is None else self.version

    def apply(self, span: SpanRecord) -> None:
        """Fill ``cost_usd`` and ``price_version`` from the span's model and token counts."""
        span.cost_usd, span.price_version = self.span_cost(span)


def load_prices(source: PriceTable | str | Path | None = None) -> PriceTable:
    """A table from a path, the table itself, or the bundled one when ``None``."""
    if source is None:
        return PriceTable.bundled()
    if isinstance(source, PriceTable):
        return source
    return PriceTable.load(source)


class CostStore(Protocol):
    """What ``recompute_costs`` needs from a store: read LLM spans, write back their costs."""

    def iter_llm_spans(self) -> Iterable[SpanRecord]: ...

    def update_span_costs(self, updates: Sequence[CostUpdate]) -> int: ...


def recompute_costs(store: CostStore, prices: PriceTable, *, batch_size: int = 500) -> int:
    """Re-price every LLM span with ``prices`` (e.g. after a price change); returns spans updated."""
    updated = 0
    batch: list[CostUpdate] = []
    for span in store.iter_llm_spans():
        cost, version = prices.span_cost(span)
        if (cost, version) != (span.cost_usd, span.price_version):
            batch.append(CostUpdate(span.span_id, cost, version))
        if len(batch) >= batch_size:
            updated += store.update_span_costs(batch)
            batch = []
    if batch:
        updated += store.update_span_costs(batch)
    return updated

"""What the store's public API returns: plain pydantic models, never ORM rows."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "ConfigView",
    "LabelMoveView",
    "PromptLabelView",
    "PromptSummary",
    "PromptVersionView",
    "PruneResult",
    "SpanNode",
    "SpanView",
    "TailPage",
    "TraceDetail",
    "TracePage",
    "TraceSummary",
]


class _View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SpanView(_View):
    """A stored span: every field of a SpanRecord, with the request's blobs resolved."""

    seq: int
    """Ingestion order; ``tail`` follows it."""
    span_id: str
    trace_id: str
    parent_id: str | None
    project: str
    name: str
    kind: str
    start_time: float
    end_time: float | None
    first_token_time: float | None
    status: str
    error_type: str | None
    error_message: str | None
    attributes: dict[str, Any]
    tags: dict[str, str]
    model_alias: str | None
    provider: str | None
    model: str | None
    response_model: str | None
    prompt_version: str | None
    request: dict[str, Any] | None
    response: dict[str, Any] | None
    finish_reason: str | None
    input_tokens: int | None
    output_tokens: int | None
    cached_input_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    usage_estimated: bool
    usage_raw: dict[str, Any] | None
    cost_usd: float | None
    price_version: str | None

    @property
    def duration_ms(self) -> float | None:
        return None if self.end_time is None else (self.end_time - self.start_time) * 1000.0

    @property
    def ttft_ms(self) -> float | None:
        return None if self.first_token_time is None else (self.first_token_time - self.start_time) * 1000.0


class SpanNode(_View):
    """A span and its children, ordered by start time."""

    span: SpanView
    children: list[SpanNode]


class TraceSummary(_View):
    """One row of ``list_traces``: the summary kept up to date on ingest."""

    trace_id: str
    project: str
    start_time: float
    end_time: float | None
    root_span_name: str | None
    status: str
    tags: dict[str, str]
    span_count: int
    error_count: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    """The sum of the priced spans' costs: a lower bound when ``unpriced_spans`` is not zero."""
    unpriced_spans: int = 0
    """LLM spans with usage but no price (a model missing from the price table): their cost is unknown."""
    estimated_spans: int = 0
    """LLM spans whose token counts are estimates (a stream without usage), so the totals are too."""

    @property
    def duration_ms(self) -> float | None:
        return None if self.end_time is None else (self.end_time - self.start_time) * 1000.0


class TracePage(_View):
    """A page of traces, newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""

    items: list[TraceSummary]
    next_cursor: str | None


class TraceDetail(_View):
    """A trace with its spans as a tree (roots: spans without a parent, or whose parent is missing)."""

    trace: TraceSummary
    roots: list[SpanNode]
    spans: list[SpanView]
    """The same spans, flat, by start time."""


class TailPage(_View):
    """Spans ingested after a cursor; pass ``cursor`` back to follow."""

    spans: list[SpanView]
    cursor: int


class PruneResult(_View):
    traces: int
    spans: int
    blobs: int
    archive: str | None


class ConfigView(_View):
    """A configuration a gateway served: its hash, the document (secrets masked), when first stored."""

    hash: str
    document: dict[str, Any]
    created_at: float


class ApiKeyView(_View):
    """One gateway API key as stored: never the key, only its hash."""

    id: str
    project: str
    secret_hash: str
    models: list[str] | None = None
    rpm: int | None = None
    budget_usd: float | None = None
    period: str | None = None
    created_at: float
    revoked_at: float | None = None


class PromptVersionView(_View):
    """A kept prompt version: its whole definition (``Prompt.to_data()``), when and by whom it was kept."""

    name: str
    version: str
    definition: dict[str, Any]
    created_at: float
    created_by: str


class PromptLabelView(_View):
    """Where a label points now, since when and who moved it there."""

    name: str
    label: str
    version: str
    moved_at: float
    moved_by: str


class LabelMoveView(_View):
    """One move of a label; ``from_version`` is ``None`` when the label was new."""

    seq: int
    name: str
    label: str
    from_version: str | None
    to_version: str
    moved_at: float
    moved_by: str
    note: str | None


class PromptSummary(_View):
    """One prompt in the registry: its number of versions, the newest, and its labels."""

    name: str
    versions: int
    latest: str
    latest_at: float
    labels: dict[str, str]

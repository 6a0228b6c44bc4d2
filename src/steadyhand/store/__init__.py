"""The trace store: spans and traces in SQLite (embedded default) or PostgreSQL.

The only package that imports SQLAlchemy and Alembic. Everything public returns plain pydantic models.
"""

from ._prompts import PromptTables
from ._store import DEFAULT_QUERY_TIMEOUT, Store, open_store
from .views import (
    ApiKeyView,
    ConfigView,
    LabelMoveView,
    PromptLabelView,
    PromptSummary,
    PromptVersionView,
    PruneResult,
    SpanNode,
    SpanView,
    TailPage,
    TraceDetail,
    TracePage,
    TraceSummary,
)

__all__ = [
    "ApiKeyView",
    "ConfigView",
    "DEFAULT_QUERY_TIMEOUT",
    "LabelMoveView",
    "PromptLabelView",
    "PromptSummary",
    "PromptTables",
    "PromptVersionView",
    "PruneResult",
    "SpanNode",
    "SpanView",
    "Store",
    "TailPage",
    "TraceDetail",
    "TracePage",
    "TraceSummary",
    "open_store",
]

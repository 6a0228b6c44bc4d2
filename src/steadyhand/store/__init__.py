"""The trace store: spans and traces in SQLite (embedded default) or PostgreSQL.

The only package that imports SQLAlchemy and Alembic. Everything public returns plain pydantic models.
"""

from ._store import DEFAULT_QUERY_TIMEOUT, Store, open_store
from .views import ApiKeyView, PruneResult, SpanNode, SpanView, TailPage, TraceDetail, TracePage, TraceSummary

__all__ = [
    "ApiKeyView",
    "DEFAULT_QUERY_TIMEOUT",
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

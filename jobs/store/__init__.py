"""The worker's state store (SQLAlchemy Core on SQLite or PostgreSQL)."""

from jobs.store.schema import metadata
from jobs.store.store import (
    BackfillState,
    CursorState,
    FailureRecord,
    HistoryEntry,
    Store,
    StoredLead,
    contact_details,
)

__all__ = [
    "BackfillState",
    "CursorState",
    "FailureRecord",
    "HistoryEntry",
    "Store",
    "StoredLead",
    "contact_details",
    "metadata",
]

"""The durable queue of contacts to rescore, fed by webhooks and drained by the daemon.

The receiver calls `enqueue`, and `record_delivery` for duplicate and replay
checks, inside one transaction per request. The daemon's drain job calls
`claim_batch`, then `mark_done` or `mark_failed` for each claimed row. Every
function takes an open SQLAlchemy connection and leaves committing to the caller.

A contact has at most one queue row. Its state moves pending → processing →
done, back to pending when a new event arrives, or, after failures, to pending
with a later `next_attempt_at` and finally to failed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from jobs.webhooks.tables import (
    STATUS_DONE,
    STATUS_FAILED,
    STATUS_PENDING,
    STATUS_PROCESSING,
    webhook_contact_tags,
    webhook_deliveries,
    webhook_queue,
)

# A row claimed this long ago whose drain run never finished (the process
# died) is handed out again.
DEFAULT_CLAIM_LEASE = timedelta(minutes=10)
DEFAULT_MAX_ATTEMPTS = 5
RETRY_BASE_DELAY = timedelta(seconds=30)
RETRY_MAX_DELAY = timedelta(minutes=30)
_MAX_ERROR_CHARS = 500
_MAX_KINDS_CHARS = 500


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One CRM event reduced to what the worker needs: whose score to recompute."""

    account: str  # account key "<crm>:<account id>"
    contact_id: str
    kind: str  # CRM event name, such as "contact.propertyChange" or "ContactUpdate"
    occurred_at: datetime | None = None  # the CRM's time of the change


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    """A queue row handed to the drain job: a contact to fetch and rescore."""

    id: int
    account: str
    contact_id: str
    event_kinds: tuple[str, ...]
    last_kind: str
    occurred_at: datetime | None
    received_at: datetime
    attempts: int

    @property
    def event_kind(self) -> str:
        return self.last_kind


@dataclass(frozen=True, slots=True)
class QueueStats:
    pending: int
    processing: int
    failed: int
    oldest_pending_at: datetime | None


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _insert_ignoring_conflicts(conn: sa.Connection, table: sa.Table, values: dict) -> bool:
    """Insert one row unless its primary or unique key exists; return True if inserted."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        statement = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    elif dialect == "postgresql":
        statement = postgresql.insert(table).values(**values).on_conflict_do_nothing()
    else:
        raise NotImplementedError(
            f"the webhook queue supports SQLite and PostgreSQL, not {dialect}"
        )
    # RETURNING distinguishes an inserted row from a skipped one on both
    # backends, because psycopg reports rowcount -1 for either.
    key_column = next(iter(table.primary_key.columns))
    return conn.execute(statement.returning(key_column)).first() is not None


def record_delivery(conn: sa.Connection, key: str, account: str, *, now: datetime) -> bool:
    """Remember a delivery key; return False when it was already recorded (a duplicate)."""
    return _insert_ignoring_conflicts(
        conn,
        webhook_deliveries,
        {"delivery_key": key[:400], "account": account, "received_at": now},
    )


def _merge_kinds(existing: str, new: Iterable[str]) -> str:
    kinds = [kind for kind in existing.split(",") if kind]
    for kind in new:
        if kind not in kinds:
            kinds.append(kind)
    merged = ",".join(kinds)
    # Keep the newest kinds when a busy contact collects more than fit.
    while len(merged) > _MAX_KINDS_CHARS and len(kinds) > 1:
        kinds.pop(0)
        merged = ",".join(kinds)
    return merged[:_MAX_KINDS_CHARS]


def _latest(events: Sequence[WebhookEvent]) -> WebhookEvent:
    """Return the event that happened last; events without a time count as oldest."""
    floor = datetime.min.replace(tzinfo=UTC)
    return max(events, key=lambda event: event.occurred_at or floor)


def enqueue(conn: sa.Connection, events: Iterable[WebhookEvent], *, now: datetime) -> int:
    """Queue the contacts of `events`, one row per contact; return how many contacts.

    Events may come in any order: each row keeps the latest `occurred_at` and
    its kind, whatever order the events arrived in. A contact whose row is
    being processed is marked for a rerun, so the change is never lost.
    """
    by_contact: dict[tuple[str, str], list[WebhookEvent]] = {}
    for event in events:
        by_contact.setdefault((event.account, event.contact_id), []).append(event)

    # Sorted keys give concurrent requests the same lock order on PostgreSQL.
    for account, contact_id in sorted(by_contact):
        contact_events = by_contact[(account, contact_id)]
        _enqueue_contact(conn, account, contact_id, contact_events, now)
    return len(by_contact)


def _enqueue_contact(
    conn: sa.Connection,
    account: str,
    contact_id: str,
    events: Sequence[WebhookEvent],
    now: datetime,
) -> None:
    ordered = sorted(events, key=lambda event: event.occurred_at or now)
    latest = _latest(ordered)
    kinds = [event.kind for event in ordered]

    inserted = _insert_ignoring_conflicts(
        conn,
        webhook_queue,
        {
            "account": account,
            "contact_id": contact_id,
            "status": STATUS_PENDING,
            "event_kinds": _merge_kinds("", kinds),
            "last_kind": latest.kind,
            "occurred_at": latest.occurred_at,
            "received_at": now,
            "attempts": 0,
            "next_attempt_at": None,
            "rerun": False,
            "updated_at": now,
        },
    )
    if inserted:
        return

    key = (webhook_queue.c.account == account) & (webhook_queue.c.contact_id == contact_id)
    select = sa.select(webhook_queue).where(key)
    if conn.dialect.name == "postgresql":
        select = select.with_for_update()
    row = conn.execute(select).one()

    changes: dict[str, object] = {
        "event_kinds": _merge_kinds(row.event_kinds, kinds),
        "updated_at": now,
    }
    if latest.occurred_at is not None and (
        row.occurred_at is None or latest.occurred_at >= row.occurred_at
    ):
        changes["occurred_at"] = latest.occurred_at
        changes["last_kind"] = latest.kind

    if row.status == STATUS_PROCESSING:
        changes["rerun"] = True
    elif row.status in (STATUS_DONE, STATUS_FAILED):
        changes.update(
            status=STATUS_PENDING,
            received_at=now,
            attempts=0,
            next_attempt_at=None,
            last_error=None,
            event_kinds=_merge_kinds("", kinds),
            last_kind=latest.kind,
            occurred_at=latest.occurred_at or row.occurred_at,
        )
    # A pending row keeps its received_at and any retry delay, so the oldest
    # waiting event sets its place in line and a CRM outage is not hammered.
    conn.execute(sa.update(webhook_queue).where(webhook_queue.c.id == row.id).values(**changes))


def claim_batch(
    conn: sa.Connection,
    limit: int,
    *,
    now: datetime | None = None,
    lease: timedelta = DEFAULT_CLAIM_LEASE,
) -> list[ClaimedEvent]:
    """Claim up to `limit` due rows, oldest first, and mark them processing.

    Due rows are pending rows whose retry time has come, and rows claimed more
    than `lease` ago by a run that never finished.
    """
    now = now or _utcnow()
    queue = webhook_queue.c
    due = (
        (queue.status == STATUS_PENDING)
        & (queue.next_attempt_at.is_(None) | (queue.next_attempt_at <= now))
    ) | ((queue.status == STATUS_PROCESSING) & (queue.claimed_at < now - lease))
    select = sa.select(webhook_queue).where(due).order_by(queue.received_at, queue.id).limit(limit)
    if conn.dialect.name == "postgresql":
        select = select.with_for_update(skip_locked=True)

    claimed: list[ClaimedEvent] = []
    for row in conn.execute(select).all():
        result = conn.execute(
            sa.update(webhook_queue)
            .where((queue.id == row.id) & (queue.status == row.status))
            .values(status=STATUS_PROCESSING, claimed_at=now, rerun=False, updated_at=now)
        )
        if result.rowcount != 1:
            continue  # another drain run took it between the select and the update
        claimed.append(
            ClaimedEvent(
                id=row.id,
                account=row.account,
                contact_id=row.contact_id,
                event_kinds=tuple(kind for kind in row.event_kinds.split(",") if kind),
                last_kind=row.last_kind,
                occurred_at=row.occurred_at,
                received_at=row.received_at,
                attempts=row.attempts,
            )
        )
    return claimed


def mark_done(conn: sa.Connection, event: ClaimedEvent, *, now: datetime | None = None) -> None:
    """Finish a claimed row; requeue it at once when an event arrived meanwhile."""
    now = now or _utcnow()
    queue = webhook_queue.c
    row = conn.execute(sa.select(queue.rerun).where(queue.id == event.id)).one_or_none()
    if row is None:
        return
    if row.rerun:
        values = {"status": STATUS_PENDING, "rerun": False, "attempts": 0, "next_attempt_at": None}
    else:
        values = {"status": STATUS_DONE, "event_kinds": "", "attempts": 0, "last_error": None}
    conn.execute(
        sa.update(webhook_queue)
        .where(queue.id == event.id)
        .values(processed_at=now, claimed_at=None, updated_at=now, **values)
    )


def retry_delay(attempts: int) -> timedelta:
    """Return the wait before attempt `attempts + 1`: 30 s doubling, capped at 30 min."""
    delay = RETRY_BASE_DELAY * (2 ** max(attempts - 1, 0))
    return min(delay, RETRY_MAX_DELAY)


def mark_failed(
    conn: sa.Connection,
    event: ClaimedEvent,
    error: str,
    *,
    now: datetime | None = None,
    retry: bool = True,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> str:
    """Record a failed attempt; schedule a retry or give up. Return the new status.

    With `retry=False`, or after `max_attempts` attempts, the row becomes
    failed; the polling sync still picks the contact up on its next change.
    A row that received a new event while it was processing is not given up,
    because that event is a new reason to read the contact.
    """
    now = now or _utcnow()
    attempts = event.attempts + 1
    rerun = conn.execute(
        sa.select(webhook_queue.c.rerun).where(webhook_queue.c.id == event.id)
    ).scalar_one_or_none()
    if rerun:
        status = STATUS_PENDING
        attempts = 0
        next_attempt_at: datetime | None = now + retry_delay(1)
    elif retry and attempts < max_attempts:
        status = STATUS_PENDING
        next_attempt_at = now + retry_delay(attempts)
    else:
        status = STATUS_FAILED
        next_attempt_at = None
    conn.execute(
        sa.update(webhook_queue)
        .where(webhook_queue.c.id == event.id)
        .values(
            status=status,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            last_error=error[:_MAX_ERROR_CHARS],
            claimed_at=None,
            rerun=False,
            updated_at=now,
        )
    )
    return status


def queue_stats(conn: sa.Connection) -> QueueStats:
    """Count rows by state and find the oldest pending arrival, for health checks."""
    queue = webhook_queue.c
    counts = dict(
        conn.execute(sa.select(queue.status, sa.func.count()).group_by(queue.status)).all()
    )
    oldest = conn.execute(
        sa.select(sa.func.min(queue.received_at)).where(queue.status == STATUS_PENDING)
    ).scalar_one()
    return QueueStats(
        pending=counts.get(STATUS_PENDING, 0),
        processing=counts.get(STATUS_PROCESSING, 0),
        failed=counts.get(STATUS_FAILED, 0),
        oldest_pending_at=oldest,
    )


def prune(
    conn: sa.Connection,
    *,
    now: datetime | None = None,
    deliveries_older_than: timedelta = timedelta(days=2),
    done_older_than: timedelta = timedelta(days=7),
) -> tuple[int, int]:
    """Delete old delivery keys and finished rows; return (deliveries, rows) deleted.

    HubSpot retries a delivery for up to 24 hours, so delivery keys are kept
    for two days by default to catch every duplicate.
    """
    now = now or _utcnow()
    deliveries = conn.execute(
        sa.delete(webhook_deliveries).where(
            webhook_deliveries.c.received_at < now - deliveries_older_than
        )
    ).rowcount
    rows = conn.execute(
        sa.delete(webhook_queue).where(
            (webhook_queue.c.status == STATUS_DONE)
            & (webhook_queue.c.processed_at < now - done_older_than)
        )
    ).rowcount
    return deliveries, rows


def read_tags(conn: sa.Connection, account: str, contact_id: str) -> frozenset[str] | None:
    """Return the tags last seen for a GoHighLevel contact, or None if never seen."""
    tags = webhook_contact_tags.c
    stored = conn.execute(
        sa.select(tags.tags).where((tags.account == account) & (tags.contact_id == contact_id))
    ).scalar_one_or_none()
    if stored is None:
        return None
    return frozenset(json.loads(stored))


def write_tags(
    conn: sa.Connection, account: str, contact_id: str, tags: Iterable[str], *, now: datetime
) -> None:
    """Store the full tag list a GoHighLevel event carried for a contact."""
    document = json.dumps(sorted({tag.strip().lower() for tag in tags}))
    values = {"account": account, "contact_id": contact_id, "tags": document, "updated_at": now}
    if not _insert_ignoring_conflicts(conn, webhook_contact_tags, values):
        table = webhook_contact_tags.c
        conn.execute(
            sa.update(webhook_contact_tags)
            .where((table.account == account) & (table.contact_id == contact_id))
            .values(tags=document, updated_at=now)
        )


def list_rows(
    conn: sa.Connection,
    *,
    status: str | None = None,
    account: str | None = None,
    limit: int = 50,
) -> list[sa.Row]:
    """Return queue rows, most recently changed first, for `leadscore webhooks`."""
    select = sa.select(webhook_queue).order_by(
        webhook_queue.c.updated_at.desc(), webhook_queue.c.id.desc()
    )
    if status is not None:
        select = select.where(webhook_queue.c.status == status)
    if account is not None:
        select = select.where(webhook_queue.c.account == account)
    return list(conn.execute(select.limit(limit)).all())


def requeue_failed(
    conn: sa.Connection, *, account: str | None = None, now: datetime | None = None
) -> int:
    """Put failed rows back to pending with fresh attempts; return how many rows."""
    now = now or _utcnow()
    condition = webhook_queue.c.status == STATUS_FAILED
    if account is not None:
        condition = condition & (webhook_queue.c.account == account)
    return conn.execute(
        sa.update(webhook_queue)
        .where(condition)
        .values(
            status=STATUS_PENDING,
            attempts=0,
            next_attempt_at=None,
            received_at=now,
            updated_at=now,
        )
    ).rowcount

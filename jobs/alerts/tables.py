"""The alert outbox: one row per alert, one row per delivery of an alert to a channel.

An alert row is written inside the sync's transaction, before anything is
sent. Deliveries move through these statuses::

    held ──(opening or digest time)──▶ pending ──claim──▶ sending ──▶ sent
                                          ▲                  │
                                          └──(retry later)───┤
                                                             └──▶ failed (retry limit)

A delivery in `sending` whose lease has ended belongs to a process that died
before recording the result. The next run claims it again and sends it once
more with the same idempotency key.
"""

from __future__ import annotations

import sqlalchemy as sa

from jobs.store.migrations import Migration
from jobs.store.schema import UtcDateTime, metadata

COMPONENT = "alerts"


class AlertKind:
    LEAD = "lead"  # one hot lead
    DIGEST = "digest"  # the leads past an account's daily cap, sent together


class AlertRoute:
    IMMEDIATE = "immediate"
    DIGEST = "digest"  # past the daily cap: delivered inside a digest alert


class Status:
    """Statuses of deliveries; an alert's status summarises its deliveries."""

    HELD = "held"
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


ALERT_STATUSES = (Status.PENDING, Status.HELD, Status.SENT, Status.FAILED)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    # Empty for a digest, which carries several leads.
    sa.Column("contact_id", sa.String(200), nullable=True),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("previous_score", sa.Integer, nullable=True),
    sa.Column("threshold", sa.Integer, nullable=True),
    sa.Column("route", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    # Why the alert waits: "after_hours" or "daily_cap".
    sa.Column("hold_reason", sa.String(40), nullable=True),
    # The spa's calendar day (YYYY-MM-DD) of the alert, for the daily cap.
    sa.Column("local_day", sa.String(10), nullable=False),
    # A digest-routed lead waits until this time to be gathered into a digest.
    sa.Column("release_at", UtcDateTime(), nullable=True),
    # The digest alert that carried this lead.
    sa.Column("digest_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=True),
    # connectors.base.HotLeadAlert as JSON (a digest stores no payload of its own).
    sa.Column("payload", sa.JSON, nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index(None, "account", "contact_id", "created_at"),
    sa.Index(None, "account", "local_day", "route"),
    sa.Index(None, "status"),
)

alert_deliveries = sa.Table(
    "alert_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False),
    sa.Column("channel", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
    sa.Column("lease_until", UtcDateTime(), nullable=True),
    sa.Column("sent_at", UtcDateTime(), nullable=True),
    # What the channel returned: a CRM task id, an HTTP status, an SMTP message id.
    sa.Column("receipt", sa.Text, nullable=True),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("alert_id", "channel"),
    sa.Index(None, "status", "next_attempt_at"),
)


def _baseline(conn: sa.Connection) -> None:
    """Version 1 is the first released shape; `create_all` builds it."""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "create the alert and alert delivery tables", _baseline),
)

"""Tables of the webhook receiver, on the state store's shared `metadata`.

* `webhook_queue`: one row per contact waiting to be rescored. Several events
  for the same contact collapse into its one row, so a burst of updates costs
  one CRM read.
* `webhook_deliveries`: keys of deliveries already accepted (HubSpot event
  keys, GoHighLevel webhook ids), for dropping duplicates and rejecting replays.
* `webhook_contact_tags`: the last tag list a GoHighLevel event carried for a
  contact, because ContactTagUpdate sends the full list and not what changed.
"""

from __future__ import annotations

import sqlalchemy as sa

from jobs.store.schema import UtcDateTime, metadata

# Queue row states. A row is `processing` while a drain run has claimed it. An
# event arriving then sets `rerun`, so the contact is read again after that run.
STATUS_PENDING = "pending"
STATUS_PROCESSING = "processing"
STATUS_DONE = "done"
# Gave up after the maximum attempts; the polling sync still covers the contact.
STATUS_FAILED = "failed"

webhook_queue = sa.Table(
    "webhook_queue",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # Account key "<crm>:<account id>", as in every other store table.
    sa.Column("account", sa.String(200), nullable=False),
    sa.Column("contact_id", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    # Comma-separated event kinds seen since the row was last processed.
    sa.Column("event_kinds", sa.String(500), nullable=False),
    # Kind of the event with the latest occurred_at.
    sa.Column("last_kind", sa.String(100), nullable=False),
    # Time of the latest change, on the CRM's clock.
    sa.Column("occurred_at", UtcDateTime(), nullable=True),
    # When the oldest event not yet processed arrived (the worker's clock).
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
    sa.Column("claimed_at", UtcDateTime(), nullable=True),
    sa.Column("rerun", sa.Boolean, nullable=False, default=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("processed_at", UtcDateTime(), nullable=True),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("account", "contact_id"),
    sa.Index("ix_webhook_queue_status_received", "status", "received_at"),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    # "hubspot:<eventId>:<subscriptionId>:<objectId>:<propertyName>:<occurredAt>"
    # or "gohighlevel:<webhookId>".
    sa.Column("delivery_key", sa.String(400), primary_key=True),
    sa.Column("account", sa.String(200), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Index("ix_webhook_deliveries_received_at", "received_at"),
)

webhook_contact_tags = sa.Table(
    "webhook_contact_tags",
    metadata,
    sa.Column("account", sa.String(200), primary_key=True),
    sa.Column("contact_id", sa.String(200), primary_key=True),
    # JSON array of lower-cased tags, sorted.
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

"""Tables of the state store, on one shared `metadata`.

Other packages add their own tables to the same `metadata`: the alert outbox
in `jobs/alerts/tables.py` and the webhook event queue in
`jobs/webhooks/tables.py`. `Store.open` imports those modules, so their tables
are created with these. Every table that belongs to one CRM account carries an
`account` column holding the account key (`"<crm>:<account id>"`).

Times are stored as timezone-aware UTC. Lead facts and score explanations are
JSON documents in the shape of `Lead.to_dict()` and `ScoreResult.to_dict()`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(sa.types.TypeDecorator):
    """A timestamp stored in UTC and read back timezone-aware on every backend.

    SQLite keeps no time zone, so values are converted to UTC before storing
    and tagged UTC on reading. Naive datetimes are rejected.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"store timestamps must be timezone-aware, got {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# One row per component ("core" for these tables, or a package that adds its
# own tables with its own migration steps): the last migration step applied.
schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("component", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("applied_at", UtcDateTime(), nullable=False),
)

# Per-account incremental sync state.
sync_cursors = sa.Table(
    "sync_cursors",
    metadata,
    sa.Column("account", sa.String(200), primary_key=True),
    sa.Column("cursor_at", UtcDateTime(), nullable=True),
    sa.Column("paused_until", UtcDateTime(), nullable=True),
    sa.Column("pause_reason", sa.Text, nullable=True),
    sa.Column("last_cycle_at", UtcDateTime(), nullable=True),
    sa.Column("outcomes_cursor_at", UtcDateTime(), nullable=True),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# Each lead's last known facts, contact details and the values last written to the CRM.
leads = sa.Table(
    "leads",
    metadata,
    sa.Column("account", sa.String(200), primary_key=True),
    sa.Column("contact_id", sa.String(200), primary_key=True),
    sa.Column("facts", sa.JSON, nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    # Name, email, phone, owner and record URL, kept for alerts and the nightly rescore.
    sa.Column("details", sa.JSON, nullable=False, default=dict),
    sa.Column("crm_modified_at", UtcDateTime(), nullable=True),
    sa.Column("score", sa.Integer, nullable=True),
    sa.Column("fit", sa.Integer, nullable=True),
    sa.Column("intent", sa.Integer, nullable=True),
    sa.Column("tier", sa.String(20), nullable=True),
    sa.Column("reasons", sa.Text, nullable=True),
    sa.Column("stage", sa.String(200), nullable=True),
    # The tier the pipeline stage was last set for; a different tier moves the stage.
    sa.Column("stage_tier", sa.String(20), nullable=True),
    sa.Column("model_version", sa.String(100), nullable=True),
    sa.Column("scored_at", UtcDateTime(), nullable=True),
    sa.Column("written_at", UtcDateTime(), nullable=True),
    # The modification time the CRM reported for the worker's own last write.
    sa.Column("written_modified_at", UtcDateTime(), nullable=True),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# Append-only audit trail: one row per change of score, tier or explanation.
score_history = sa.Table(
    "score_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(200), nullable=False),
    sa.Column("contact_id", sa.String(200), nullable=False),
    sa.Column("scored_at", UtcDateTime(), nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("fit", sa.Integer, nullable=False),
    sa.Column("intent", sa.Integer, nullable=False),
    sa.Column("tier", sa.String(20), nullable=False),
    sa.Column("model_version", sa.String(100), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("result", sa.JSON, nullable=False),
    sa.Column("trigger", sa.String(40), nullable=False),
    sa.Index(None, "account", "contact_id", "id"),
)

# Booking outcomes read from the CRM, for calibration.
outcomes = sa.Table(
    "outcomes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(200), nullable=False),
    sa.Column("contact_id", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("record_id", sa.String(200), nullable=True),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("account", "contact_id", "kind", "source", "occurred_at"),
)

# Contacts that failed in a cycle, retried in the next one; the row goes when one succeeds.
contact_failures = sa.Table(
    "contact_failures",
    metadata,
    sa.Column("account", sa.String(200), primary_key=True),
    sa.Column("contact_id", sa.String(200), primary_key=True),
    sa.Column("stage", sa.String(40), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("first_failed_at", UtcDateTime(), nullable=False),
    sa.Column("last_failed_at", UtcDateTime(), nullable=False),
)

# One row per account: the running or last backfill and where to resume it.
backfill_progress = sa.Table(
    "backfill_progress",
    metadata,
    sa.Column("account", sa.String(200), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("resume_token", sa.Text, nullable=True),
    sa.Column("pages", sa.Integer, nullable=False, default=0),
    sa.Column("seen", sa.Integer, nullable=False, default=0),
    sa.Column("scored", sa.Integer, nullable=False, default=0),
    sa.Column("written", sa.Integer, nullable=False, default=0),
    sa.Column("skipped", sa.Integer, nullable=False, default=0),
    sa.Column("failed", sa.Integer, nullable=False, default=0),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
)

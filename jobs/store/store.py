"""The state store: sync cursors, lead facts, written scores, history and progress.

`Store.open(url)` creates or migrates the database and returns a `Store`.
Every read and write method takes an open `sqlalchemy.Connection`, so one
transaction can cover a lead's facts, its history row and its alert:

    store = Store.open("sqlite:///leadscore.db")
    with store.begin() as conn:
        store.save_facts(conn, account, contact, now=now)
        store.append_history(conn, account, result, fingerprint=..., trigger="sync")
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite

from connectors.base import Contact, Outcome
from jobs.store import schema
from jobs.store.migrations import CORE_COMPONENT, CORE_MIGRATIONS, Migration, migrate
from scoring.lead import Lead
from scoring.result import ScoreResult, Tier

log = structlog.get_logger(__name__)

# Packages that add tables to the shared metadata, by store component name.
# Each is imported when present so its tables are created and migrated.
TABLE_MODULES: dict[str, str] = {
    "alerts": "jobs.alerts.tables",
    "webhooks": "jobs.webhooks.tables",
}

SQLITE_BUSY_TIMEOUT_SECONDS = 30
# An unreachable PostgreSQL server fails `doctor` and start-up after this long.
POSTGRES_CONNECT_TIMEOUT_SECONDS = 10


@dataclass(frozen=True, slots=True)
class CursorState:
    """Incremental sync state of one account: cursor, pause and last cycle time."""

    account: str
    cursor_at: datetime | None = None
    paused_until: datetime | None = None
    pause_reason: str | None = None
    last_cycle_at: datetime | None = None
    outcomes_cursor_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredLead:
    """A stored lead: last facts, contact details and the values last written to the CRM."""

    account: str
    contact_id: str
    lead: Lead
    fingerprint: str
    details: Mapping[str, Any] = field(default_factory=dict)
    crm_modified_at: datetime | None = None
    score: int | None = None
    fit: int | None = None
    intent: int | None = None
    tier: Tier | None = None
    reasons: str | None = None
    stage: str | None = None
    stage_tier: Tier | None = None
    model_version: str | None = None
    scored_at: datetime | None = None
    written_at: datetime | None = None
    written_modified_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One row of a lead's score history."""

    id: int
    scored_at: datetime
    trigger: str
    fingerprint: str
    result: ScoreResult


@dataclass(frozen=True, slots=True)
class FailureRecord:
    contact_id: str
    stage: str
    reason: str
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime


@dataclass(frozen=True, slots=True)
class BackfillState:
    """Progress of an account's backfill; `resume_token` continues after the last saved page."""

    account: str
    status: str
    resume_token: str | None
    pages: int
    seen: int
    scored: int
    written: int
    skipped: int
    failed: int
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None


CONTACT_DETAIL_FIELDS = ("name", "email", "phone", "owner_id", "record_url")


def contact_details(contact: Contact) -> dict[str, str]:
    """Return the contact details the store keeps next to a lead's facts."""
    return {
        name: value
        for name in CONTACT_DETAIL_FIELDS
        if (value := getattr(contact, name)) is not None
    }


def normalize_database_url(url: str) -> sa.URL:
    """Parse a database URL; plain `postgresql://` URLs use the psycopg 3 driver."""
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _create_sqlite_file(url: sa.URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # The file contains contact details, so only the worker's user may read it.
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)
    log.info("store_file_created", path=str(path))


def _configure_sqlite(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()


def _component_migrations() -> dict[str, Sequence[Migration]]:
    components: dict[str, Sequence[Migration]] = {CORE_COMPONENT: CORE_MIGRATIONS}
    for component, module_name in TABLE_MODULES.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        components[component] = tuple(getattr(module, "MIGRATIONS", ()))
    return components


class Store:
    """The worker's state, in SQLite or PostgreSQL, through SQLAlchemy Core."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect to `url`, creating the SQLite file (mode 0600) or the tables as needed.

        Imports the packages listed in `TABLE_MODULES` when they exist so that
        their tables are created and migrated with the core tables.
        """
        parsed = normalize_database_url(url)
        if parsed.get_backend_name() == "sqlite":
            _create_sqlite_file(parsed)
            engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            _configure_sqlite(engine)
        else:
            engine = sa.create_engine(
                parsed,
                pool_pre_ping=True,
                connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS},
            )
        versions = migrate(engine, _component_migrations())
        log.info(
            "store_opened",
            backend=parsed.get_backend_name(),
            host=parsed.host,
            database=parsed.database,
            versions=versions,
        )
        return cls(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """Yield a connection inside a transaction that commits on success."""
        with self.engine.begin() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    def check(self) -> None:
        """Run a trivial query; raises `sqlalchemy.exc.SQLAlchemyError` when the store is down."""
        with self.engine.connect() as conn:
            conn.execute(sa.select(sa.func.count()).select_from(schema.schema_version))

    # -- helpers ------------------------------------------------------------

    def _upsert(
        self,
        conn: sa.Connection,
        table: sa.Table,
        values: Mapping[str, Any],
        keys: Sequence[str],
        update: Mapping[str, Any] | None = None,
    ) -> None:
        insert_fn = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        statement = insert_fn(table).values(**values)
        changes = (
            dict(update)
            if update is not None
            else {name: value for name, value in values.items() if name not in keys}
        )
        if changes:
            statement = statement.on_conflict_do_update(index_elements=list(keys), set_=changes)
        else:
            statement = statement.on_conflict_do_nothing(index_elements=list(keys))
        conn.execute(statement)

    # -- sync cursors -------------------------------------------------------

    def get_cursor(self, conn: sa.Connection, account: str) -> CursorState:
        table = schema.sync_cursors
        row = conn.execute(sa.select(table).where(table.c.account == account)).first()
        if row is None:
            return CursorState(account=account)
        return CursorState(
            account=account,
            cursor_at=row.cursor_at,
            paused_until=row.paused_until,
            pause_reason=row.pause_reason,
            last_cycle_at=row.last_cycle_at,
            outcomes_cursor_at=row.outcomes_cursor_at,
        )

    def set_cursor(
        self, conn: sa.Connection, account: str, cursor_at: datetime | None, *, now: datetime
    ) -> None:
        """Store the cursor and the cycle time, and lift any pause."""
        self._upsert(
            conn,
            schema.sync_cursors,
            {
                "account": account,
                "cursor_at": cursor_at,
                "paused_until": None,
                "pause_reason": None,
                "last_cycle_at": now,
                "updated_at": now,
            },
            keys=("account",),
        )

    def pause_account(
        self, conn: sa.Connection, account: str, *, until: datetime, reason: str, now: datetime
    ) -> None:
        """Keep the account out of sync cycles until `until` (a long rate-limit wait)."""
        self._upsert(
            conn,
            schema.sync_cursors,
            {"account": account, "paused_until": until, "pause_reason": reason, "updated_at": now},
            keys=("account",),
        )

    def set_outcomes_cursor(
        self, conn: sa.Connection, account: str, cursor_at: datetime, *, now: datetime
    ) -> None:
        self._upsert(
            conn,
            schema.sync_cursors,
            {"account": account, "outcomes_cursor_at": cursor_at, "updated_at": now},
            keys=("account",),
        )

    # -- leads --------------------------------------------------------------

    def _stored_lead(self, row: sa.Row) -> StoredLead:
        return StoredLead(
            account=row.account,
            contact_id=row.contact_id,
            lead=Lead.from_dict(row.facts),
            fingerprint=row.fingerprint,
            details=dict(row.details or {}),
            crm_modified_at=row.crm_modified_at,
            score=row.score,
            fit=row.fit,
            intent=row.intent,
            tier=Tier(row.tier) if row.tier else None,
            reasons=row.reasons,
            stage=row.stage,
            stage_tier=Tier(row.stage_tier) if row.stage_tier else None,
            model_version=row.model_version,
            scored_at=row.scored_at,
            written_at=row.written_at,
            written_modified_at=row.written_modified_at,
        )

    def get_lead(self, conn: sa.Connection, account: str, contact_id: str) -> StoredLead | None:
        table = schema.leads
        row = conn.execute(
            sa.select(table).where(table.c.account == account, table.c.contact_id == contact_id)
        ).first()
        return self._stored_lead(row) if row is not None else None

    def get_leads(
        self, conn: sa.Connection, account: str, contact_ids: Iterable[str]
    ) -> dict[str, StoredLead]:
        """Return the stored leads among `contact_ids`, keyed by id (missing ids are absent)."""
        table = schema.leads
        ids = list(dict.fromkeys(contact_ids))
        found: dict[str, StoredLead] = {}
        # Chunks keep the IN list under SQLite's bound-parameter limit.
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = conn.execute(
                sa.select(table).where(table.c.account == account, table.c.contact_id.in_(chunk))
            )
            for row in rows:
                found[row.contact_id] = self._stored_lead(row)
        return found

    def lead_batch(
        self, conn: sa.Connection, account: str, *, after: str = "", limit: int = 500
    ) -> list[StoredLead]:
        """Return up to `limit` stored leads with contact ids after `after`, in id order."""
        table = schema.leads
        rows = conn.execute(
            sa.select(table)
            .where(table.c.account == account, table.c.contact_id > after)
            .order_by(table.c.contact_id)
            .limit(limit)
        ).all()
        return [self._stored_lead(row) for row in rows]

    def iter_leads(
        self, conn: sa.Connection, account: str, *, batch_size: int = 500
    ) -> Iterator[list[StoredLead]]:
        """Yield every stored lead of the account in batches, ordered by contact id."""
        after = ""
        while batch := self.lead_batch(conn, account, after=after, limit=batch_size):
            yield batch
            after = batch[-1].contact_id

    def count_leads(self, conn: sa.Connection, account: str) -> int:
        table = schema.leads
        return conn.execute(
            sa.select(sa.func.count()).select_from(table).where(table.c.account == account)
        ).scalar_one()

    def save_facts(
        self,
        conn: sa.Connection,
        account: str,
        lead: Lead,
        *,
        details: Mapping[str, Any],
        crm_modified_at: datetime | None,
        now: datetime,
    ) -> str:
        """Store the lead's merged facts and contact details; return the facts fingerprint."""
        fingerprint = lead.fingerprint()
        self._upsert(
            conn,
            schema.leads,
            {
                "account": account,
                "contact_id": lead.id,
                "facts": lead.to_dict(),
                "fingerprint": fingerprint,
                "details": dict(details),
                "crm_modified_at": crm_modified_at,
                "updated_at": now,
            },
            keys=("account", "contact_id"),
        )
        return fingerprint

    def save_facts_many(
        self,
        conn: sa.Connection,
        account: str,
        items: Sequence[tuple[Lead, Mapping[str, Any], datetime | None]],
        *,
        now: datetime,
    ) -> None:
        """Store many leads' facts, details and CRM modification times in one statement.

        Each item is a `(lead, details, crm_modified_at)` tuple. The effect is
        that of `save_facts` for each, with one round trip for all of them.
        """
        if not items:
            return
        table = schema.leads
        insert_fn = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        statement = insert_fn(table)
        statement = statement.on_conflict_do_update(
            index_elements=["account", "contact_id"],
            set_={
                name: statement.excluded[name]
                for name in ("facts", "fingerprint", "details", "crm_modified_at", "updated_at")
            },
        )
        rows = [
            {
                "account": account,
                "contact_id": lead.id,
                "facts": lead.to_dict(),
                "fingerprint": lead.fingerprint(),
                "details": dict(details),
                "crm_modified_at": crm_modified_at,
                "updated_at": now,
            }
            for lead, details, crm_modified_at in items
        ]
        conn.execute(statement, rows)

    def save_score(
        self,
        conn: sa.Connection,
        account: str,
        result: ScoreResult,
        *,
        reasons: str,
        written: bool,
        written_modified_at: datetime | None = None,
        now: datetime,
    ) -> None:
        """Record a lead's score values; `written=True` marks them as the CRM's current values."""
        table = schema.leads
        values: dict[str, Any] = {
            "score": result.score,
            "fit": result.fit,
            "intent": result.intent,
            "tier": result.tier.value,
            "reasons": reasons,
            "model_version": result.model_version,
            "scored_at": result.scored_at or now,
            "updated_at": now,
        }
        if written:
            values["written_at"] = now
            values["written_modified_at"] = written_modified_at
        conn.execute(
            sa.update(table)
            .where(table.c.account == account, table.c.contact_id == result.lead_id)
            .values(**values)
        )

    def save_written_many(
        self,
        conn: sa.Connection,
        account: str,
        entries: Sequence[tuple[ScoreResult, str, datetime | None]],
        *,
        now: datetime,
    ) -> None:
        """Record the score values just written to the CRM, for many leads in one statement.

        Each entry is a `(result, reasons, written_modified_at)` tuple. The
        effect is that of `save_score(..., written=True)` for each.
        """
        if not entries:
            return
        table = schema.leads
        statement = (
            sa.update(table)
            .where(
                table.c.account == sa.bindparam("key_account"),
                table.c.contact_id == sa.bindparam("key_contact_id"),
            )
            .values(
                {
                    name: sa.bindparam(f"new_{name}")
                    for name in (
                        "score",
                        "fit",
                        "intent",
                        "tier",
                        "reasons",
                        "model_version",
                        "scored_at",
                        "written_at",
                        "written_modified_at",
                        "updated_at",
                    )
                }
            )
        )
        rows = [
            {
                "key_account": account,
                "key_contact_id": result.lead_id,
                "new_score": result.score,
                "new_fit": result.fit,
                "new_intent": result.intent,
                "new_tier": result.tier.value,
                "new_reasons": reasons,
                "new_model_version": result.model_version,
                "new_scored_at": result.scored_at or now,
                "new_written_at": now,
                "new_written_modified_at": modified_at,
                "new_updated_at": now,
            }
            for result, reasons, modified_at in entries
        ]
        conn.execute(statement, rows)

    def save_stage(
        self,
        conn: sa.Connection,
        account: str,
        contact_id: str,
        *,
        stage: str | None,
        tier: Tier,
        now: datetime,
    ) -> None:
        """Record the pipeline stage the lead is in and the tier it was set for."""
        table = schema.leads
        conn.execute(
            sa.update(table)
            .where(table.c.account == account, table.c.contact_id == contact_id)
            .values(stage=stage, stage_tier=tier.value, updated_at=now)
        )

    # -- score history -----------------------------------------------------

    def append_history(
        self,
        conn: sa.Connection,
        account: str,
        result: ScoreResult,
        *,
        fingerprint: str,
        trigger: str,
        now: datetime,
    ) -> None:
        """Append one audit row; history rows are never updated or deleted."""
        self.append_history_many(conn, account, [(result, fingerprint)], trigger=trigger, now=now)

    def append_history_many(
        self,
        conn: sa.Connection,
        account: str,
        entries: Sequence[tuple[ScoreResult, str]],
        *,
        trigger: str,
        now: datetime,
    ) -> None:
        """Append one audit row per `(result, facts fingerprint)` entry, in one statement."""
        if not entries:
            return
        rows = [
            {
                "account": account,
                "contact_id": result.lead_id,
                "scored_at": result.scored_at or now,
                "score": result.score,
                "fit": result.fit,
                "intent": result.intent,
                "tier": result.tier.value,
                "model_version": result.model_version,
                "fingerprint": fingerprint,
                "result": result.to_dict(),
                "trigger": trigger,
            }
            for result, fingerprint in entries
        ]
        conn.execute(sa.insert(schema.score_history), rows)

    def latest_results(
        self, conn: sa.Connection, account: str, contact_ids: Iterable[str]
    ) -> dict[str, ScoreResult]:
        """Return the newest history entry's result for each of `contact_ids` that has one."""
        table = schema.score_history
        ids = list(dict.fromkeys(contact_ids))
        latest: dict[str, ScoreResult] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            newest = (
                sa.select(sa.func.max(table.c.id))
                .where(table.c.account == account, table.c.contact_id.in_(chunk))
                .group_by(table.c.contact_id)
            )
            rows = conn.execute(
                sa.select(table.c.contact_id, table.c.result).where(table.c.id.in_(newest))
            )
            for row in rows:
                latest[row.contact_id] = ScoreResult.from_dict(row.result)
        return latest

    def history(
        self, conn: sa.Connection, account: str, contact_id: str, *, limit: int | None = None
    ) -> list[HistoryEntry]:
        """Return the lead's score history, newest first."""
        table = schema.score_history
        query = (
            sa.select(table)
            .where(table.c.account == account, table.c.contact_id == contact_id)
            .order_by(table.c.id.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        return [
            HistoryEntry(
                id=row.id,
                scored_at=row.scored_at,
                trigger=row.trigger,
                fingerprint=row.fingerprint,
                result=ScoreResult.from_dict(row.result),
            )
            for row in conn.execute(query)
        ]

    # -- outcomes ------------------------------------------------------------

    def record_outcome(
        self, conn: sa.Connection, account: str, outcome: Outcome, *, now: datetime
    ) -> None:
        """Store a booking outcome; the same outcome read twice is kept once."""
        self._upsert(
            conn,
            schema.outcomes,
            {
                "account": account,
                "contact_id": outcome.contact_id,
                "kind": outcome.kind.value,
                "occurred_at": outcome.occurred_at,
                "source": outcome.source,
                "record_id": outcome.record_id,
                "recorded_at": now,
            },
            keys=("account", "contact_id", "kind", "source", "occurred_at"),
            update={},
        )

    def outcomes(self, conn: sa.Connection, account: str) -> list[sa.Row]:
        table = schema.outcomes
        return list(
            conn.execute(
                sa.select(table).where(table.c.account == account).order_by(table.c.occurred_at)
            )
        )

    # -- per-contact failures ----------------------------------------------

    def record_failure(
        self,
        conn: sa.Connection,
        account: str,
        contact_id: str,
        *,
        stage: str,
        reason: str,
        now: datetime,
    ) -> int:
        """Record a failed contact for retry next cycle; return how often it has failed."""
        table = schema.contact_failures
        self._upsert(
            conn,
            table,
            {
                "account": account,
                "contact_id": contact_id,
                "stage": stage,
                "reason": reason,
                "attempts": 1,
                "first_failed_at": now,
                "last_failed_at": now,
            },
            keys=("account", "contact_id"),
            update={
                "stage": stage,
                "reason": reason,
                "attempts": table.c.attempts + 1,
                "last_failed_at": now,
            },
        )
        return conn.execute(
            sa.select(table.c.attempts).where(
                table.c.account == account, table.c.contact_id == contact_id
            )
        ).scalar_one()

    def clear_failures(self, conn: sa.Connection, account: str, contact_ids: Iterable[str]) -> None:
        table = schema.contact_failures
        ids = list(contact_ids)
        for start in range(0, len(ids), 500):
            conn.execute(
                sa.delete(table).where(
                    table.c.account == account, table.c.contact_id.in_(ids[start : start + 500])
                )
            )

    def failures(self, conn: sa.Connection, account: str) -> list[FailureRecord]:
        table = schema.contact_failures
        rows = conn.execute(
            sa.select(table).where(table.c.account == account).order_by(table.c.contact_id)
        )
        return [
            FailureRecord(
                contact_id=row.contact_id,
                stage=row.stage,
                reason=row.reason,
                attempts=row.attempts,
                first_failed_at=row.first_failed_at,
                last_failed_at=row.last_failed_at,
            )
            for row in rows
        ]

    # -- backfill progress -------------------------------------------------

    def get_backfill(self, conn: sa.Connection, account: str) -> BackfillState | None:
        table = schema.backfill_progress
        row = conn.execute(sa.select(table).where(table.c.account == account)).first()
        if row is None:
            return None
        return BackfillState(
            account=row.account,
            status=row.status,
            resume_token=row.resume_token,
            pages=row.pages,
            seen=row.seen,
            scored=row.scored,
            written=row.written,
            skipped=row.skipped,
            failed=row.failed,
            started_at=row.started_at,
            updated_at=row.updated_at,
            finished_at=row.finished_at,
        )

    def save_backfill(self, conn: sa.Connection, state: BackfillState) -> None:
        self._upsert(
            conn,
            schema.backfill_progress,
            {
                "account": state.account,
                "status": state.status,
                "resume_token": state.resume_token,
                "pages": state.pages,
                "seen": state.seen,
                "scored": state.scored,
                "written": state.written,
                "skipped": state.skipped,
                "failed": state.failed,
                "started_at": state.started_at,
                "updated_at": state.updated_at,
                "finished_at": state.finished_at,
            },
            keys=("account",),
        )

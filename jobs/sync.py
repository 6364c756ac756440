"""The sync cycle of one CRM account, and the pieces the backfill and webhooks reuse.

A cycle pulls contacts changed since the account's cursor and merges each
with the facts the store already has. It scores them, writes back only the
values that changed, moves the pipeline stage when the tier changed and
records an alert for an upward crossing. The cursor advances once every write
call went through. `process_contacts` runs the middle of that on any list of contacts
(a page of a pull, a few contacts fetched by id for a webhook, or every
stored lead for the nightly rescore).

The worker's own writes never start a rescoring loop: the echo of a write
comes back in the next pull with the same facts, scores the same, and so
writes nothing.

Database transactions never span a CRM call, so the daemon's other jobs are
not blocked behind a slow request.
"""

from __future__ import annotations

import threading
import time as monotonic_time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
import structlog

from connectors.base import (
    ActivityMode,
    Contact,
    CrmConnector,
    ScoreWrite,
    SkippedRecord,
    StageAction,
    WriteReport,
)
from connectors.errors import ConnectorError, RateLimitedError, SkippableRecordError
from jobs.store import Store, StoredLead, contact_details
from scoring.lead import Activity, Lead
from scoring.result import ScoreResult

log = structlog.get_logger(__name__)

# Length of the short explanation written to the CRM's reasons field. HubSpot
# single-line text properties hold up to 65,536 characters; this keeps the
# field readable in a CRM sidebar.
REASONS_MAX_CHARS = 500
REASONS_TOP_RULES = 5

# Contacts that failed in an earlier cycle are fetched again by id, at most
# this many per cycle, until they succeed or reach MAX_FAILURE_ATTEMPTS.
FAILURE_RETRIES_PER_CYCLE = 50
MAX_FAILURE_ATTEMPTS = 10

ScoreFunction = Callable[[Lead, datetime], ScoreResult]


class AlertRecorder(Protocol):
    def __call__(
        self,
        conn: sa.Connection,
        *,
        account: str,
        contact: Contact,
        previous: ScoreResult | None,
        current: ScoreResult,
        model: Any,
        now: datetime,
    ) -> Any: ...


@dataclass
class SyncContext:
    """Everything one account's jobs need: its connector, store, model and limits."""

    account: str  # the store's account key, "<crm>:<id>"
    crm: str
    connector: CrmConnector
    store: Store
    score: ScoreFunction
    model: Any = None
    label: str | None = None
    write_batch_size: int = 100
    rate_limit_pause_seconds: float = 60.0
    record_alert: AlertRecorder | None = None
    # Called with the count after a transaction that recorded alerts commits; the
    # daemon uses it to run the alert outbox at once.
    on_alerts_recorded: Callable[[int], None] | None = None
    # Set by the daemon on SIGTERM: a cycle stops between pages and keeps its cursor.
    stop: threading.Event = field(default_factory=threading.Event)


@dataclass
class CycleStats:
    """Counts of one cycle (or one call of `process_contacts`)."""

    pulled: int = 0
    scored: int = 0
    written: int = 0
    moved: int = 0
    alerted: int = 0
    errors: int = 0
    skipped: int = 0
    unchanged: int = 0
    pages: int = 0
    tiers: dict[str, int] = field(default_factory=dict)

    def add(self, other: CycleStats) -> None:
        for name in ("pulled", "scored", "written", "moved", "alerted", "errors", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.unchanged += other.unchanged
        self.pages += other.pages
        for tier, count in other.tiers.items():
            self.tiers[tier] = self.tiers.get(tier, 0) + count


@dataclass(frozen=True)
class PlannedContact:
    """The outcome of merging and scoring one contact, before anything is saved or written."""

    contact: Contact
    lead: Lead
    fingerprint: str
    result: ScoreResult
    reasons: str
    previous: ScoreResult | None
    stored: StoredLead | None
    needs_write: bool
    needs_stage: bool
    history_changed: bool


@dataclass
class Plan:
    """Scored contacts and the contacts that failed before scoring."""

    contacts: list[PlannedContact] = field(default_factory=list)
    failures: dict[str, tuple[str, str]] = field(default_factory=dict)  # id → (stage, reason)
    skipped: int = 0


class CycleAborted(Exception):
    """A cycle stopped before its end; the cursor stays where it was."""


# -- merging ------------------------------------------------------------------


def merge_activities(
    stored: Sequence[Activity], incoming: Sequence[Activity], mode: ActivityMode
) -> tuple[Activity, ...]:
    """Combine activities: a snapshot replaces the stored ones, events are added once each.

    An event with a `detail` (a message or submission id) is the same event as
    a stored one of the same kind and detail, even when its time differs. So
    an email read as "opened" and later as "clicked" counts as one open,
    although each read reports the open at its own status time.
    """
    if mode is ActivityMode.SNAPSHOT:
        return tuple(incoming)
    merged = list(stored)
    known = set(stored)
    known_events = {(a.kind, a.detail) for a in stored if a.detail}
    for activity in incoming:
        if activity in known:
            continue
        if activity.detail and (activity.kind, activity.detail) in known_events:
            continue
        merged.append(activity)
        known.add(activity)
        if activity.detail:
            known_events.add((activity.kind, activity.detail))
    return tuple(merged)


def merge_lead(contact: Contact, stored: Lead | None) -> Lead:
    """Return the lead's full facts from a pulled contact and what the store has.

    A contact with `facts_complete=False` carries only activities, so its
    answers, attributes, tags and flags come from `stored`. A contact with
    `answers_partial=True` adds its answers and attributes to the stored ones.
    """
    incoming = contact.lead
    base = incoming if contact.facts_complete or stored is None else stored
    answers, attributes = base.answers, base.attributes
    if contact.facts_complete and contact.answers_partial and stored is not None:
        # NOTE: an answer staff cleared in the CRM keeps its stored value here,
        # because the pull cannot tell it from one it did not read.
        answers = {**stored.answers, **incoming.answers}
        attributes = {**stored.attributes, **incoming.attributes}
    activities = merge_activities(
        stored.activities if stored is not None else (),
        incoming.activities,
        contact.activity_mode,
    )
    return Lead(
        id=incoming.id,
        created_at=base.created_at or (stored.created_at if stored else None),
        answers=answers,
        attributes=attributes,
        tags=base.tags,
        activities=activities,
        do_not_contact=base.do_not_contact,
        unsubscribed=base.unsubscribed,
    )


def merged_details(contact: Contact, stored: StoredLead | None) -> dict[str, Any]:
    details = dict(stored.details) if stored is not None else {}
    details.update(contact_details(contact))
    return details


def contact_from_store(stored: StoredLead) -> Contact:
    """Rebuild a contact from the store, for the nightly rescore and retries."""
    details = stored.details
    return Contact(
        lead=stored.lead,
        name=details.get("name"),
        email=details.get("email"),
        phone=details.get("phone"),
        owner_id=details.get("owner_id"),
        record_url=details.get("record_url"),
        modified_at=stored.crm_modified_at,
        activity_mode=ActivityMode.SNAPSHOT,
    )


# -- deciding -------------------------------------------------------------------


def reasons_for(result: ScoreResult) -> str:
    return result.reasons_text(limit=REASONS_TOP_RULES, max_chars=REASONS_MAX_CHARS)


def _comparable(result: ScoreResult) -> dict[str, Any]:
    data = result.to_dict()
    data.pop("scored_at", None)
    return data


def _written_matches(
    contact: Contact, stored: StoredLead | None, result: ScoreResult, reasons: str
) -> bool:
    """Return True when the CRM already contains these values, so writing would change nothing."""
    written = contact.written
    if written is not None:
        crm_values = (
            (written.score, result.score),
            (written.fit, result.fit),
            (written.intent, result.intent),
            (written.tier, result.tier),
        )
        # A field the connector could not read (None) is not evidence either way.
        if any(held is not None and held != wanted for held, wanted in crm_values):
            return False
        # NOTE: an empty score field after the worker's own write is not written
        # again, because a CRM that silently dropped the value would otherwise be
        # written every cycle. A value staff cleared by hand comes back only when
        # the score changes.
        if written.score is None:
            written = None
    if stored is None or stored.written_at is None:
        # No record of our own write: trust the CRM's fields when it reported them.
        return written is not None
    return (stored.score, stored.fit, stored.intent, stored.tier, stored.reasons) == (
        result.score,
        result.fit,
        result.intent,
        result.tier,
        reasons,
    )


def plan_contacts(
    ctx: SyncContext,
    records: Iterable[Contact | SkippedRecord],
    now: datetime,
    *,
    fetch_incomplete: bool = True,
) -> Plan:
    """Merge and score each contact and decide what to write; changes nothing anywhere."""
    plan = Plan()
    contacts: list[Contact] = []
    for record in records:
        if isinstance(record, SkippedRecord):
            plan.skipped += 1
            log.warning(
                "contact_skipped",
                contact_id=record.record_id,
                field=record.field,
                reason=record.reason,
            )
            if record.record_id:
                plan.failures[record.record_id] = ("read", record.reason)
            continue
        contacts.append(record)

    # The same contact may come twice in one pull (search overlap): keep the last.
    by_id = {contact.id: contact for contact in contacts}
    with ctx.store.begin() as conn:
        stored_leads = ctx.store.get_leads(conn, ctx.account, by_id)
        previous_results = ctx.store.latest_results(conn, ctx.account, by_id)

    for contact_id, contact in by_id.items():
        stored = stored_leads.get(contact_id)
        try:
            if not contact.facts_complete and stored is None and fetch_incomplete:
                contact = _with_fetched_facts(ctx, contact)
            lead = merge_lead(contact, stored.lead if stored else None)
            result = ctx.score(lead, now)
        except SkippableRecordError as exc:
            plan.failures[contact_id] = ("fetch", str(exc))
            log.warning("contact_fetch_failed", contact_id=contact_id, error=str(exc))
            continue
        except RateLimitedError:
            raise
        except ConnectorError as exc:
            plan.failures[contact_id] = ("fetch", str(exc))
            log.warning("contact_fetch_failed", contact_id=contact_id, error=str(exc))
            continue
        except Exception as exc:  # one bad lead must not stop the batch
            plan.failures[contact_id] = ("score", f"{type(exc).__name__}: {exc}")
            log.exception("contact_scoring_failed", contact_id=contact_id)
            continue

        contact = _with_stored_details(contact, stored, lead)
        reasons = reasons_for(result)
        previous = previous_results.get(contact_id)
        plan.contacts.append(
            PlannedContact(
                contact=contact,
                lead=lead,
                fingerprint=lead.fingerprint(),
                result=result,
                reasons=reasons,
                previous=previous,
                stored=stored,
                needs_write=not _written_matches(contact, stored, result, reasons),
                needs_stage=stored is None or stored.stage_tier != result.tier,
                history_changed=previous is None or _comparable(previous) != _comparable(result),
            )
        )
    return plan


def _with_stored_details(contact: Contact, stored: StoredLead | None, lead: Lead) -> Contact:
    """Return the contact with its merged lead and the stored details it lacks.

    An engagement-only update carries no name, email or phone, and alerts
    and new deals or opportunities read them from the planned contact.
    """
    if stored is None:
        return replace(contact, lead=lead)
    details = stored.details
    return replace(
        contact,
        lead=lead,
        name=contact.name or details.get("name"),
        email=contact.email or details.get("email"),
        phone=contact.phone or details.get("phone"),
        owner_id=contact.owner_id or details.get("owner_id"),
        record_url=contact.record_url or details.get("record_url"),
        modified_at=contact.modified_at or stored.crm_modified_at,
    )


def _with_fetched_facts(ctx: SyncContext, contact: Contact) -> Contact:
    """Complete an engagement-only contact the store has never seen by reading it by id."""
    full = ctx.connector.fetch_contact(contact.id)
    activities = merge_activities(
        full.lead.activities, contact.lead.activities, ActivityMode.EVENTS
    )
    lead = replace(full.lead, activities=activities)
    return replace(full, lead=lead, activity_mode=ActivityMode.SNAPSHOT, facts_complete=True)


# -- applying ---------------------------------------------------------------


def process_contacts(
    ctx: SyncContext,
    contacts: Iterable[Contact | SkippedRecord],
    now: datetime,
    *,
    trigger: str = "sync",
) -> CycleStats:
    """Score contacts and bring the CRM and the store up to date with the results.

    Reusable outside the sync cycle (webhooks pass a few contacts fetched by
    id). Per-contact failures are recorded for retry and counted in `errors`.
    A `RateLimitedError` or a `TransientError` from a whole write call
    propagates, and the contacts done before it stay saved.
    """
    plan = plan_contacts(ctx, contacts, now)
    return apply_plan(ctx, plan, now, trigger=trigger)


def apply_plan(ctx: SyncContext, plan: Plan, now: datetime, *, trigger: str) -> CycleStats:
    """Save facts, history and alerts; write changed scores; move stages; record failures."""
    stats = CycleStats(
        pulled=len(plan.contacts) + len(plan.failures) + plan.skipped,
        scored=len(plan.contacts),
        skipped=plan.skipped,
    )
    for planned in plan.contacts:
        tier = planned.result.tier.value
        stats.tiers[tier] = stats.tiers.get(tier, 0) + 1

    # 1. Facts, the audit trail and alerts, in one transaction, so an alert is
    #    recorded exactly when the history shows that the score changed.
    changed_facts = []
    for planned in plan.contacts:
        details = merged_details(planned.contact, planned.stored)
        stored = planned.stored
        # NOTE: unchanged facts are not saved again, so `crm_modified_at` is the
        # CRM's modification time of the last fact change, not of the last pull.
        if stored is None or stored.fingerprint != planned.fingerprint or stored.details != details:
            changed_facts.append((planned.lead, details, planned.contact.modified_at))
    with ctx.store.begin() as conn:
        ctx.store.save_facts_many(conn, ctx.account, changed_facts, now=now)
        changed_scores = [planned for planned in plan.contacts if planned.history_changed]
        ctx.store.append_history_many(
            conn,
            ctx.account,
            [(planned.result, planned.fingerprint) for planned in changed_scores],
            trigger=trigger,
            now=now,
        )
        for planned in changed_scores:
            if ctx.record_alert is None:
                break
            alert_id = ctx.record_alert(
                conn,
                account=ctx.account,
                contact=planned.contact,
                previous=planned.previous,
                current=planned.result,
                model=ctx.model,
                now=now,
            )
            if alert_id is not None:
                stats.alerted += 1
        for contact_id, (stage, reason) in plan.failures.items():
            _record_failure(ctx, conn, contact_id, stage, reason, now)
    stats.errors += len(plan.failures)
    if stats.alerted and ctx.on_alerts_recorded is not None:
        ctx.on_alerts_recorded(stats.alerted)

    # 2. Score writes, in the CRM's batch size.
    to_write = [planned for planned in plan.contacts if planned.needs_write]
    stats.unchanged = len(plan.contacts) - len(to_write)
    failed_ids: set[str] = set()
    for start in range(0, len(to_write), ctx.write_batch_size):
        batch = to_write[start : start + ctx.write_batch_size]
        report = _write_batch(ctx, batch, now)
        stats.written += len(report.written)
        failed_ids.update(report.failed)
        stats.errors += len(report.failed)

    # 3. Pipeline stages, for tier changes of contacts whose write went through.
    for planned in plan.contacts:
        contact_id = planned.contact.id
        if not planned.needs_stage or contact_id in failed_ids:
            continue
        moved, failed = _move_stage(ctx, planned, now)
        stats.moved += int(moved)
        if failed:
            failed_ids.add(contact_id)
            stats.errors += 1

    succeeded = [p.contact.id for p in plan.contacts if p.contact.id not in failed_ids]
    if succeeded:
        with ctx.store.begin() as conn:
            ctx.store.clear_failures(conn, ctx.account, succeeded)
    return stats


def _record_failure(
    ctx: SyncContext, conn: sa.Connection, contact_id: str, stage: str, reason: str, now: datetime
) -> None:
    attempts = ctx.store.record_failure(
        conn, ctx.account, contact_id, stage=stage, reason=reason, now=now
    )
    log.warning(
        "contact_failed", contact_id=contact_id, stage=stage, reason=reason, attempts=attempts
    )


def _write_batch(ctx: SyncContext, batch: Sequence[PlannedContact], now: datetime) -> WriteReport:
    writes = [
        ScoreWrite(
            contact_id=planned.contact.id,
            score=planned.result.score,
            fit=planned.result.fit,
            intent=planned.result.intent,
            tier=planned.result.tier,
            reasons=planned.reasons,
            scored_at=planned.result.scored_at or now,
        )
        for planned in batch
    ]
    report = ctx.connector.write_scores(writes)
    by_id = {planned.contact.id: planned for planned in batch}
    written = [
        (by_id[contact_id].result, by_id[contact_id].reasons, report.modified_at.get(contact_id))
        for contact_id in report.written
        if contact_id in by_id
    ]
    with ctx.store.begin() as conn:
        ctx.store.save_written_many(conn, ctx.account, written, now=now)
        for contact_id, reason in report.failed.items():
            _record_failure(ctx, conn, contact_id, "write", reason, now)
    log.info(
        "scores_written", count=len(report.written), failed=len(report.failed), calls=report.calls
    )
    return report


def _move_stage(ctx: SyncContext, planned: PlannedContact, now: datetime) -> tuple[bool, bool]:
    """Put the contact's deal or opportunity in its tier's stage; return (moved, failed)."""
    contact_id = planned.contact.id
    tier = planned.result.tier
    stored_stage = planned.stored.stage if planned.stored is not None else None
    try:
        outcome = ctx.connector.move_stage(
            replace(planned.contact, stored_stage=stored_stage), tier
        )
    except RateLimitedError:
        raise
    except ConnectorError as exc:
        with ctx.store.begin() as conn:
            _record_failure(ctx, conn, contact_id, "stage", str(exc), now)
        return False, True
    if outcome.action is StageAction.NOT_CONFIGURED:
        # Nothing is recorded, so configuring a pipeline later moves every lead
        # the next time it is processed (the connector returns without a call).
        return False, False
    with ctx.store.begin() as conn:
        ctx.store.save_stage(conn, ctx.account, contact_id, stage=outcome.stage, tier=tier, now=now)
    if outcome.action is StageAction.KEPT_STAFF_STAGE:
        log.info("stage_kept", contact_id=contact_id, stage=outcome.stage, tier=tier.value)
    return outcome.action in (StageAction.MOVED, StageAction.CREATED), False


# -- the cycle --------------------------------------------------------------------


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class CycleReport:
    """Outcome of one account's cycle, for the `sync_cycle_finished` line and the heartbeat."""

    account: str
    stats: CycleStats
    ok: bool
    paused_until: datetime | None = None
    error: str | None = None
    duration_ms: int = 0


def run_cycle(ctx: SyncContext, *, clock: Clock = utc_now) -> CycleReport:
    """Run one incremental sync cycle of the account and log `sync_cycle_finished`.

    CRM errors (`ConnectorError`) are logged and reported with `ok=False`, not raised.
    A rate-limit wait longer than `ctx.rate_limit_pause_seconds` pauses the
    account (and only this account) until the CRM's `Retry-After` time.
    """
    started = monotonic_time.monotonic()
    now = clock()
    stats = CycleStats()
    report = CycleReport(account=ctx.account, stats=stats, ok=False)

    with ctx.store.begin() as conn:
        cursor = ctx.store.get_cursor(conn, ctx.account)
    if cursor.paused_until is not None and cursor.paused_until > now:
        log.info(
            "sync_cycle_skipped_paused",
            paused_until=cursor.paused_until.isoformat(),
            reason=cursor.pause_reason,
        )
        report.ok = True
        report.paused_until = cursor.paused_until
        return report

    try:
        new_cursor = _pull_and_process(ctx, cursor.cursor_at, stats, now)
        _retry_failed_contacts(ctx, stats, now)
        with ctx.store.begin() as conn:
            ctx.store.set_cursor(conn, ctx.account, new_cursor, now=now)
        report.ok = True
    except CycleAborted:
        report.error = "stopped before the end of the cycle; the cursor was kept"
    except RateLimitedError as exc:
        report.error = str(exc)
        report.paused_until = _pause_if_long_wait(ctx, exc, now)
        if report.paused_until is None:
            log.warning("sync_cycle_rate_limited", retry_after=exc.retry_after, error=str(exc))
    except ConnectorError as exc:
        report.error = str(exc)
        log.error("sync_cycle_failed", error_type=type(exc).__name__, error=str(exc))

    report.duration_ms = int((monotonic_time.monotonic() - started) * 1000)
    log.info(
        "sync_cycle_finished",
        pulled=stats.pulled,
        scored=stats.scored,
        written=stats.written,
        moved=stats.moved,
        alerted=stats.alerted,
        errors=stats.errors,
        duration_ms=report.duration_ms,
        ok=report.ok,
    )
    return report


def _paused_until(ctx: SyncContext, now: datetime) -> datetime | None:
    """Return the end of the account's rate-limit pause, or None when it is not paused."""
    with ctx.store.begin() as conn:
        cursor = ctx.store.get_cursor(conn, ctx.account)
    if cursor.paused_until is not None and cursor.paused_until > now:
        return cursor.paused_until
    return None


def _pause_if_long_wait(ctx: SyncContext, exc: RateLimitedError, now: datetime) -> datetime | None:
    """Pause the account until the CRM's reset when the wait is too long to sleep through.

    Returns the end of the pause, or None for a short wait (the next run retries).
    """
    wait = exc.retry_after
    if wait is None or wait <= ctx.rate_limit_pause_seconds:
        return None
    until = now + timedelta(seconds=wait)
    with ctx.store.begin() as conn:
        ctx.store.pause_account(conn, ctx.account, until=until, reason=str(exc), now=now)
    log.warning("account_paused", until=until.isoformat(), retry_after=wait, error=str(exc))
    return until


def _pull_and_process(
    ctx: SyncContext, since: datetime | None, stats: CycleStats, now: datetime
) -> datetime | None:
    """Process every changed page; return the new cursor (the highest watermark seen)."""
    cursor = since
    for page in ctx.connector.pull_changed(since):
        if ctx.stop.is_set():
            raise CycleAborted
        stats.pages += 1
        stats.add(process_contacts(ctx, page.records, now, trigger="sync"))
        if page.high_watermark is not None and (cursor is None or page.high_watermark > cursor):
            cursor = page.high_watermark
    return cursor


def _retry_failed_contacts(ctx: SyncContext, stats: CycleStats, now: datetime) -> None:
    """Fetch contacts that failed before by id and process them again."""
    with ctx.store.begin() as conn:
        failures = ctx.store.failures(conn, ctx.account)
    due = [f for f in failures if f.attempts < MAX_FAILURE_ATTEMPTS and f.last_failed_at < now]
    contacts: list[Contact | SkippedRecord] = []
    for failure in due[:FAILURE_RETRIES_PER_CYCLE]:
        if ctx.stop.is_set():
            raise CycleAborted
        try:
            contacts.append(ctx.connector.fetch_contact(failure.contact_id))
        except RateLimitedError:
            raise
        except ConnectorError as exc:
            stats.errors += 1
            with ctx.store.begin() as conn:
                _record_failure(ctx, conn, failure.contact_id, "fetch", str(exc), now)
    if contacts:
        log.info("failed_contacts_retried", count=len(contacts))
        stats.add(process_contacts(ctx, contacts, now, trigger="retry"))


def rescore_stored(ctx: SyncContext, *, clock: Clock = utc_now) -> CycleStats:
    """Rescore every stored lead of the account without a CRM pull (time-based rules).

    Writes only what changed, moves stages and records alerts like a cycle.
    An account paused by a rate limit is skipped. A rate limit with a long
    wait pauses the account and ends the rescore, so the leads not reached
    keep their stored scores until the next rescore.
    """
    started = monotonic_time.monotonic()
    now = clock()
    stats = CycleStats()
    paused_until = _paused_until(ctx, now)
    if paused_until is not None:
        log.info("rescore_skipped_paused", paused_until=paused_until.isoformat())
        return stats
    after = ""
    # Each batch is read in its own short transaction, so memory stays at one
    # batch and no transaction is open during CRM writes.
    while not ctx.stop.is_set():
        with ctx.store.begin() as conn:
            batch = ctx.store.lead_batch(conn, ctx.account, after=after, limit=ctx.write_batch_size)
        if not batch:
            break
        after = batch[-1].contact_id
        stats.pages += 1
        contacts = [contact_from_store(stored) for stored in batch]
        try:
            stats.add(process_contacts(ctx, contacts, now, trigger="rescore"))
        except RateLimitedError as exc:
            if _pause_if_long_wait(ctx, exc, now) is None:
                raise
            break
    log.info(
        "rescore_finished",
        scored=stats.scored,
        written=stats.written,
        moved=stats.moved,
        alerted=stats.alerted,
        errors=stats.errors,
        duration_ms=int((monotonic_time.monotonic() - started) * 1000),
    )
    return stats


def pull_outcomes(ctx: SyncContext, *, clock: Clock = utc_now) -> int:
    """Store booking outcomes that happened since the last pull; return how many were read."""
    now = clock()
    with ctx.store.begin() as conn:
        since = ctx.store.get_cursor(conn, ctx.account).outcomes_cursor_at
    # Read everything first so no transaction stays open during CRM calls.
    outcomes = list(ctx.connector.pull_outcomes(since))
    with ctx.store.begin() as conn:
        for outcome in outcomes:
            ctx.store.record_outcome(conn, ctx.account, outcome, now=now)
        ctx.store.set_outcomes_cursor(conn, ctx.account, now, now=now)
    count = len(outcomes)
    log.info("outcomes_pulled", count=count)
    return count

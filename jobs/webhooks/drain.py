"""The daemon job that rescores the contacts queued by webhooks.

Each run claims due queue rows, reads every contact from its CRM with
`connector.fetch_contact(id)`, and hands each account's contacts to the sync's
`process_contacts(ctx, contacts, now)`, which scores them, writes changed
scores and records alerts. CRM calls happen here, outside any store
transaction and never on the receiver's request threads.

A contact the CRM no longer has, or cannot return, is given up at once. A
rate limit, an outage or a configuration error is retried with a growing
delay. The account's other contacts then wait for a later run, so a
struggling CRM is not hammered.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
import structlog

from connectors.base import Contact, CrmConnector
from connectors.errors import (
    ConfigurationError,
    ConnectorError,
    DataShapeError,
    SkippableRecordError,
    TransientError,
)
from jobs.webhooks import queue
from jobs.webhooks.app import error_location
from jobs.webhooks.queue import ClaimedEvent

log = structlog.get_logger(__name__)

DEFAULT_BATCH_SIZE = 100
# Rounds of claim → fetch → process in one run. A run goes on until nothing is
# due, so contacts queued while it worked are not left for the next interval,
# but stops after this many rounds so it cannot hold the job slot for ever.
DEFAULT_MAX_ROUNDS = 10
PRUNE_INTERVAL = timedelta(hours=1)


class AccountContext(Protocol):
    """The part of the sync's per-account context that the drain uses."""

    account: str
    connector: CrmConnector


ProcessContacts = Callable[[Any, Sequence[Contact], datetime], object]


@dataclass
class DrainStats:
    """Counts of one drain run."""

    claimed: int = 0
    processed: int = 0
    retried: int = 0
    given_up: int = 0
    accounts: set[str] = field(default_factory=set)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class WebhookDrain:
    """A callable for the daemon's scheduler: one call drains what is due now.

    `contexts` maps each account key ("<crm>:<account id>") to the sync context
    of that account; `process_contacts(ctx, contacts, now)` is the sync's.
    """

    def __init__(
        self,
        store: object,
        contexts: Mapping[str, AccountContext],
        process_contacts: ProcessContacts,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_rounds: int = DEFAULT_MAX_ROUNDS,
        max_attempts: int = queue.DEFAULT_MAX_ATTEMPTS,
        clock: Callable[[], datetime] = _utcnow,
        stop: threading.Event | None = None,
    ) -> None:
        self.engine: sa.Engine = getattr(store, "engine", store)  # type: ignore[assignment]
        self.contexts = contexts
        self.process_contacts = process_contacts
        self.batch_size = batch_size
        self.max_rounds = max_rounds
        self.max_attempts = max_attempts
        self.clock = clock
        self.stop = stop or threading.Event()
        self._last_pruned: datetime | None = None

    def __call__(self) -> DrainStats:
        stats = DrainStats()
        for _ in range(self.max_rounds):
            if self.stop.is_set():
                break
            now = self.clock()
            with self.engine.begin() as conn:
                claimed = queue.claim_batch(conn, self.batch_size, now=now)
            if not claimed:
                break
            stats.claimed += len(claimed)
            self._drain_claimed(claimed, stats)
        self._prune_now_and_then()
        if stats.claimed:
            log.info(
                "webhook_queue_drained",
                claimed=stats.claimed,
                processed=stats.processed,
                retried=stats.retried,
                given_up=stats.given_up,
                accounts=len(stats.accounts),
            )
        return stats

    def _drain_claimed(self, claimed: Sequence[ClaimedEvent], stats: DrainStats) -> None:
        by_account: dict[str, list[ClaimedEvent]] = {}
        for event in claimed:
            by_account.setdefault(event.account, []).append(event)
        for account, events in by_account.items():
            stats.accounts.add(account)
            context = self.contexts.get(account)
            if context is None:
                log.warning("webhook_account_unknown", account=account, count=len(events))
                for event in events:
                    self._fail(
                        event,
                        f"no CRM connector is configured for account {account}",
                        retry=False,
                        stats=stats,
                    )
                continue
            self._drain_account(context, events, stats)

    def _drain_account(
        self, context: AccountContext, events: Sequence[ClaimedEvent], stats: DrainStats
    ) -> None:
        fetched: list[tuple[ClaimedEvent, Contact]] = []
        for position, event in enumerate(events):
            try:
                contact = context.connector.fetch_contact(event.contact_id)
            except (SkippableRecordError, DataShapeError) as exc:
                log.warning(
                    "webhook_contact_unreadable",
                    account=event.account,
                    contact_id=event.contact_id,
                    error=str(exc),
                )
                self._fail(event, str(exc), retry=False, stats=stats)
                continue
            except (TransientError, ConfigurationError, ConnectorError) as exc:
                # The CRM is down, rate-limiting the worker, or misconfigured,
                # so this contact and the rest of the account wait for a later run.
                log.warning(
                    "webhook_fetch_failed",
                    account=event.account,
                    contact_id=event.contact_id,
                    error_type=type(exc).__name__,
                    error=str(exc),
                    deferred=len(events) - position,
                )
                for waiting in events[position:]:
                    self._fail(waiting, str(exc), retry=True, stats=stats)
                break
            fetched.append((event, contact))

        if not fetched:
            return
        now = self.clock()
        try:
            self.process_contacts(context, [contact for _, contact in fetched], now)
        except Exception as exc:  # retry the batch later and keep the daemon running
            # No traceback: its locals would print the contacts' emails and phones.
            log.error(
                "webhook_processing_failed",
                account=context.account,
                count=len(fetched),
                error_type=type(exc).__name__,
                error=str(exc),
                location=error_location(exc),
            )
            for event, _ in fetched:
                self._fail(event, f"{type(exc).__name__}: {exc}", retry=True, stats=stats)
            return

        with self.engine.begin() as conn:
            for event, _ in fetched:
                queue.mark_done(conn, event, now=self.clock())
        stats.processed += len(fetched)

    def _fail(self, event: ClaimedEvent, error: str, *, retry: bool, stats: DrainStats) -> None:
        with self.engine.begin() as conn:
            status = queue.mark_failed(
                conn, event, error, now=self.clock(), retry=retry, max_attempts=self.max_attempts
            )
        if status == queue.STATUS_PENDING:
            stats.retried += 1
        else:
            stats.given_up += 1
            log.warning(
                "webhook_event_given_up",
                account=event.account,
                contact_id=event.contact_id,
                attempts=event.attempts + 1,
            )

    def _prune_now_and_then(self) -> None:
        now = self.clock()
        if self._last_pruned is not None and now - self._last_pruned < PRUNE_INTERVAL:
            return
        self._last_pruned = now
        with self.engine.begin() as conn:
            deliveries, rows = queue.prune(conn, now=now)
        if deliveries or rows:
            log.info("webhook_queue_pruned", deliveries=deliveries, rows=rows)


def drain_webhook_queue(
    store: object,
    contexts: Mapping[str, AccountContext],
    process_contacts: ProcessContacts,
    **options: Any,
) -> DrainStats:
    """Run one drain of the webhook queue (see `WebhookDrain`)."""
    return WebhookDrain(store, contexts, process_contacts, **options)()

"""The drain job: claimed contacts are fetched, processed, and marked by outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
import structlog

from connectors.base import Contact
from connectors.errors import (
    ConfigurationError,
    RateLimitedError,
    SkippableRecordError,
    TransientError,
)
from jobs.webhooks import queue
from jobs.webhooks.drain import WebhookDrain
from jobs.webhooks.queue import WebhookEvent
from jobs.webhooks.tables import webhook_queue
from scoring.lead import Lead
from tests.webhooks.conftest import FROZEN_NOW

ACCOUNT = "gohighlevel:loc-1"


@dataclass
class ScriptedConnector:
    """A connector whose fetch_contact returns contacts or raises scripted errors by id."""

    errors: dict[str, Exception] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)

    def fetch_contact(self, contact_id: str) -> Contact:
        self.fetched.append(contact_id)
        if contact_id in self.errors:
            raise self.errors[contact_id]
        return Contact(lead=Lead(id=contact_id))


@dataclass
class Context:
    account: str
    connector: ScriptedConnector


class Recorder:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.error = error

    def __call__(self, ctx, contacts, now):
        self.calls.append((ctx.account, [contact.id for contact in contacts]))
        if self.error is not None:
            raise self.error


def enqueue(store, *contact_ids: str, account: str = ACCOUNT) -> None:
    with store.engine.begin() as conn:
        queue.enqueue(
            conn,
            [WebhookEvent(account, cid, "ContactUpdate", FROZEN_NOW) for cid in contact_ids],
            now=FROZEN_NOW,
        )


def statuses(store) -> dict[str, tuple[str, int]]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(webhook_queue)).all()
    return {row.contact_id: (row.status, row.attempts) for row in rows}


def make_drain(store, connector, recorder, **options) -> WebhookDrain:
    options.setdefault("clock", lambda: FROZEN_NOW)
    return WebhookDrain(store, {ACCOUNT: Context(ACCOUNT, connector)}, recorder, **options)


def test_drain_processes_each_account_batch(sqlite_store):
    enqueue(sqlite_store, "c-1", "c-2")
    connector, recorder = ScriptedConnector(), Recorder()

    stats = make_drain(sqlite_store, connector, recorder)()

    assert recorder.calls == [(ACCOUNT, ["c-1", "c-2"])]
    assert stats.processed == 2
    assert statuses(sqlite_store) == {"c-1": ("done", 0), "c-2": ("done", 0)}


def test_drain_gives_up_on_missing_contact(sqlite_store):
    enqueue(sqlite_store, "gone", "c-2")
    connector = ScriptedConnector(errors={"gone": SkippableRecordError("contact not found")})
    recorder = Recorder()

    stats = make_drain(sqlite_store, connector, recorder)()

    assert recorder.calls == [(ACCOUNT, ["c-2"])]
    assert stats.given_up == 1
    assert statuses(sqlite_store) == {"gone": ("failed", 1), "c-2": ("done", 0)}


def test_drain_defers_rest_of_account_on_rate_limit(sqlite_store):
    enqueue(sqlite_store, "a-1", "b-limited", "c-3")
    connector = ScriptedConnector(
        errors={"b-limited": RateLimitedError("slow down", retry_after=10)}
    )
    recorder = Recorder()

    stats = make_drain(sqlite_store, connector, recorder)()

    assert connector.fetched == ["a-1", "b-limited"]
    assert recorder.calls == [(ACCOUNT, ["a-1"])]
    assert stats.retried == 2
    assert statuses(sqlite_store) == {
        "a-1": ("done", 0),
        "b-limited": ("pending", 1),
        "c-3": ("pending", 1),
    }


def test_drain_retries_batch_when_processing_fails(sqlite_store):
    enqueue(sqlite_store, "c-1", "c-2")
    recorder = Recorder(error=TransientError("HTTP 503 on batch update"))

    stats = make_drain(sqlite_store, ScriptedConnector(), recorder)()

    assert stats.retried == 2
    assert statuses(sqlite_store) == {"c-1": ("pending", 1), "c-2": ("pending", 1)}


def test_drain_retry_waits_for_delay(sqlite_store):
    enqueue(sqlite_store, "c-1")
    connector = ScriptedConnector(errors={"c-1": ConfigurationError("token expired")})
    now = [FROZEN_NOW]
    drain = make_drain(sqlite_store, connector, Recorder(), clock=lambda: now[0])

    drain()
    now[0] = FROZEN_NOW + timedelta(seconds=29)
    too_early = drain()
    now[0] = FROZEN_NOW + timedelta(seconds=31)
    connector.errors.clear()
    due = drain()

    assert too_early.claimed == 0
    assert due.processed == 1
    assert statuses(sqlite_store) == {"c-1": ("done", 0)}


def test_drain_gives_up_on_unknown_account(sqlite_store):
    enqueue(sqlite_store, "c-1", account="hubspot:999")
    recorder = Recorder()

    stats = make_drain(sqlite_store, ScriptedConnector(), recorder)()

    assert recorder.calls == []
    assert stats.given_up == 1
    with sqlite_store.engine.connect() as conn:
        error = conn.execute(sa.select(webhook_queue.c.last_error)).scalar_one()
    assert "hubspot:999" in error


def test_drain_runs_several_rounds_until_empty(sqlite_store):
    enqueue(sqlite_store, *(f"c-{number}" for number in range(25)))
    recorder = Recorder()

    stats = make_drain(sqlite_store, ScriptedConnector(), recorder, batch_size=10)()

    assert [len(ids) for _, ids in recorder.calls] == [10, 10, 5]
    assert stats.processed == 25


def test_drain_stops_when_stop_event_set(sqlite_store):
    import threading

    enqueue(sqlite_store, "c-1")
    stop = threading.Event()
    stop.set()

    stats = make_drain(sqlite_store, ScriptedConnector(), Recorder(), stop=stop)()

    assert stats.claimed == 0
    assert statuses(sqlite_store) == {"c-1": ("pending", 0)}


def test_processing_failure_logs_no_contact_details(sqlite_store):
    enqueue(sqlite_store, "c-1")

    class EmailConnector(ScriptedConnector):
        def fetch_contact(self, contact_id: str) -> Contact:
            return Contact(lead=Lead(id=contact_id), email="jane.doe@example.test")

    recorder = Recorder(error=ValueError("bad facts"))

    with structlog.testing.capture_logs() as logs:
        make_drain(sqlite_store, EmailConnector(), recorder)()

    [failure] = [entry for entry in logs if entry["event"] == "webhook_processing_failed"]
    assert failure["error_type"] == "ValueError"
    assert "exc_info" not in failure
    assert "jane.doe@example.test" not in repr(logs)

"""The webhook queue on SQLite and PostgreSQL: collapsing, claiming, retries, pruning."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from jobs.webhooks import queue
from jobs.webhooks.queue import WebhookEvent
from jobs.webhooks.tables import webhook_deliveries, webhook_queue
from tests.webhooks.conftest import FROZEN_NOW

ACCOUNT = "hubspot:62515"
T0 = FROZEN_NOW


def event(contact_id: str, kind: str = "contact.propertyChange", minutes: int = 0) -> WebhookEvent:
    return WebhookEvent(ACCOUNT, contact_id, kind, T0 + timedelta(minutes=minutes))


def enqueue(store, *events, now=T0) -> int:
    with store.engine.begin() as conn:
        return queue.enqueue(conn, events, now=now)


def claim(store, limit=10, now=T0):
    with store.engine.begin() as conn:
        return queue.claim_batch(conn, limit, now=now)


def row_of(store, contact_id: str):
    with store.engine.connect() as conn:
        return conn.execute(
            sa.select(webhook_queue).where(webhook_queue.c.contact_id == contact_id)
        ).one()


def test_enqueue_collapses_events_per_contact(store):
    count = enqueue(store, event("1"), event("1", "contact.creation", -1), event("2"))

    assert count == 2
    first = row_of(store, "1")
    assert first.status == "pending"
    assert first.event_kinds == "contact.creation,contact.propertyChange"
    assert first.last_kind == "contact.propertyChange"


def test_claim_returns_oldest_first_and_marks_processing(store):
    enqueue(store, event("late"), now=T0 + timedelta(seconds=5))
    enqueue(store, event("early"), now=T0)

    claimed = claim(store, now=T0 + timedelta(seconds=10))

    assert [item.contact_id for item in claimed] == ["early", "late"]
    assert claimed[0].received_at == T0
    assert claimed[0].event_kind == "contact.propertyChange"
    assert row_of(store, "early").status == "processing"
    assert claim(store, now=T0 + timedelta(seconds=11)) == []


def test_claim_respects_limit(store):
    enqueue(store, *(event(str(number)) for number in range(5)))

    first = claim(store, limit=3)
    second = claim(store, limit=3)

    assert len(first) == 3
    assert len(second) == 2
    assert {item.contact_id for item in first} | {item.contact_id for item in second} == {
        "0",
        "1",
        "2",
        "3",
        "4",
    }


def test_event_during_processing_requeues_after_done(store):
    enqueue(store, event("1"))
    [claimed] = claim(store)
    enqueue(store, event("1", "contact.merge", 1), now=T0 + timedelta(seconds=30))

    with store.engine.begin() as conn:
        queue.mark_done(conn, claimed, now=T0 + timedelta(seconds=31))

    row = row_of(store, "1")
    assert row.status == "pending"
    assert row.rerun is False
    assert [item.contact_id for item in claim(store, now=T0 + timedelta(seconds=32))] == ["1"]


def test_done_row_reopens_on_new_event(store):
    enqueue(store, event("1"))
    [claimed] = claim(store)
    with store.engine.begin() as conn:
        queue.mark_done(conn, claimed, now=T0)
    done = row_of(store, "1")

    enqueue(store, event("1", "contact.creation", 5), now=T0 + timedelta(minutes=5))

    reopened = row_of(store, "1")
    assert done.status == "done"
    assert reopened.status == "pending"
    assert reopened.event_kinds == "contact.creation"
    assert reopened.received_at == T0 + timedelta(minutes=5)


def test_older_event_never_moves_occurred_at_back(store):
    enqueue(store, event("1", "contact.propertyChange", 10))
    enqueue(store, event("1", "contact.creation", 0))

    row = row_of(store, "1")

    assert row.occurred_at == T0 + timedelta(minutes=10)
    assert row.last_kind == "contact.propertyChange"


def test_failed_attempt_retries_with_growing_delay(store):
    enqueue(store, event("1"))
    delays = []
    now = T0
    for _ in range(3):
        [claimed] = claim(store, now=now)
        with store.engine.begin() as conn:
            status = queue.mark_failed(conn, claimed, "HTTP 503", now=now)
        assert status == "pending"
        row = row_of(store, "1")
        delays.append(row.next_attempt_at - now)
        assert claim(store, now=row.next_attempt_at - timedelta(seconds=1)) == []
        now = row.next_attempt_at

    assert delays == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert row_of(store, "1").last_error == "HTTP 503"


def test_failed_attempt_gives_up_after_max_attempts(store):
    enqueue(store, event("1"))
    now = T0
    statuses = []
    for _ in range(3):
        [claimed] = claim(store, now=now)
        with store.engine.begin() as conn:
            statuses.append(queue.mark_failed(conn, claimed, "timeout", now=now, max_attempts=3))
        now += timedelta(hours=1)

    assert statuses == ["pending", "pending", "failed"]
    assert claim(store, now=now) == []
    assert row_of(store, "1").attempts == 3


def test_failed_without_retry_gives_up_at_once(store):
    enqueue(store, event("1"))
    [claimed] = claim(store)

    with store.engine.begin() as conn:
        status = queue.mark_failed(conn, claimed, "contact not found", now=T0, retry=False)

    assert status == "failed"
    assert row_of(store, "1").last_error == "contact not found"


def test_retry_delay_capped_at_thirty_minutes():
    assert queue.retry_delay(1) == timedelta(seconds=30)
    assert queue.retry_delay(20) == timedelta(minutes=30)


def test_abandoned_claim_handed_out_after_lease(store):
    enqueue(store, event("1"))
    claim(store, now=T0)

    before_lease = claim(store, now=T0 + timedelta(minutes=9))
    after_lease = claim(store, now=T0 + timedelta(minutes=11))

    assert before_lease == []
    assert [item.contact_id for item in after_lease] == ["1"]


def test_record_delivery_detects_duplicates(store):
    with store.engine.begin() as conn:
        first = queue.record_delivery(conn, "hubspot:1:2:3::4", ACCOUNT, now=T0)
        again = queue.record_delivery(conn, "hubspot:1:2:3::4", ACCOUNT, now=T0)

    assert first is True
    assert again is False


def test_prune_deletes_old_deliveries_and_done_rows(store):
    with store.engine.begin() as conn:
        queue.record_delivery(conn, "old", ACCOUNT, now=T0 - timedelta(days=3))
        queue.record_delivery(conn, "recent", ACCOUNT, now=T0 - timedelta(hours=1))
    enqueue(store, event("done-long-ago"), event("still-pending"), now=T0 - timedelta(days=10))
    [first, _] = sorted(claim(store, now=T0 - timedelta(days=10)), key=lambda item: item.contact_id)
    with store.engine.begin() as conn:
        queue.mark_done(conn, first, now=T0 - timedelta(days=10))
        # Put the other row back to pending by hand: only done rows may go.
        conn.execute(
            sa.update(webhook_queue)
            .where(webhook_queue.c.contact_id == "still-pending")
            .values(status="pending")
        )

    with store.engine.begin() as conn:
        deleted = queue.prune(conn, now=T0)

    with store.engine.connect() as conn:
        keys = conn.execute(sa.select(webhook_deliveries.c.delivery_key)).scalars().all()
        contacts = conn.execute(sa.select(webhook_queue.c.contact_id)).scalars().all()
    assert deleted == (1, 1)
    assert keys == ["recent"]
    assert contacts == ["still-pending"]


def test_queue_stats_counts_states(store):
    enqueue(store, event("1"), now=T0)
    enqueue(store, event("2"), event("3"), now=T0 + timedelta(seconds=5))
    [claimed] = claim(store, limit=1)
    with store.engine.begin() as conn:
        queue.mark_failed(conn, claimed, "gone", now=T0, retry=False)
        stats = queue.queue_stats(conn)

    assert stats.pending == 2
    assert stats.failed == 1
    assert stats.processing == 0
    assert stats.oldest_pending_at == T0 + timedelta(seconds=5)


def test_tags_round_trip_lower_cased(store):
    with store.engine.begin() as conn:
        missing = queue.read_tags(conn, ACCOUNT, "1")
        queue.write_tags(conn, ACCOUNT, "1", ["VIP", " botox "], now=T0)
        queue.write_tags(conn, ACCOUNT, "1", ["VIP", "hot-lead"], now=T0)
        stored = queue.read_tags(conn, ACCOUNT, "1")

    assert missing is None
    assert stored == frozenset({"vip", "hot-lead"})


@pytest.mark.parametrize(
    "kinds",
    [["a" * 60], [f"kind-{n:03d}-" + "x" * 40 for n in range(30)]],
    ids=["one_kind", "many_kinds"],
)
def test_event_kinds_stay_within_column(store, kinds):
    enqueue(store, *(WebhookEvent(ACCOUNT, "1", kind, T0) for kind in kinds))

    row = row_of(store, "1")

    assert len(row.event_kinds) <= 500
    assert row.event_kinds.endswith(kinds[-1])


def test_failure_with_new_event_stays_pending(store):
    enqueue(store, event("1"))
    [claimed] = claim(store)
    enqueue(store, event("1", "contact.propertyChange", 1), now=T0 + timedelta(seconds=1))

    with store.engine.begin() as conn:
        status = queue.mark_failed(conn, claimed, "contact not found", now=T0, retry=False)

    row = row_of(store, "1")
    assert status == "pending"
    assert row.attempts == 0
    assert row.rerun is False
    assert row.next_attempt_at == T0 + timedelta(seconds=30)

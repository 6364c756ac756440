"""A webhook rescoring a lead through the real daemon, fake CRM and alert channel on loopback."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from jobs.webhooks.tables import webhook_queue
from tests.webhooks.e2e import running_worker


def wait_for_queue_statuses(store, expected: list[str], timeout: float = 10) -> list[str]:
    """Poll the webhook queue until its statuses are `expected`; return the last ones read.

    The alert can arrive before the drain has marked its row done, because the
    job wakes the outbox as soon as the alert is stored, before the score write.
    """
    deadline = time.monotonic() + timeout
    while True:
        with store.begin() as conn:
            statuses = conn.execute(sa.select(webhook_queue.c.status)).scalars().all()
        if statuses == expected or time.monotonic() > deadline:
            return statuses
        time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.parametrize("crm", ["gohighlevel", "hubspot"], ids=str)
def test_webhook_alerts_hot_lead_without_polling(tmp_path, crm):
    # Polling runs once at start and then only hourly, and the drain's own
    # interval is a minute, so only the webhook's wake-up can be this fast.
    with running_worker(tmp_path, crm=crm) as worker:
        contact_id = worker.add_hot_lead("Webhookhot")
        sent_at = time.monotonic()

        response = worker.send_contact_webhook(contact_id)
        alerted_at = worker.wait_for_alert("Webhookhot", timeout=15)

        store = worker.daemon.runtime.store
        statuses = wait_for_queue_statuses(store, ["done"])
        with store.begin() as conn:
            history = store.history(conn, worker.daemon.runtime.contexts[0].account, contact_id)

    assert response.status_code == 200
    assert response.json()["queued"] == 1
    assert alerted_at is not None
    assert alerted_at - sent_at < 10
    assert statuses == ["done"]
    assert history[0].trigger == "webhook"


@pytest.mark.slow
def test_own_alert_tag_echo_not_rescored(tmp_path):
    with running_worker(tmp_path) as worker:
        contact_id = worker.add_hot_lead("ctEcho")
        worker.send_contact_webhook(contact_id, "ContactUpdate")
        assert worker.wait_for_alert("ctEcho", timeout=15) is not None

        echo = worker.send_contact_webhook(contact_id, "ContactTagUpdate", tags=("lead-tier-hot",))
        statuses = wait_for_queue_statuses(worker.daemon.runtime.store, ["done"])

    assert echo.status_code == 200
    assert echo.json()["own_writes"] == 1
    assert statuses == ["done"]


@pytest.mark.slow
def test_webhook_burst_drained_while_sync_keeps_running(tmp_path):
    contacts = 200
    with running_worker(tmp_path, crm="hubspot", sync_interval_seconds=5) as worker:
        heartbeat = tmp_path / "heartbeat"
        beat_before = heartbeat.stat().st_mtime
        ids = [worker.add_hot_lead(f"Burst{number:03d}") for number in range(contacts)]
        batches = [ids[start : start + 10] for start in range(0, contacts, 10)]

        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = [
                response.status_code for response in pool.map(worker.send_hubspot_batch, batches)
            ]
        store = worker.daemon.runtime.store
        deadline = time.monotonic() + 60
        done = 0
        while time.monotonic() < deadline:
            with store.begin() as conn:
                done = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(webhook_queue)
                    .where(webhook_queue.c.status == "done")
                ).scalar_one()
            if done == contacts and heartbeat.stat().st_mtime > beat_before:
                break
            time.sleep(0.1)
        account = worker.daemon.runtime.contexts[0].account
        with store.begin() as conn:
            first_triggers = {
                contact_id: store.history(conn, account, contact_id)[-1].trigger
                for contact_id in ids
            }

    assert set(statuses) == {200}
    assert done == contacts
    assert heartbeat.stat().st_mtime > beat_before
    # Each lead was first scored by whichever path reached it first; none was lost.
    assert set(first_triggers.values()) <= {"webhook", "sync"}
    assert "webhook" in set(first_triggers.values())

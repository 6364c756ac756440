"""A flood of 1,000 webhook requests on loopback: nothing lost, the scheduler keeps running."""

from __future__ import annotations

import itertools
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler

from jobs.store.schema import sync_cursors
from jobs.webhooks.tables import webhook_queue
from tests.webhooks.conftest import FROZEN_NOW, GENERIC_ACCOUNT, GENERIC_TOKEN, HUBSPOT_SECRET
from tests.webhooks.signing import ghl_body, ghl_headers, hubspot_event, hubspot_headers, millis

REQUESTS = 1000
CLIENT_THREADS = 4
HUBSPOT_URL = "https://hooks.example-spa.test/webhooks/hubspot"


def _build_request(number: int, base_url: str, ed25519_key) -> tuple[str, bytes, dict, tuple]:
    """Return (url, body, headers, queued key) for request `number`, cycling through routes."""
    route = number % 3
    if route == 0:
        contact_id = 100_000 + number
        body = json.dumps([hubspot_event(contact_id, FROZEN_NOW)]).encode()
        headers = hubspot_headers(HUBSPOT_SECRET, HUBSPOT_URL, body, str(millis(FROZEN_NOW)))
        return base_url + "/webhooks/hubspot", body, headers, ("hubspot:62515", str(contact_id))
    if route == 1:
        contact_id = f"ghl-{number}"
        body = ghl_body(
            "ContactUpdate",
            webhook_id=f"flood-{number}",
            timestamp=FROZEN_NOW.isoformat(),
            id=contact_id,
        )
        return (
            base_url + "/webhooks/gohighlevel",
            body,
            ghl_headers(ed25519_key, body),
            ("gohighlevel:loc-1", contact_id),
        )
    contact_id = f"generic-{number}"
    body = json.dumps({"contact_id": contact_id}).encode()
    headers = {"Content-Type": "application/json", "X-Leadscore-Token": GENERIC_TOKEN}
    return (
        base_url + f"/webhooks/generic/{GENERIC_ACCOUNT}",
        body,
        headers,
        (GENERIC_ACCOUNT, contact_id),
    )


@pytest.mark.slow
def test_flood_loses_no_event(start_receiver, settings, store, ed25519_key):
    receiver = start_receiver(settings, store)
    prepared = [_build_request(number, receiver.url, ed25519_key) for number in range(REQUESTS)]

    # A stand-in for the daemon's cycle: a scheduler job that writes to the same store.
    ticks: list[float] = []
    tick_errors: list[BaseException] = []

    def cycle() -> None:
        try:
            with store.engine.begin() as conn:
                conn.execute(sa.delete(sync_cursors).where(sync_cursors.c.account == "probe"))
                conn.execute(
                    sa.insert(sync_cursors).values(
                        account="probe", updated_at=FROZEN_NOW + timedelta(seconds=len(ticks))
                    )
                )
            ticks.append(time.monotonic())
        except BaseException as exc:
            tick_errors.append(exc)

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        cycle,
        "interval",
        seconds=0.1,
        id="probe_cycle",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=5,
    )
    statuses: dict[int, int] = {}
    status_lock = threading.Lock()

    def send(number: int) -> None:
        url, body, headers, _ = prepared[number]
        with requests.Session() as session:
            response = session.post(url, data=body, headers=headers, timeout=30)
        with status_lock:
            statuses[number] = response.status_code

    scheduler.start()
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
            list(pool.map(send, range(REQUESTS)))
        finished = time.monotonic()
    finally:
        scheduler.shutdown(wait=True)

    with store.engine.connect() as conn:
        queued = set(conn.execute(sa.select(webhook_queue.c.account, webhook_queue.c.contact_id)))
    expected = {request[3] for request in prepared}
    ticks_during_flood = [tick for tick in ticks if started <= tick <= finished]
    gaps = [later - earlier for earlier, later in itertools.pairwise(ticks_during_flood)]

    assert len(statuses) == REQUESTS
    assert set(statuses.values()) == {200}
    assert queued == expected
    assert tick_errors == []
    assert len(ticks_during_flood) >= 3
    # Generous for a shared 2-core machine: the job must not stall behind the flood.
    assert max(gaps, default=0) < 3.0


def test_concurrent_same_contact_events_collapse(start_receiver, settings, store):
    receiver = start_receiver(settings, store)
    url = receiver.url + f"/webhooks/generic/{GENERIC_ACCOUNT}"
    headers = {"X-Leadscore-Token": GENERIC_TOKEN}

    def send(number: int) -> int:
        body = {"contact_id": f"contact-{number % 10}"}
        return requests.post(url, json=body, headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
        statuses = list(pool.map(send, range(200)))

    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(webhook_queue.c.contact_id, webhook_queue.c.status)).all()
    assert set(statuses) == {200}
    assert sorted(contact for contact, _ in rows) == [f"contact-{n}" for n in range(10)]
    assert {status for _, status in rows} == {"pending"}

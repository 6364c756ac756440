"""The CRM channel through the real HubSpot connector and its stateful fake.

A worker that dies after creating the task and before recording it sends the
delivery again once the lease ends; the key in the task body makes the
connector find the first task instead of creating a second one.
"""

from datetime import UTC, datetime, timedelta

import pytest
import responses
import sqlalchemy as sa

from jobs.alerts import build_channels, deliver_pending
from jobs.alerts.tables import Status, alert_deliveries
from tests.alerts.conftest import ACCOUNT, delivery_rows, make_settings, record_first_score
from tests.fakes.hubspot import FakeHubSpot, SimulatedClock
from tests.hubspot.conftest import BASE_URL, build_connector

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TASKS_PATH = r"^/crm/v3/objects/tasks$"


@pytest.fixture
def hubspot():
    clock = SimulatedClock(start=START.timestamp())
    fake = FakeHubSpot(clock=clock)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps, BASE_URL)
        connector = build_connector(clock)
        yield fake, connector
        connector.close()
    assert fake.spec_problems == []


def test_hubspot_task_survives_crash_as_one(sqlite_engine, model, hubspot):
    fake, connector = hubspot
    contact_id = fake.add_contact({"firstname": "Jane"})
    settings = make_settings(channels="crm", lease_seconds=120)
    record_first_score(sqlite_engine, model, settings, START, str(contact_id), 90)
    channels = build_channels(settings, {ACCOUNT: connector})
    deliver_pending(sqlite_engine, channels, START, settings)
    [delivery] = delivery_rows(sqlite_engine)
    assert delivery.status == "sent"
    first_task = delivery.receipt

    # Put the row back as a crash between sending and recording leaves it.
    with sqlite_engine.begin() as conn:
        conn.execute(
            sa.update(alert_deliveries).values(
                status=Status.SENDING, lease_until=START + timedelta(seconds=120), sent_at=None
            )
        )
    report = deliver_pending(sqlite_engine, channels, START + timedelta(seconds=120), settings)
    assert report.sent == 1
    [delivery] = delivery_rows(sqlite_engine)
    assert delivery.receipt == first_task
    assert delivery.attempts == 2
    assert len(fake.objects["tasks"]) == 1
    assert len(fake.calls_to("POST", TASKS_PATH)) == 1
    task = fake.objects["tasks"][first_task].properties
    assert task["hubspot_owner_id"] == "77"
    assert "Jane Doe" in task["hs_task_subject"]

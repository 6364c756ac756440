"""Business hours hold and release, with a frozen clock in New York across DST changes."""

from datetime import UTC, datetime, timedelta

import pytest

from jobs.alerts import build_channels, deliver_pending
from tests.alerts.conftest import ACCOUNT, alert_rows, delivery_rows, record_first_score
from tests.alerts.conftest import make_settings as base_settings
from tests.alerts.test_crm_channel import TaskCrm


def make_settings(receiver):
    return base_settings(
        channels="crm,webhook",
        webhook_url=receiver.url,
        timezone="America/New_York",
        business_hours="Mon-Fri 09:00-17:00",
        crm_after_hours="send",
        webhook_after_hours="hold",
    )


@pytest.mark.parametrize(
    ("saturday_evening", "monday_opening"),
    [
        # DST starts Sunday 8 March 2026: Saturday is EST, Monday 09:00 is EDT (13:00 UTC).
        (datetime(2026, 3, 8, 1, 0, tzinfo=UTC), datetime(2026, 3, 9, 13, 0, tzinfo=UTC)),
        # DST ends Sunday 1 November 2026: Saturday is EDT, Monday 09:00 is EST (14:00 UTC).
        (datetime(2026, 11, 1, 0, 0, tzinfo=UTC), datetime(2026, 11, 2, 14, 0, tzinfo=UTC)),
    ],
    ids=["march-change", "november-change"],
)
def test_weekend_alerts_held_until_monday_opening(
    engine, model, receiver, saturday_evening, monday_opening
):
    settings = make_settings(receiver)
    crm = TaskCrm()
    channels = build_channels(settings, {ACCOUNT: crm})
    arrivals = [("501", 80), ("502", 92), ("503", 85), ("504", 92)]
    for offset, (contact_id, score) in enumerate(arrivals):
        record_first_score(
            engine, model, settings, saturday_evening + timedelta(minutes=offset), contact_id, score
        )
    held = {row.channel: row.status for row in delivery_rows(engine) if row.alert_id == 1}
    assert held == {"crm": "pending", "webhook": "held"}
    assert {row.next_attempt_at for row in delivery_rows(engine) if row.channel == "webhook"} == {
        monday_opening
    }

    # The CRM channel sends at once; the webhook waits through the weekend.
    report = deliver_pending(engine, channels, saturday_evening + timedelta(minutes=5), settings)
    assert report.sent == 4
    assert len(crm.tasks) == 4
    assert receiver.requests == []
    assert {row.status for row in alert_rows(engine)} == {"held"}
    assert {row.hold_reason for row in alert_rows(engine)} == {"after_hours"}

    one_minute_early = monday_opening - timedelta(minutes=1)
    assert deliver_pending(engine, channels, one_minute_early, settings).results == []
    assert receiver.requests == []

    report = deliver_pending(engine, channels, monday_opening, settings)
    assert report.sent == 4
    subjects = [request.json()["text"].splitlines()[0] for request in receiver.requests]
    # Hottest first; equal scores in arrival order.
    assert subjects == [
        "Hot lead: Jane Doe for Botox, score 92",
        "Hot lead: Jane Doe for Botox, score 92",
        "Hot lead: Jane Doe for Botox, score 85",
        "Hot lead: Jane Doe for Botox, score 80",
    ]
    keys = [request.headers["X-Leadscore-Idempotency-Key"] for request in receiver.requests]
    assert keys[:2] == ["leadscore-alert-2-webhook", "leadscore-alert-4-webhook"]
    assert {row.status for row in alert_rows(engine)} == {"sent"}


def test_retry_falling_after_closing_waits_for_opening(engine, model, receiver):
    settings = make_settings(receiver)
    friday_1659 = datetime(2026, 3, 6, 21, 59, tzinfo=UTC)  # 16:59 EST
    record_first_score(engine, model, settings, friday_1659, "601", 90)
    receiver.fail_next(1)
    channels = build_channels(settings, {ACCOUNT: TaskCrm()})
    deliver_pending(engine, channels, friday_1659, settings)
    # The retry is due at 16:59:30, but the spa closed at 17:00.
    report = deliver_pending(engine, channels, friday_1659 + timedelta(minutes=2), settings)
    assert [result.status for result in report.results] == ["held"]
    webhook = next(row for row in delivery_rows(engine) if row.channel == "webhook")
    assert webhook.status == "held"
    assert webhook.next_attempt_at == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    assert webhook.attempts == 1

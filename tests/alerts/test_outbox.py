from datetime import UTC, datetime, time, timedelta

from jobs.alerts import deliver_pending, record_score_change
from tests.alerts.conftest import (
    ACCOUNT,
    alert_rows,
    delivery_rows,
    make_contact,
    make_score,
    make_settings,
)

START = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # Wednesday 10:00 in New York


class RecordingChannel:
    """A channel that keeps what it was asked to send (for outbox logic, not transport)."""

    def __init__(self, name: str = "webhook") -> None:
        self.name = name
        self.sent = []

    def send(self, notice, idempotency_key):
        self.sent.append((notice, idempotency_key))
        return "ok"


def score_sequence(
    engine, model, scores, *, contact_id="101", start=START, step=timedelta(hours=1), settings=None
):
    """Feed a lead's successive scores through the outbox; return the alert ids (None kept)."""
    settings = settings or make_settings()
    results = []
    previous = None
    now = start
    for value in scores:
        current = make_score(value, contact_id=contact_id)
        with engine.begin() as conn:
            results.append(
                record_score_change(
                    conn,
                    account=ACCOUNT,
                    contact=make_contact(contact_id),
                    previous=previous,
                    current=current,
                    model=model,
                    now=now,
                    settings=settings,
                )
            )
        previous = current
        now += step
    return results


def test_crossing_fires_once(engine, model):
    ids = score_sequence(engine, model, [40, 60, 78, 85, 90])
    assert [alert_id is not None for alert_id in ids] == [False, False, True, False, False]
    rows = alert_rows(engine)
    assert len(rows) == 1
    assert rows[0].score == 78
    assert rows[0].previous_score == 60
    assert rows[0].threshold == 75


def test_bouncing_around_threshold_does_not_alert_again(engine, model):
    ids = score_sequence(engine, model, [70, 76, 73, 77, 74, 79])
    assert sum(alert_id is not None for alert_id in ids) == 1
    assert len(alert_rows(engine)) == 1


def test_real_rise_after_cooldown_alerts_again(engine, model):
    ids = score_sequence(engine, model, [80, 40, 82], step=timedelta(days=4))
    # Day 0 alerts; day 8 is past the 7-day cool-down, so the new rise alerts.
    assert [alert_id is not None for alert_id in ids] == [True, False, True]


def test_rise_inside_cooldown_is_suppressed(engine, model):
    ids = score_sequence(engine, model, [80, 40, 82], step=timedelta(days=3))
    assert [alert_id is not None for alert_id in ids] == [True, False, False]


def test_cooldown_setting_shortens_window(engine, model):
    settings = make_settings(cooldown_hours=24)
    ids = score_sequence(engine, model, [80, 40, 82], step=timedelta(hours=13), settings=settings)
    assert [alert_id is not None for alert_id in ids] == [True, False, True]


def test_lead_warming_over_days_alerts(engine, model):
    ids = score_sequence(engine, model, [55, 62, 69, 75], step=timedelta(days=1))
    assert ids[-1] is not None
    assert alert_rows(engine)[0].created_at == START + timedelta(days=3)


def test_disqualified_lead_never_alerts(engine, model):
    from scoring.result import Tier

    current = make_score(96, tier=Tier.DISQUALIFIED, disqualified_by=("spam_test_lead",))
    with engine.begin() as conn:
        alert_id = record_score_change(
            conn,
            account=ACCOUNT,
            contact=make_contact(),
            previous=None,
            current=current,
            model=model,
            now=START,
            settings=make_settings(),
        )
    assert alert_id is None
    assert alert_rows(engine) == []


def test_alerts_disabled_records_nothing(engine, model):
    ids = score_sequence(engine, model, [90], settings=make_settings(enabled=False))
    assert ids == [None]
    assert alert_rows(engine) == []


def test_no_channels_records_nothing(engine, model):
    ids = score_sequence(engine, model, [90], settings=make_settings(channels=""))
    assert ids == [None]
    assert alert_rows(engine) == []


def test_alert_rolls_back_with_sync_transaction(engine, model):
    try:
        with engine.begin() as conn:
            record_score_change(
                conn,
                account=ACCOUNT,
                contact=make_contact(),
                previous=None,
                current=make_score(90),
                model=model,
                now=START,
                settings=make_settings(),
            )
            raise RuntimeError("score write failed")
    except RuntimeError:
        pass
    assert alert_rows(engine) == []


def test_alert_payload_keeps_what_staff_need(engine, model):
    score_sequence(engine, model, [88])
    payload = alert_rows(engine)[0].payload
    assert payload["name"] == "Jane Doe"
    assert payload["phone"] == "+1 415 555 0134"
    assert payload["email"] == "jane.doe@example.com"
    assert payload["treatment"] == "Botox"
    assert payload["reasons"] == [
        'timeline "This week" → +30',
        'budget "$1,000+" → +20',
        "pricing page visit → +10",
    ]
    assert payload["inquired_at"] == "2026-03-02T14:05:00+00:00"
    assert payload["record_url"].endswith("/101")


def test_one_delivery_per_configured_channel(engine, model):
    score_sequence(engine, model, [88], settings=make_settings(channels="crm,webhook,email"))
    deliveries = delivery_rows(engine)
    assert [row.channel for row in deliveries] == ["crm", "webhook", "email"]
    assert {row.status for row in deliveries} == {"pending"}
    assert {row.attempts for row in deliveries} == {0}


def test_daily_cap_sends_rest_in_digest_hottest_first(engine, model):
    settings = make_settings(daily_cap=2, digest_time=time(17, 0))
    scores = {"201": 80, "202": 85, "203": 91, "204": 78, "205": 96}
    for offset, (contact_id, value) in enumerate(scores.items()):
        score_sequence(
            engine,
            model,
            [value],
            contact_id=contact_id,
            start=START + timedelta(minutes=offset),
            settings=settings,
        )
    rows = alert_rows(engine)
    assert [row.route for row in rows] == ["immediate", "immediate", "digest", "digest", "digest"]
    assert [row.status for row in rows[2:]] == ["held", "held", "held"]
    assert {row.hold_reason for row in rows[2:]} == {"daily_cap"}
    # 17:00 EST on 4 March is 22:00 UTC.
    assert {row.release_at for row in rows[2:]} == {datetime(2026, 3, 4, 22, 0, tzinfo=UTC)}

    channel = RecordingChannel()
    report = deliver_pending(engine, [channel], START + timedelta(hours=1), settings)
    assert report.sent == 2
    assert report.digests_created == 0
    assert [notice.leads[0].contact_id for notice, _ in channel.sent] == ["202", "201"]

    report = deliver_pending(engine, [channel], datetime(2026, 3, 4, 22, 0, tzinfo=UTC), settings)
    assert report.digests_created == 1
    digest, key = channel.sent[-1]
    assert digest.is_digest is True
    assert [lead.contact_id for lead in digest.leads] == ["205", "203", "204"]
    assert key == f"leadscore-alert-{digest.alert_id}-webhook"
    statuses = {row.contact_id: row.status for row in alert_rows(engine) if row.contact_id}
    assert statuses == {"201": "sent", "202": "sent", "203": "sent", "204": "sent", "205": "sent"}


def test_daily_cap_resets_on_spa_local_day(engine, model):
    settings = make_settings(daily_cap=1)
    # 23:30 in New York on 4 March (04:30 UTC on 5 March), then 00:30 on 5 March.
    late = datetime(2026, 3, 5, 4, 30, tzinfo=UTC)
    score_sequence(
        engine, model, [80], contact_id="301", start=late - timedelta(hours=1), settings=settings
    )
    score_sequence(engine, model, [80], contact_id="302", start=late, settings=settings)
    score_sequence(
        engine, model, [80], contact_id="303", start=late + timedelta(hours=1), settings=settings
    )
    routes = {row.contact_id: (row.local_day, row.route) for row in alert_rows(engine)}
    assert routes == {
        "301": ("2026-03-04", "immediate"),
        "302": ("2026-03-04", "digest"),
        "303": ("2026-03-05", "immediate"),
    }


def test_capped_lead_without_digest_time_waits_for_midnight(engine, model):
    settings = make_settings(daily_cap=1)
    score_sequence(engine, model, [80], contact_id="401", settings=settings)
    score_sequence(engine, model, [81], contact_id="402", settings=settings)
    channel = RecordingChannel()
    before_midnight = datetime(2026, 3, 5, 4, 59, tzinfo=UTC)
    deliver_pending(engine, [channel], before_midnight, settings)
    assert [notice.is_digest for notice, _ in channel.sent] == [False]
    deliver_pending(engine, [channel], before_midnight + timedelta(minutes=1), settings)
    assert [notice.is_digest for notice, _ in channel.sent] == [False, True]


def test_old_lead_scored_first_time_skipped(engine, model):
    # The sample contact inquired on 2 March at 14:05 UTC; 72 hours later is 5 March 14:05.
    settings = make_settings(new_lead_max_age_hours=72)
    late = score_sequence(
        engine, model, [90], start=datetime(2026, 3, 5, 14, 6, tzinfo=UTC), settings=settings
    )
    assert late == [None]
    assert alert_rows(engine) == []


def test_recent_lead_scored_first_time_alerts(engine, model):
    settings = make_settings(new_lead_max_age_hours=72)
    ids = score_sequence(
        engine, model, [90], start=datetime(2026, 3, 5, 14, 4, tzinfo=UTC), settings=settings
    )
    assert ids[0] is not None


def test_age_limit_ignores_rise_of_known_lead(engine, model):
    settings = make_settings(new_lead_max_age_hours=72)
    ids = score_sequence(
        engine, model, [60, 90], start=datetime(2026, 4, 1, tzinfo=UTC), settings=settings
    )
    assert [alert_id is not None for alert_id in ids] == [False, True]

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from jobs.alerts import policy
from jobs.alerts.settings import AlertSettings, parse_business_hours
from scoring.result import Tier
from tests.alerts.conftest import ModelStub, make_score

NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = parse_business_hours("Mon-Fri 09:00-17:00")


@pytest.mark.parametrize(
    ("previous", "current", "expected"),
    [
        (None, 80, True),
        (None, 75, True),
        (None, 74, False),
        (60, 76, True),
        (74, 75, True),
        (75, 90, False),
        (90, 76, False),
        (80, 60, False),
    ],
    ids=[
        "first-score-hot",
        "first-score-at-threshold",
        "first-score-below",
        "warm-to-hot",
        "one-point-crossing",
        "already-above",
        "falling-but-above",
        "falling-below",
    ],
)
def test_upward_crossing_table(previous, current, expected):
    previous_result = make_score(previous) if previous is not None else None
    assert policy.is_upward_crossing(previous_result, make_score(current), 75) is expected


def test_disqualified_lead_never_crosses():
    current = make_score(95, tier=Tier.DISQUALIFIED, disqualified_by=("spam",))
    assert policy.is_upward_crossing(None, current, 75) is False


def test_lead_leaving_disqualified_state_crosses():
    previous = make_score(90, tier=Tier.DISQUALIFIED, disqualified_by=("test_lead",))
    assert policy.is_upward_crossing(previous, make_score(90), 75) is True


def test_threshold_setting_overrides_model():
    assert policy.alert_threshold(ModelStub(alert_threshold=70), 85) == 85
    assert policy.alert_threshold(ModelStub(alert_threshold=70), None) == 70
    assert policy.alert_threshold(object(), None) == 75


@pytest.mark.parametrize(
    ("utc_now", "expected_utc"),
    [
        # Saturday 7 March 2026, 20:00 EST. Clocks go forward on Sunday 8 March,
        # so Monday 09:00 is EDT (UTC-4), which is 13:00 UTC, not 14:00.
        (datetime(2026, 3, 8, 1, 0, tzinfo=UTC), datetime(2026, 3, 9, 13, 0, tzinfo=UTC)),
        # Saturday 31 October 2026, 20:00 EDT. Clocks go back on Sunday 1 November,
        # so Monday 09:00 is EST (UTC-5), which is 14:00 UTC.
        (datetime(2026, 11, 1, 0, 0, tzinfo=UTC), datetime(2026, 11, 2, 14, 0, tzinfo=UTC)),
        # Tuesday 06:00 EST: opens the same day.
        (datetime(2026, 1, 6, 11, 0, tzinfo=UTC), datetime(2026, 1, 6, 14, 0, tzinfo=UTC)),
        # Friday 17:00 EST is closing time: next opening is Monday.
        (datetime(2026, 1, 9, 22, 0, tzinfo=UTC), datetime(2026, 1, 12, 14, 0, tzinfo=UTC)),
    ],
    ids=["march-dst-start", "november-dst-end", "early-morning", "friday-closing"],
)
def test_next_opening_in_spa_time_zone(utc_now, expected_utc):
    assert policy.next_opening(utc_now, WEEKDAYS, NEW_YORK) == expected_utc


def test_next_opening_is_now_while_open():
    tuesday_noon = datetime(2026, 1, 6, 17, 0, tzinfo=UTC)
    assert policy.next_opening(tuesday_noon, WEEKDAYS, NEW_YORK) == tuesday_noon


def test_no_business_hours_means_always_open():
    sunday_night = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    assert policy.is_open(sunday_night, (), NEW_YORK) is True


def test_opening_on_dst_sunday():
    hours = parse_business_hours("Sun 10:00-14:00")
    # Sunday 8 March 2026 10:00 EDT is 14:00 UTC.
    assert policy.is_open(datetime(2026, 3, 8, 13, 59, tzinfo=UTC), hours, NEW_YORK) is False
    assert policy.is_open(datetime(2026, 3, 8, 14, 0, tzinfo=UTC), hours, NEW_YORK) is True


def test_local_day_follows_spa_time_zone():
    # 03:30 UTC on 5 March is still 4 March, 22:30, in New York.
    assert policy.local_day(datetime(2026, 3, 5, 3, 30, tzinfo=UTC), NEW_YORK).isoformat() == (
        "2026-03-04"
    )


def test_digest_at_configured_time_later_today():
    now = datetime(2026, 3, 4, 16, 0, tzinfo=UTC)  # 11:00 EST
    due = policy.digest_due_at(now, digest_time=time(17, 0), hours=(), zone=NEW_YORK)
    assert due == datetime(2026, 3, 4, 22, 0, tzinfo=UTC)


def test_digest_after_configured_time_waits_for_tomorrow():
    now = datetime(2026, 3, 4, 23, 0, tzinfo=UTC)  # 18:00 EST
    due = policy.digest_due_at(now, digest_time=time(17, 0), hours=(), zone=NEW_YORK)
    assert due == datetime(2026, 3, 5, 22, 0, tzinfo=UTC)


def test_digest_without_time_goes_out_at_next_opening():
    now = datetime(2026, 3, 4, 16, 0, tzinfo=UTC)  # Wednesday 11:00 EST, open
    due = policy.digest_due_at(now, digest_time=None, hours=WEEKDAYS, zone=NEW_YORK)
    assert due == datetime(2026, 3, 5, 14, 0, tzinfo=UTC)


def test_digest_defaults_to_local_midnight():
    now = datetime(2026, 3, 4, 16, 0, tzinfo=UTC)
    due = policy.digest_due_at(now, digest_time=None, hours=(), zone=NEW_YORK)
    assert due == datetime(2026, 3, 5, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("attempts", "expected_seconds"),
    [(1, 30), (2, 60), (3, 120), (8, 3600), (60, 3600)],
    ids=["first", "second", "third", "capped", "huge-attempt-count"],
)
def test_retry_delay_doubles_then_caps(attempts, expected_seconds):
    assert policy.retry_delay(attempts, 30, 3600) == timedelta(seconds=expected_seconds)


def test_business_hours_parse_weekday_range_and_single_day():
    hours = parse_business_hours("Mon-Fri 09:00-18:00; Sat 10:00-14:00")
    assert [item.weekday for item in hours] == [0, 1, 2, 3, 4, 5]
    assert hours[-1].start == time(10, 0)
    assert hours[-1].end == time(14, 0)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Mon-Fri 9-5", "invalid business hours entry 'Mon-Fri 9-5'"),
        ("Mon-Fro 09:00-17:00", "invalid day 'fro'"),
        ("Mon 18:00-09:00", "closing time must be after the opening time"),
        ("Mon 25:00-26:00", "invalid time '25:00'"),
    ],
    ids=["no-minutes", "misspelled-day", "closing-before-opening", "hour-out-of-range"],
)
def test_invalid_business_hours_setting_names_the_entry(text, fragment):
    with pytest.raises(ValidationError) as info:
        AlertSettings(_env_file=None, business_hours=text)
    assert fragment in str(info.value)


def test_unknown_time_zone_setting_is_rejected():
    with pytest.raises(ValidationError) as info:
        AlertSettings(_env_file=None, timezone="America/Nowhere")
    assert "unknown time zone 'America/Nowhere'" in str(info.value)


def test_unknown_channel_setting_is_rejected():
    with pytest.raises(ValidationError) as info:
        AlertSettings(_env_file=None, channels="crm,sms")
    assert "unknown alert channel 'sms'" in str(info.value)


def test_settings_read_from_environment(monkeypatch):
    monkeypatch.setenv("LEADSCORE_ALERT_THRESHOLD", "82")
    monkeypatch.setenv("LEADSCORE_ALERT_CHANNELS", "webhook, email")
    monkeypatch.setenv("LEADSCORE_ALERT_WEBHOOK_URL", "https://hooks.example.com/T/B/abc")
    settings = AlertSettings(_env_file=None)
    assert settings.threshold == 82
    assert settings.channel_names == ("webhook", "email")
    assert "abc" not in repr(settings)

"""When an alert fires and when it may be delivered: pure rules, no I/O.

Every time is timezone-aware. Local times (business hours, the daily cap's
day, the digest time) are read in the spa's time zone with `zoneinfo`, so a
daylight saving change moves the UTC instant of "9:00 on Monday" as it should.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from jobs.alerts.settings import OpeningHours
from scoring.result import ScoreResult, Tier

DEFAULT_THRESHOLD = 75

# Business hours repeat weekly, so the next opening is at most a week away.
_DAYS_AHEAD = 8


def alert_threshold(model: object, override: int | None) -> int:
    """Return the threshold from settings, else the model's `alert_threshold`, else 75."""
    if override is not None:
        return override
    value = getattr(model, "alert_threshold", None)
    return int(value) if value is not None else DEFAULT_THRESHOLD


def is_upward_crossing(previous: ScoreResult | None, current: ScoreResult, threshold: int) -> bool:
    """Return True when `current` is at or above `threshold` and `previous` was not.

    A first score at or above the threshold counts (a new hot lead), and so
    does a lead leaving a disqualified state. A disqualified lead never crosses.
    """
    if current.tier is Tier.DISQUALIFIED or current.disqualified_by:
        return False
    if current.score < threshold:
        return False
    if previous is None:
        return True
    was_disqualified = previous.tier is Tier.DISQUALIFIED or bool(previous.disqualified_by)
    return was_disqualified or previous.score < threshold


def in_cooldown(last_alert_at: datetime | None, now: datetime, cooldown: timedelta) -> bool:
    """Return True while the lead's last alert is more recent than the cool-down."""
    return last_alert_at is not None and now - last_alert_at < cooldown


def local_day(now: datetime, zone: ZoneInfo) -> date:
    """Return the spa's calendar day at `now` (the daily cap counts per local day)."""
    return now.astimezone(zone).date()


def is_open(now: datetime, hours: tuple[OpeningHours, ...], zone: ZoneInfo) -> bool:
    """Return True when `now` is inside business hours; no hours configured means always open."""
    if not hours:
        return True
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    return any(
        interval.weekday == local.weekday() and interval.start <= clock < interval.end
        for interval in hours
    )


def next_opening(now: datetime, hours: tuple[OpeningHours, ...], zone: ZoneInfo) -> datetime:
    """Return the first instant at or after `now` inside business hours, in UTC-aware form.

    Returns `now` itself when the spa is open or no hours are configured.
    """
    if is_open(now, hours, zone):
        return now
    local_date = now.astimezone(zone).date()
    for offset in range(_DAYS_AHEAD):
        day = local_date + timedelta(days=offset)
        for interval in hours:
            if interval.weekday != day.weekday():
                continue
            opening = _local_instant(day, interval.start, zone)
            if opening >= now:
                return opening
    raise ValueError("business hours contain no opening time")  # unreachable with any hours


def digest_due_at(
    now: datetime,
    *,
    digest_time: time | None,
    hours: tuple[OpeningHours, ...],
    zone: ZoneInfo,
) -> datetime:
    """Return when the digest of leads past today's cap is sent.

    The digest goes at the next local `digest_time` when one is set. Without
    it, the digest waits for the next opening after now (the next day's when
    the spa is open now). Without business hours, it goes at local midnight,
    when the cap resets.
    """
    local_now = now.astimezone(zone)
    if digest_time is not None:
        due = _local_instant(local_now.date(), digest_time, zone)
        if due < now:
            due = _local_instant(local_now.date() + timedelta(days=1), digest_time, zone)
        return due
    midnight = _local_instant(local_now.date() + timedelta(days=1), time(0, 0), zone)
    if hours:
        # The cap is reached during the day: the digest waits for the next
        # opening, which is later today when the spa has not opened yet.
        return (
            next_opening(now, hours, zone)
            if not is_open(now, hours, zone)
            else (next_opening(midnight, hours, zone))
        )
    return midnight


def retry_delay(attempts: int, base_seconds: float, max_seconds: float) -> timedelta:
    """Return the wait after the `attempts`-th failed attempt: base, 2×base, 4×base … capped."""
    exponent = max(attempts - 1, 0)
    seconds = min(base_seconds * (2 ** min(exponent, 32)), max_seconds)
    return timedelta(seconds=seconds)


def _local_instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """Return the instant of a local wall-clock time.

    A wall time skipped by the spring-forward change (02:30 on that Sunday) is
    read with the offset before the change, so it lands one hour later in
    local time, which is the first moment that exists.
    """
    naive = datetime.combine(day, clock)
    return naive.replace(tzinfo=zone)

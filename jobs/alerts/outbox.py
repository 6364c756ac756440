"""Recording alerts in the outbox, inside the sync's transaction, before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
import structlog

from connectors.base import Contact
from jobs.alerts import policy
from jobs.alerts.message import alert_to_json, build_hot_lead_alert, inquiry_time
from jobs.alerts.settings import AfterHours, AlertSettings
from jobs.alerts.tables import AlertKind, AlertRoute, Status, alert_deliveries, alerts
from scoring.result import ScoreResult

log = structlog.get_logger(__name__)


def record_score_change(
    conn: sa.Connection,
    *,
    account: str,
    contact: Contact,
    previous: ScoreResult | None,
    current: ScoreResult,
    model,
    now: datetime,
    settings: AlertSettings | None = None,
) -> int | None:
    """Record an alert for an upward crossing of the alert threshold; return its id or None.

    Called for every scored contact inside the sync's transaction, so the
    alert is stored together with the score that caused it. Returns None when
    alerts are off, the score did not cross the threshold upward, the lead is
    disqualified, or the lead alerted within the cool-down. A lead scored for
    the first time whose inquiry is older than `new_lead_max_age_hours` also
    returns None. A lead past the account's daily cap is recorded for the
    next digest.
    """
    settings = settings or AlertSettings()
    # With no channel an alert could never be delivered, so none is recorded.
    if not settings.enabled or not settings.channel_names:
        return None
    threshold = policy.alert_threshold(model, settings.threshold)
    if not policy.is_upward_crossing(previous, current, threshold):
        return None

    if previous is None and _inquired_too_long_ago(contact, now, settings):
        log.info(
            "alert_skipped_old_lead", account=account, contact_id=contact.id, score=current.score
        )
        return None

    last_alert_at = conn.execute(
        sa.select(sa.func.max(alerts.c.created_at)).where(
            alerts.c.account == account,
            alerts.c.contact_id == contact.id,
            alerts.c.kind == AlertKind.LEAD,
        )
    ).scalar_one_or_none()
    cooldown = timedelta(hours=settings.cooldown_hours)
    if policy.in_cooldown(last_alert_at, now, cooldown):
        log.info(
            "alert_suppressed_cooldown",
            account=account,
            contact_id=contact.id,
            score=current.score,
            last_alert_at=last_alert_at.isoformat() if last_alert_at else None,
        )
        return None

    zone = settings.zone
    day = policy.local_day(now, zone).isoformat()
    hours = settings.opening_hours
    sent_today = 0
    if settings.daily_cap:
        sent_today = conn.execute(
            sa.select(sa.func.count())
            .select_from(alerts)
            .where(
                alerts.c.account == account,
                alerts.c.kind == AlertKind.LEAD,
                alerts.c.route == AlertRoute.IMMEDIATE,
                alerts.c.local_day == day,
            )
        ).scalar_one()
    over_cap = bool(settings.daily_cap) and sent_today >= settings.daily_cap

    payload = alert_to_json(
        build_hot_lead_alert(
            account=account, contact=contact, previous=previous, current=current, model=model
        )
    )
    row = {
        "account": account,
        "kind": AlertKind.LEAD,
        "contact_id": contact.id,
        "score": current.score,
        "previous_score": previous.score if previous is not None else None,
        "threshold": threshold,
        "local_day": day,
        "payload": payload,
        "created_at": now,
        "updated_at": now,
    }
    if over_cap:
        release_at = policy.digest_due_at(
            now, digest_time=settings.digest_time, hours=hours, zone=zone
        )
        row |= {
            "route": AlertRoute.DIGEST,
            "status": Status.HELD,
            "hold_reason": "daily_cap",
            "release_at": release_at,
        }
        alert_id = conn.execute(sa.insert(alerts).values(**row)).inserted_primary_key[0]
        log.info(
            "alert_queued_for_digest",
            account=account,
            contact_id=contact.id,
            alert_id=alert_id,
            score=current.score,
            daily_cap=settings.daily_cap,
            digest_at=release_at.isoformat(),
        )
        return alert_id

    row |= {"route": AlertRoute.IMMEDIATE, "status": Status.PENDING}
    alert_id = conn.execute(sa.insert(alerts).values(**row)).inserted_primary_key[0]
    plans = plan_deliveries(alert_id, settings, now)
    if plans:
        conn.execute(sa.insert(alert_deliveries), [plan.row(now) for plan in plans])
    status = refresh_alert_status(conn, alert_id, now)
    log.info(
        "alert_recorded",
        account=account,
        contact_id=contact.id,
        alert_id=alert_id,
        score=current.score,
        previous_score=row["previous_score"],
        threshold=threshold,
        status=status,
        channels=[plan.channel for plan in plans],
    )
    return alert_id


def _inquired_too_long_ago(contact: Contact, now: datetime, settings: AlertSettings) -> bool:
    """Return True for a lead whose last inquiry is older than `new_lead_max_age_hours`.

    A lead with no known inquiry time is treated as new.
    """
    if not settings.new_lead_max_age_hours:
        return False
    inquired_at = inquiry_time(contact)
    if inquired_at is None:
        return False
    return now - inquired_at > timedelta(hours=settings.new_lead_max_age_hours)


@dataclass(frozen=True, slots=True)
class DeliveryPlan:
    alert_id: int
    channel: str
    status: str
    next_attempt_at: datetime

    def row(self, now: datetime) -> dict:
        return {
            "alert_id": self.alert_id,
            "channel": self.channel,
            "status": self.status,
            "attempts": 0,
            "next_attempt_at": self.next_attempt_at,
            "updated_at": now,
        }


def plan_deliveries(alert_id: int, settings: AlertSettings, now: datetime) -> list[DeliveryPlan]:
    """Return one delivery per configured channel: due now, or held until the next opening."""
    hours = settings.opening_hours
    zone = settings.zone
    open_now = policy.is_open(now, hours, zone)
    plans = []
    for channel in settings.channel_names:
        if open_now or settings.after_hours(channel) is AfterHours.SEND:
            plans.append(DeliveryPlan(alert_id, channel, Status.PENDING, now))
        else:
            opening = policy.next_opening(now, hours, zone)
            plans.append(DeliveryPlan(alert_id, channel, Status.HELD, opening))
    return plans


def refresh_alert_status(conn: sa.Connection, alert_id: int, now: datetime) -> str:
    """Set an alert's status from its deliveries and return it.

    `failed` when any delivery failed for good, `sent` when all were sent,
    `pending` while any is due or being sent, else `held`. A digest also
    passes its status to the leads it carries.
    """
    statuses = [
        row.status
        for row in conn.execute(
            sa.select(alert_deliveries.c.status).where(alert_deliveries.c.alert_id == alert_id)
        )
    ]
    if not statuses:
        status = Status.PENDING
    elif Status.FAILED in statuses:
        status = Status.FAILED
    elif all(item == Status.SENT for item in statuses):
        status = Status.SENT
    elif any(item in (Status.PENDING, Status.SENDING) for item in statuses):
        status = Status.PENDING
    else:
        status = Status.HELD
    hold_reason = "after_hours" if status == Status.HELD else None
    conn.execute(
        sa.update(alerts)
        .where(alerts.c.id == alert_id)
        .values(status=status, hold_reason=hold_reason, updated_at=now)
    )
    conn.execute(
        sa.update(alerts)
        .where(alerts.c.digest_id == alert_id)
        .values(status=status, hold_reason=hold_reason, updated_at=now)
    )
    return status

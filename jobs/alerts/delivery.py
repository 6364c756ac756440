"""Delivering the outbox: gather digests, claim due deliveries, send, record the result.

Each delivery is claimed (status `sending` with a lease) in its own short
transaction before it is sent, and the result is recorded in another. A
process that dies between sending and recording leaves the claim behind.
Once the lease ends, the delivery is claimed and sent again with the same
idempotency key. So a crash causes at most one repeat, and the CRM, which
deduplicates by that key, creates no second task.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
import structlog

from connectors.redact import redact_text
from jobs.alerts import policy
from jobs.alerts.channels.base import Channel, ChannelError
from jobs.alerts.message import AlertNotice, alert_from_json, order_hottest_first
from jobs.alerts.outbox import plan_deliveries, refresh_alert_status
from jobs.alerts.settings import AfterHours, AlertSettings
from jobs.alerts.tables import AlertKind, AlertRoute, Status, alert_deliveries, alerts

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The outcome of one delivery attempt in this run."""

    delivery_id: int
    alert_id: int
    channel: str
    status: str  # sent, pending (retry scheduled), failed, held
    attempts: int
    error: str | None = None


@dataclass(slots=True)
class DeliveryReport:
    """Counts and per-delivery outcomes of one outbox run."""

    results: list[DeliveryResult] = field(default_factory=list)
    digests_created: int = 0

    def count(self, status: str) -> int:
        return sum(1 for result in self.results if result.status == status)

    @property
    def sent(self) -> int:
        return self.count(Status.SENT)

    @property
    def retrying(self) -> int:
        return self.count(Status.PENDING)

    @property
    def failed(self) -> int:
        return self.count(Status.FAILED)

    @property
    def held(self) -> int:
        return self.count(Status.HELD)


def delivery_key(alert_id: int, channel: str) -> str:
    """Return the idempotency key of one delivery: the same for every attempt."""
    return f"leadscore-alert-{alert_id}-{channel}"


def deliver_pending(
    store_or_engine, channels: Sequence[Channel], now: datetime, settings: AlertSettings
) -> DeliveryReport:
    """Deliver every due delivery in the outbox, hottest first, and return what happened.

    `store_or_engine` is a SQLAlchemy engine or an object with an `engine`
    attribute (the state store). Digests that are due are gathered first.
    """
    engine = _engine_of(store_or_engine)
    report = DeliveryReport()
    if not settings.enabled:
        return report
    report.digests_created = _gather_digests(engine, now, settings)

    by_name = {channel.name: channel for channel in channels}
    for delivery in _due_deliveries(engine, now, settings.batch_size):
        result = _deliver_one(engine, delivery, by_name, now, settings)
        if result is not None:
            report.results.append(result)
    if report.results or report.digests_created:
        log.info(
            "alert_outbox_delivered",
            sent=report.sent,
            retrying=report.retrying,
            failed=report.failed,
            held=report.held,
            digests=report.digests_created,
        )
    return report


def _engine_of(store_or_engine) -> sa.Engine:
    if isinstance(store_or_engine, sa.Engine):
        return store_or_engine
    engine = getattr(store_or_engine, "engine", None)
    if isinstance(engine, sa.Engine):
        return engine
    raise TypeError(
        f"deliver_pending needs a SQLAlchemy engine or a store with an engine, "
        f"got {type(store_or_engine).__name__}"
    )


def _due_condition(now: datetime):
    waiting = sa.and_(
        alert_deliveries.c.status.in_((Status.PENDING, Status.HELD)),
        alert_deliveries.c.next_attempt_at <= now,
    )
    abandoned = sa.and_(
        alert_deliveries.c.status == Status.SENDING, alert_deliveries.c.lease_until <= now
    )
    return sa.or_(waiting, abandoned)


def _due_deliveries(engine: sa.Engine, now: datetime, limit: int) -> list[sa.Row]:
    """Return due deliveries, hottest alert first, then in arrival order."""
    query = (
        sa.select(
            alert_deliveries.c.id,
            alert_deliveries.c.alert_id,
            alert_deliveries.c.channel,
            alert_deliveries.c.attempts,
        )
        .join(alerts, alerts.c.id == alert_deliveries.c.alert_id)
        .where(_due_condition(now))
        .order_by(alerts.c.score.desc(), alerts.c.created_at, alerts.c.id, alert_deliveries.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return list(conn.execute(query))


def _deliver_one(
    engine: sa.Engine,
    delivery: sa.Row,
    channels: dict[str, Channel],
    now: datetime,
    settings: AlertSettings,
) -> DeliveryResult | None:
    hours = settings.opening_hours
    zone = settings.zone
    if settings.after_hours(delivery.channel) is AfterHours.HOLD and not policy.is_open(
        now, hours, zone
    ):
        return _hold_until_opening(engine, delivery, policy.next_opening(now, hours, zone), now)

    claimed = _claim(engine, delivery.id, now, settings)
    if not claimed:
        return None  # another process claimed it first
    attempts = delivery.attempts + 1
    key = delivery_key(delivery.alert_id, delivery.channel)
    channel = channels.get(delivery.channel)
    try:
        if channel is None:
            raise ChannelError(
                delivery.channel,
                "the channel is not configured in this process",
                setting="LEADSCORE_ALERT_CHANNELS",
                retryable=False,
            )
        notice = _load_notice(engine, delivery.alert_id)
        receipt = channel.send(notice, key)
    except ChannelError as exc:
        return _record_failure(engine, delivery, attempts, exc, now, settings)
    except Exception as exc:
        # A bug in a channel or connector must not stop the other deliveries.
        log.exception("alert_channel_crashed", alert_id=delivery.alert_id, channel=delivery.channel)
        error = ChannelError(delivery.channel, f"unexpected {type(exc).__name__}: {exc}")
        return _record_failure(engine, delivery, attempts, error, now, settings)
    return _record_success(engine, delivery, attempts, receipt, now)


def _claim(engine: sa.Engine, delivery_id: int, now: datetime, settings: AlertSettings) -> bool:
    lease_until = now + timedelta(seconds=settings.lease_seconds)
    with engine.begin() as conn:
        claimed = conn.execute(
            sa.update(alert_deliveries)
            .where(alert_deliveries.c.id == delivery_id, _due_condition(now))
            .values(
                status=Status.SENDING,
                attempts=alert_deliveries.c.attempts + 1,
                lease_until=lease_until,
                updated_at=now,
            )
        ).rowcount
        if claimed:
            alert_id = conn.execute(
                sa.select(alert_deliveries.c.alert_id).where(alert_deliveries.c.id == delivery_id)
            ).scalar_one()
            refresh_alert_status(conn, alert_id, now)
    return bool(claimed)


def _hold_until_opening(
    engine: sa.Engine, delivery: sa.Row, opening: datetime, now: datetime
) -> DeliveryResult:
    with engine.begin() as conn:
        conn.execute(
            sa.update(alert_deliveries)
            .where(alert_deliveries.c.id == delivery.id)
            .values(status=Status.HELD, next_attempt_at=opening, lease_until=None, updated_at=now)
        )
        refresh_alert_status(conn, delivery.alert_id, now)
    log.info(
        "alert_delivery_held",
        alert_id=delivery.alert_id,
        channel=delivery.channel,
        until=opening.isoformat(),
    )
    return DeliveryResult(
        delivery.id, delivery.alert_id, delivery.channel, Status.HELD, delivery.attempts
    )


def _record_success(
    engine: sa.Engine, delivery: sa.Row, attempts: int, receipt: str, now: datetime
) -> DeliveryResult:
    with engine.begin() as conn:
        conn.execute(
            sa.update(alert_deliveries)
            .where(alert_deliveries.c.id == delivery.id)
            .values(
                status=Status.SENT,
                sent_at=now,
                receipt=receipt,
                last_error=None,
                lease_until=None,
                next_attempt_at=None,
                updated_at=now,
            )
        )
        refresh_alert_status(conn, delivery.alert_id, now)
    log.info(
        "alert_delivery_sent",
        alert_id=delivery.alert_id,
        channel=delivery.channel,
        attempts=attempts,
    )
    return DeliveryResult(delivery.id, delivery.alert_id, delivery.channel, Status.SENT, attempts)


def _record_failure(
    engine: sa.Engine,
    delivery: sa.Row,
    attempts: int,
    error: ChannelError,
    now: datetime,
    settings: AlertSettings,
) -> DeliveryResult:
    message = redact_text(str(error))
    final = attempts >= settings.max_attempts
    next_attempt_at = None
    if not final:
        next_attempt_at = now + policy.retry_delay(
            attempts, settings.retry_base_seconds, settings.retry_max_seconds
        )
    status = Status.FAILED if final else Status.PENDING
    with engine.begin() as conn:
        conn.execute(
            sa.update(alert_deliveries)
            .where(alert_deliveries.c.id == delivery.id)
            .values(
                status=status,
                last_error=message,
                lease_until=None,
                next_attempt_at=next_attempt_at,
                updated_at=now,
            )
        )
        refresh_alert_status(conn, delivery.alert_id, now)
    if final:
        log.error(
            "alert_delivery_failed",
            alert_id=delivery.alert_id,
            channel=delivery.channel,
            attempts=attempts,
            error=message,
            setting=error.setting,
            retryable=error.retryable,
        )
    else:
        log.warning(
            "alert_delivery_retry_scheduled",
            alert_id=delivery.alert_id,
            channel=delivery.channel,
            attempts=attempts,
            next_attempt_at=next_attempt_at.isoformat() if next_attempt_at else None,
            error=message,
            setting=error.setting,
        )
    return DeliveryResult(
        delivery.id, delivery.alert_id, delivery.channel, status, attempts, error=message
    )


def _load_notice(engine: sa.Engine, alert_id: int) -> AlertNotice:
    with engine.connect() as conn:
        alert = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).one()
        if alert.kind == AlertKind.DIGEST:
            members = conn.execute(
                sa.select(alerts.c.id, alerts.c.payload).where(alerts.c.digest_id == alert_id)
            ).all()
            pairs = order_hottest_first(
                [(member.id, alert_from_json(member.payload)) for member in members]
            )
            return AlertNotice(
                alert_id=alert_id,
                account=alert.account,
                leads=tuple(lead for _, lead in pairs),
                alert_ids=tuple(member_id for member_id, _ in pairs),
                is_digest=True,
            )
    return AlertNotice(
        alert_id=alert_id,
        account=alert.account,
        leads=(alert_from_json(alert.payload),),
        alert_ids=(alert_id,),
    )


def _gather_digests(engine: sa.Engine, now: datetime, settings: AlertSettings) -> int:
    """Create one digest alert per account from the leads past the cap whose time has come."""
    created = 0
    with engine.begin() as conn:
        waiting = conn.execute(
            sa.select(alerts.c.id, alerts.c.account, alerts.c.score)
            .where(
                alerts.c.kind == AlertKind.LEAD,
                alerts.c.route == AlertRoute.DIGEST,
                alerts.c.digest_id.is_(None),
                alerts.c.release_at <= now,
            )
            .order_by(alerts.c.account, alerts.c.id)
        ).all()
        by_account: dict[str, list[sa.Row]] = {}
        for row in waiting:
            by_account.setdefault(row.account, []).append(row)
        for account, members in by_account.items():
            digest_id = conn.execute(
                sa.insert(alerts).values(
                    account=account,
                    kind=AlertKind.DIGEST,
                    contact_id=None,
                    score=max(member.score for member in members),
                    route=AlertRoute.IMMEDIATE,
                    status=Status.PENDING,
                    local_day=policy.local_day(now, settings.zone).isoformat(),
                    created_at=now,
                    updated_at=now,
                )
            ).inserted_primary_key[0]
            conn.execute(
                sa.update(alerts)
                .where(alerts.c.id.in_([member.id for member in members]))
                .values(digest_id=digest_id, updated_at=now)
            )
            plans = plan_deliveries(digest_id, settings, now)
            if plans:
                conn.execute(sa.insert(alert_deliveries), [plan.row(now) for plan in plans])
            refresh_alert_status(conn, digest_id, now)
            created += 1
            log.info(
                "alert_digest_created", account=account, alert_id=digest_id, leads=len(members)
            )
    return created

"""Fixtures for alert tests: a real SQLite store file, leads and scores, and a clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from connectors.base import Contact
from jobs.alerts import record_score_change
from jobs.alerts.settings import AlertSettings
from jobs.alerts.tables import alert_deliveries, alerts
from jobs.store import Store
from scoring.lead import Activity, ActivityKind, Lead
from scoring.result import Part, RuleHit, ScoreResult, Tier
from tests.postgres import temporary_database

ACCOUNT = "hubspot:1234567"


@dataclass(frozen=True)
class ModelStub:
    """The two model attributes alerts read: the threshold and the treatment question key."""

    alert_threshold: int = 75
    treatment_field: str = "treatment"


def open_store_engine(path) -> sa.Engine:
    """Open the state store file the way the worker does (tables created and migrated)."""
    return Store.open(f"sqlite:///{path}").engine


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = open_store_engine(tmp_path / "leadscore.db")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine():
    """A store in a fresh PostgreSQL database, dropped afterwards; skips without one."""
    with temporary_database("leadscore_alerts") as url:
        store = Store.open(url)
        yield store.engine
        store.engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request):
    """The state store's engine on a SQLite file and, with DATABASE_URL_TEST, on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture
def model() -> ModelStub:
    return ModelStub()


def make_settings(**overrides) -> AlertSettings:
    """Build settings from keyword arguments only, ignoring the environment and .env."""
    # The sample contacts inquired on 2 March 2026; tests at later dates must
    # not hit the new-lead age limit unless they set it.
    values = {
        "channels": "webhook",
        "daily_cap": 0,
        "business_hours": "",
        "new_lead_max_age_hours": 0,
    } | overrides
    return AlertSettings(_env_file=None, **values)


def make_contact(contact_id: str = "101", **details) -> Contact:
    inquired = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)
    lead = Lead(
        id=contact_id,
        created_at=inquired,
        answers={"treatment": "Botox", "timeline": "This week"},
        activities=(Activity(ActivityKind.FORM_SUBMISSION, last_at=inquired),),
    )
    values = {
        "name": "Jane Doe",
        "email": "jane.doe@example.com",
        "phone": "+1 415 555 0134",
        "record_url": f"https://app.hubspot.com/contacts/1234567/record/0-1/{contact_id}",
        "owner_id": "77",
    } | details
    return Contact(lead=lead, **values)


def make_score(
    score: int,
    contact_id: str = "101",
    tier: Tier | None = None,
    disqualified_by: tuple[str, ...] = (),
) -> ScoreResult:
    if tier is None and score >= 80:
        tier = Tier.HOT
    elif tier is None and score >= 50:
        tier = Tier.WARM
    elif tier is None:
        tier = Tier.COLD
    hits = (
        RuleHit("timeline", "Timeline", Part.INTENT, 30, 'timeline "This week"'),
        RuleHit("budget", "Budget", Part.FIT, 20, 'budget "$1,000+"'),
        RuleHit("pricing", "Pricing page", Part.INTENT, 10, "pricing page visit"),
        RuleHit("email_open", "Email opens", Part.INTENT, 5, "2 email opens"),
    )
    return ScoreResult(
        lead_id=contact_id,
        score=score,
        fit=60,
        intent=70,
        tier=tier,
        hits=hits,
        disqualified_by=disqualified_by,
    )


def record_first_score(
    engine: sa.Engine,
    model: ModelStub,
    settings: AlertSettings,
    now: datetime,
    contact_id: str = "101",
    score: int = 88,
) -> int | None:
    """Record a sample contact's first score in its own transaction; return the alert id or None."""
    with engine.begin() as conn:
        return record_score_change(
            conn,
            account=ACCOUNT,
            contact=make_contact(contact_id),
            previous=None,
            current=make_score(score, contact_id=contact_id),
            model=model,
            now=now,
            settings=settings,
        )


class Clock:
    """A frozen clock that moves only when a test advances it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def alert_rows(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(alerts).order_by(alerts.c.id)))


def delivery_rows(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(alert_deliveries).order_by(alert_deliveries.c.id)))


@pytest.fixture
def receiver():
    from tests.alerts.servers import start_webhook_receiver, stop_webhook_receiver

    server = start_webhook_receiver()
    yield server
    stop_webhook_receiver(server)


@pytest.fixture
def smtp_server():
    from tests.alerts.servers import start_smtp_server

    server = start_smtp_server(username="frontdesk", password="correct-horse")
    yield server
    server.controller.stop()

"""A med spa's GoHighLevel location through sync, engagement-only updates and echoes."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from jobs.alerts.tables import alerts
from jobs.sync import run_cycle
from tests.e2e.conftest import GHL_LOCATION

ANSWERS = {
    "contact.timeline": "This week",
    "contact.budget": "$1,500",
    "contact.treatment": "Botox",
    "contact.age": "35",
}


def add_lead(ghl, contact_id: str, *, custom=None, tags=(), when=None) -> None:
    when = when or ghl.state.now()
    ghl.state.add_contact(
        GHL_LOCATION,
        contact_id=contact_id,
        firstName="Jane",
        email=f"{contact_id}@example.com",
        custom=ANSWERS if custom is None else custom,
        tags=list(tags),
        added_at=when,
        updated_at=when,
    )


def custom_value(ghl, contact_id: str, key: str):
    return ghl.state.custom_value(GHL_LOCATION, contact_id, key)


def contact_writes(ghl) -> int:
    return len([call for call in ghl.calls("PUT") if call.path.startswith("/contacts/")])


def stored_lead(runtime, contact_id: str):
    [ctx] = runtime.contexts
    with runtime.store.begin() as conn:
        return runtime.store.get_leads(conn, ctx.account, [contact_id])[contact_id]


def alert_contacts(runtime) -> list[str]:
    with runtime.store.begin() as conn:
        rows = conn.execute(sa.select(alerts.c.contact_id).order_by(alerts.c.id)).all()
    return [row.contact_id for row in rows]


def test_form_answers_survive_echo_of_score_write(ghl, ghl_runtime, ghl_clock):
    submitted_at = ghl_clock.now - timedelta(hours=3)
    add_lead(ghl, "ctForm", custom={}, when=submitted_at)
    others = {ghl.state.field_id(GHL_LOCATION, key): value for key, value in ANSWERS.items()}
    ghl.state.add_submission(GHL_LOCATION, "ctForm", others, created_at=submitted_at)
    [ctx] = ghl_runtime.contexts
    run_cycle(ctx, clock=ghl_clock)
    assert custom_value(ghl, "ctForm", "contact.lead_tier") == "Hot"
    puts_after_first = contact_writes(ghl)

    ghl_clock.advance(minutes=1)
    report = run_cycle(ctx, clock=ghl_clock)

    assert report.ok
    assert custom_value(ghl, "ctForm", "contact.lead_tier") == "Hot"
    assert report.stats.written == 0
    assert contact_writes(ghl) == puts_after_first
    assert stored_lead(ghl_runtime, "ctForm").lead.answers["timeline"] == "This week"

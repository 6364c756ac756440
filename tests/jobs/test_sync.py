"""The sync cycle against the in-memory CRM, a real SQLite store and the real alert outbox."""

from __future__ import annotations

import functools
from datetime import timedelta

import pytest
import sqlalchemy as sa

from connectors.base import ActivityMode, Contact
from jobs.alerts import AlertSettings, record_score_change
from jobs.alerts.tables import alerts
from jobs.sync import (
    SyncContext,
    merge_activities,
    process_contacts,
    pull_outcomes,
    rescore_stored,
    run_cycle,
)
from scoring.lead import Activity, ActivityKind, Lead
from scoring.result import Tier
from tests.jobs.fake_crm import START, FakeCrm, simple_score

ACCOUNT = "hubspot:1234"


def hot_lead(contact_id: str = "h1") -> Lead:
    return Lead(id=contact_id, answers={"timeline": "This week", "budget": "$1,000+"})


def cold_lead(contact_id: str = "c1") -> Lead:
    return Lead(id=contact_id, answers={"timeline": "Just researching"})


@pytest.fixture
def crm() -> FakeCrm:
    return FakeCrm()


@pytest.fixture
def ctx(crm, store) -> SyncContext:
    settings = AlertSettings(_env_file=None, cooldown_hours=168, daily_cap=0)
    return SyncContext(
        account=ACCOUNT,
        crm="hubspot",
        connector=crm,
        store=store,
        score=simple_score,
        record_alert=functools.partial(record_score_change, settings=settings),
    )


def clock_at(crm: FakeCrm):
    return lambda: crm.clock


def alert_rows(ctx: SyncContext) -> list:
    with ctx.store.begin() as conn:
        return conn.execute(sa.select(alerts).where(alerts.c.account == ACCOUNT)).all()


def stored(ctx: SyncContext, contact_id: str):
    with ctx.store.begin() as conn:
        return ctx.store.get_lead(conn, ACCOUNT, contact_id)


def test_new_hot_lead_written_moved_alerted(ctx, crm):
    crm.upsert(hot_lead(), email="jane@example.com")
    crm.upsert(cold_lead())

    report = run_cycle(ctx, clock=clock_at(crm))

    assert report.ok
    assert report.stats.scored == 2
    assert report.stats.written == 2
    assert crm.records["h1"].written.tier is Tier.HOT
    assert crm.records["h1"].written.score == 85
    assert crm.records["h1"].stage == "stage-hot"
    assert crm.records["c1"].stage == "stage-cold"
    assert len(alert_rows(ctx)) == 1
    assert alert_rows(ctx)[0].contact_id == "h1"


def test_unchanged_second_cycle_writes_nothing(ctx, crm):
    crm.upsert(hot_lead())
    crm.upsert(cold_lead())
    run_cycle(ctx, clock=clock_at(crm))
    calls_after_first = len(crm.write_calls)
    stage_calls_after_first = len(crm.stage_calls)

    crm.tick(60)
    second = run_cycle(ctx, clock=clock_at(crm))

    # The echo of the first cycle's writes is pulled again and scores the same.
    assert second.stats.pulled == 2
    assert second.stats.written == 0
    assert len(crm.write_calls) == calls_after_first
    assert len(crm.stage_calls) == stage_calls_after_first
    assert len(alert_rows(ctx)) == 1


def test_lead_warming_up_alerts_once(ctx, crm):
    crm.upsert(Lead(id="w1", answers={"timeline": "This week"}))
    run_cycle(ctx, clock=clock_at(crm))
    assert crm.records["w1"].written.tier is Tier.WARM
    assert alert_rows(ctx) == []

    crm.add_activity("w1", Activity(ActivityKind.EMAIL_OPEN, count=2, last_at=crm.clock))
    crm.tick(60)
    run_cycle(ctx, clock=clock_at(crm))
    crm.add_activity("w1", Activity(ActivityKind.EMAIL_OPEN, count=1, last_at=crm.clock))
    crm.tick(60)
    run_cycle(ctx, clock=clock_at(crm))

    assert crm.records["w1"].written.tier is Tier.HOT
    assert crm.records["w1"].stage == "stage-hot"
    assert len(alert_rows(ctx)) == 1


def test_failed_write_retried_next_cycle(ctx, crm):
    crm.upsert(hot_lead("a"))
    crm.upsert(hot_lead("b"))
    crm.fail_write_ids = {"a"}

    first = run_cycle(ctx, clock=clock_at(crm))
    with ctx.store.begin() as conn:
        failures = ctx.store.failures(conn, ACCOUNT)

    assert first.ok
    assert first.stats.errors == 1
    assert crm.records["a"].written is None
    assert crm.records["b"].written is not None
    assert [f.contact_id for f in failures] == ["a"]
    assert failures[0].stage == "write"

    crm.fail_write_ids = set()
    crm.tick(60)
    run_cycle(ctx, clock=clock_at(crm))
    with ctx.store.begin() as conn:
        remaining = ctx.store.failures(conn, ACCOUNT)

    assert crm.records["a"].written.score == 85
    assert remaining == []
    assert len(alert_rows(ctx)) == 2


def test_failed_contact_retried_even_when_not_pulled(ctx, crm):
    crm.upsert(hot_lead("a"))
    # "b" changes an hour later, so the cursor moves past "a" and its overlap window.
    crm.tick(3600)
    crm.upsert(cold_lead("b"))
    crm.fail_write_ids = {"a"}
    run_cycle(ctx, clock=clock_at(crm))
    crm.fail_write_ids = set()

    crm.tick(60)
    second = run_cycle(ctx, clock=clock_at(crm))

    assert second.stats.pulled == 2  # "b" (its own echo) and the retried "a"
    assert crm.fetch_calls == ["a"]
    assert crm.records["a"].written is not None


def test_long_rate_limit_pauses_account(ctx, crm):
    crm.upsert(hot_lead())
    crm.rate_limit_after = 3600

    report = run_cycle(ctx, clock=clock_at(crm))
    with ctx.store.begin() as conn:
        cursor = ctx.store.get_cursor(conn, ACCOUNT)

    assert not report.ok
    assert report.paused_until == START + timedelta(seconds=1) + timedelta(seconds=3600)
    assert cursor.paused_until == report.paused_until
    assert cursor.cursor_at is None

    crm.rate_limit_after = None
    skipped = run_cycle(ctx, clock=clock_at(crm))
    assert skipped.stats.pulled == 0
    assert crm.write_calls == []


def test_short_rate_limit_fails_cycle_without_pause(ctx, crm):
    crm.upsert(hot_lead())
    crm.rate_limit_after = 10

    report = run_cycle(ctx, clock=clock_at(crm))
    with ctx.store.begin() as conn:
        cursor = ctx.store.get_cursor(conn, ACCOUNT)

    assert not report.ok
    assert report.paused_until is None
    assert cursor.paused_until is None


def test_stop_between_pages_keeps_cursor(ctx, crm):
    for number in range(5):
        crm.upsert(hot_lead(f"s{number}"))
    pages = crm.pull_changed

    def pull_then_stop(since):
        for page in pages(since):
            yield page
            ctx.stop.set()

    crm.pull_changed = pull_then_stop
    report = run_cycle(ctx, clock=clock_at(crm))
    with ctx.store.begin() as conn:
        cursor = ctx.store.get_cursor(conn, ACCOUNT)

    assert not report.ok
    assert report.stats.pages == 1
    assert cursor.cursor_at is None


def test_cursor_advances_to_high_watermark(ctx, crm):
    crm.upsert(cold_lead("x"))
    crm.upsert(cold_lead("y"))
    last_change = crm.records["y"].modified_at

    run_cycle(ctx, clock=clock_at(crm))
    with ctx.store.begin() as conn:
        cursor = ctx.store.get_cursor(conn, ACCOUNT)

    # The cycle's own writes bumped the records; the watermark is from the pull.
    assert cursor.cursor_at == last_change


def test_engagement_only_contact_keeps_stored_answers(ctx, crm):
    crm.upsert(Lead(id="e1", answers={"timeline": "This week"}))
    run_cycle(ctx, clock=clock_at(crm))

    opens = Activity(ActivityKind.EMAIL_OPEN, count=3, last_at=crm.clock)
    update = Contact(
        lead=Lead(id="e1", activities=(opens,)),
        activity_mode=ActivityMode.EVENTS,
        facts_complete=False,
    )
    stats = process_contacts(ctx, [update], crm.clock, trigger="webhook")

    assert stats.written == 1
    assert crm.records["e1"].written.score == 90
    assert stored(ctx, "e1").lead.answers["timeline"] == "This week"
    assert crm.fetch_calls == []


def test_engagement_only_unknown_contact_fetched(ctx, crm):
    crm.upsert(Lead(id="n1", answers={"timeline": "This week"}))
    opens = Activity(ActivityKind.EMAIL_OPEN, count=1, last_at=crm.clock)
    update = Contact(
        lead=Lead(id="n1", activities=(opens,)),
        activity_mode=ActivityMode.EVENTS,
        facts_complete=False,
    )

    stats = process_contacts(ctx, [update], crm.clock, trigger="webhook")

    assert crm.fetch_calls == ["n1"]
    assert stats.scored == 1
    assert crm.records["n1"].written.score == 70


def test_events_added_once():
    first = Activity(ActivityKind.EMAIL_OPEN, last_at=START)
    second = Activity(ActivityKind.EMAIL_CLICK, last_at=START)

    merged = merge_activities((first,), (first, second), ActivityMode.EVENTS)
    replaced = merge_activities((first,), (second,), ActivityMode.SNAPSHOT)

    assert merged == (first, second)
    assert replaced == (second,)


def test_history_appended_only_on_change(ctx, crm):
    crm.upsert(hot_lead())
    run_cycle(ctx, clock=clock_at(crm))
    crm.tick(60)
    run_cycle(ctx, clock=clock_at(crm))
    crm.upsert(cold_lead("h1"))
    crm.tick(60)
    run_cycle(ctx, clock=clock_at(crm))

    with ctx.store.begin() as conn:
        history = ctx.store.history(conn, ACCOUNT, "h1")

    assert [entry.result.tier for entry in history] == [Tier.COLD, Tier.HOT]
    assert history[1].result.hits[0].evidence == 'timeline "This week"'


def test_nightly_rescore_applies_decay(ctx, crm):
    lead = Lead(
        id="d1",
        answers={"timeline": "This week"},
        activities=(Activity(ActivityKind.EMAIL_OPEN, count=2, last_at=crm.clock),),
    )
    crm.upsert(lead)
    run_cycle(ctx, clock=clock_at(crm))
    assert crm.records["d1"].written.score == 80
    pulls_before = crm.fetch_calls.copy()

    later = crm.clock + timedelta(days=31)
    stats = rescore_stored(ctx, clock=lambda: later)

    assert stats.written == 1
    assert crm.records["d1"].written.score == 60
    assert crm.records["d1"].stage == "stage-warm"
    assert crm.fetch_calls == pulls_before


def test_rescore_without_change_writes_nothing(ctx, crm):
    crm.upsert(hot_lead())
    run_cycle(ctx, clock=clock_at(crm))
    calls = len(crm.write_calls)

    stats = rescore_stored(ctx, clock=lambda: crm.clock + timedelta(hours=1))

    assert stats.scored == 1
    assert stats.written == 0
    assert len(crm.write_calls) == calls


def test_staff_stage_left_alone(ctx, crm):
    crm.upsert(hot_lead())
    crm.records["h1"].stage = "booked"

    report = run_cycle(ctx, clock=clock_at(crm))

    assert report.stats.moved == 0
    assert crm.records["h1"].stage == "booked"
    assert stored(ctx, "h1").stage == "booked"


def test_scoring_error_skips_one_contact(ctx, crm):
    crm.upsert(hot_lead("ok"))
    crm.upsert(hot_lead("bad"))

    def flaky_score(lead, now):
        if lead.id == "bad":
            raise ValueError("budget text could not be read")
        return simple_score(lead, now)

    ctx.score = flaky_score
    report = run_cycle(ctx, clock=clock_at(crm))
    with ctx.store.begin() as conn:
        failures = ctx.store.failures(conn, ACCOUNT)

    assert report.ok
    assert report.stats.errors == 1
    assert crm.records["ok"].written is not None
    assert failures[0].contact_id == "bad"
    assert failures[0].stage == "score"
    assert "budget text" in failures[0].reason


def test_crm_already_holding_score_not_rewritten(ctx, crm):
    crm.upsert(hot_lead())
    run_cycle(ctx, clock=clock_at(crm))
    fresh_store_ctx = ctx
    # Forget the store's record of the write, as after restoring an old backup.
    with fresh_store_ctx.store.begin() as conn:
        conn.execute(sa.text("DELETE FROM leads"))
    calls = len(crm.write_calls)

    crm.tick(60)
    report = run_cycle(ctx, clock=clock_at(crm))

    assert report.stats.written == 0
    assert len(crm.write_calls) == calls


def test_outcomes_stored_once_and_cursor_moves(ctx, crm):
    from connectors.base import Outcome, OutcomeKind

    booked = Outcome("h1", OutcomeKind.BOOKED, START, "appointment:booked", "apt-1")
    crm.outcomes = [booked]

    first = pull_outcomes(ctx, clock=lambda: START + timedelta(hours=1))
    crm.outcomes = [booked, Outcome("c1", OutcomeKind.WON, START + timedelta(hours=2), "deal")]
    second = pull_outcomes(ctx, clock=lambda: START + timedelta(hours=3))
    with ctx.store.begin() as conn:
        rows = ctx.store.outcomes(conn, ACCOUNT)
        cursor = ctx.store.get_cursor(conn, ACCOUNT)

    assert first == 1
    # The second pull asks from the first pull's time, so only the new outcome comes.
    assert second == 1
    assert [row.contact_id for row in rows] == ["h1", "c1"]
    assert cursor.outcomes_cursor_at == START + timedelta(hours=3)


def test_pipeline_configured_later_moves_stored_leads(ctx, crm):
    from connectors.base import StageAction, StageResult

    crm.upsert(hot_lead())
    configured = crm.move_stage
    crm.move_stage = lambda contact, tier: StageResult(contact.id, StageAction.NOT_CONFIGURED)
    run_cycle(ctx, clock=clock_at(crm))
    assert crm.records["h1"].stage is None

    crm.move_stage = configured
    stats = rescore_stored(ctx, clock=clock_at(crm))

    assert stats.moved == 1
    assert crm.records["h1"].stage == "stage-hot"

"""Backfill against the in-memory CRM: resumable, idempotent, and a dry run that changes nothing."""

from __future__ import annotations

import functools

import pytest
import sqlalchemy as sa

from jobs.alerts import AlertSettings, record_score_change
from jobs.alerts.tables import alerts
from jobs.backfill import FINISHED, STOPPED, run_backfill
from jobs.store import schema
from jobs.sync import SyncContext
from scoring.lead import Lead
from tests.jobs.fake_crm import FakeCrm, simple_score

ACCOUNT = "hubspot:1234"


def populate(crm: FakeCrm, count: int = 9) -> None:
    for number in range(count):
        timeline = "This week" if number % 3 == 0 else "Just researching"
        budget = "$1,000+" if number % 3 == 0 else None
        crm.upsert(Lead(id=f"c{number:02d}", answers={"timeline": timeline, "budget": budget}))


@pytest.fixture
def crm() -> FakeCrm:
    fake = FakeCrm(page_size=2)
    populate(fake)
    return fake


@pytest.fixture
def ctx(crm, store) -> SyncContext:
    settings = AlertSettings(_env_file=None, daily_cap=0)
    return SyncContext(
        account=ACCOUNT,
        crm="hubspot",
        connector=crm,
        store=store,
        score=simple_score,
        record_alert=functools.partial(record_score_change, settings=settings),
    )


def crm_state(crm: FakeCrm) -> dict:
    return {
        contact_id: (record.written.score, record.written.tier, record.stage)
        for contact_id, record in crm.records.items()
        if record.written is not None
    }


def alert_count(ctx) -> int:
    with ctx.store.begin() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(alerts)).scalar_one()


def test_backfill_scores_every_contact(ctx, crm):
    pages: list[int] = []
    result = run_backfill(ctx, clock=lambda: crm.clock, on_page=pages.append)

    assert result.finished
    assert result.state.status == FINISHED
    assert result.state.seen == 9
    assert result.stats.written == 9
    assert pages == [2, 2, 2, 2, 1]
    assert len(crm_state(crm)) == 9
    assert alert_count(ctx) == 0


def test_backfill_stopped_then_resumed_matches_full_run(ctx, crm, store_url):
    reference = FakeCrm(page_size=2)
    populate(reference)

    original_pull = crm.pull_all

    def stop_after_two_pages(resume_token=None):
        for number, page in enumerate(original_pull(resume_token), start=1):
            if number == 2:
                ctx.stop.set()  # as SIGTERM would while the second page is processed
            yield page

    crm.pull_all = stop_after_two_pages
    first = run_backfill(ctx, record_alerts=True, clock=lambda: crm.clock)
    assert not first.finished
    assert first.state.status == STOPPED
    assert first.state.resume_token == "4"

    crm.pull_all = original_pull
    ctx.stop.clear()
    second = run_backfill(ctx, record_alerts=True, clock=lambda: crm.clock)

    reference_ctx = SyncContext(
        account="hubspot:reference",
        crm="hubspot",
        connector=reference,
        store=ctx.store,
        score=simple_score,
    )
    run_backfill(reference_ctx, clock=lambda: reference.clock)

    assert second.resumed_from == "4"
    assert second.finished
    assert second.state.seen == 9
    assert crm_state(crm) == crm_state(reference)
    # Hot leads c00, c03, c06: one alert each, none repeated by the resumed run.
    assert alert_count(ctx) == 3


def test_backfill_rerun_writes_nothing(ctx, crm):
    run_backfill(ctx, clock=lambda: crm.clock)
    calls = len(crm.write_calls)

    again = run_backfill(ctx, clock=lambda: crm.clock)

    assert again.finished
    assert again.stats.written == 0
    assert len(crm.write_calls) == calls


def test_dry_run_writes_nothing_anywhere(ctx, crm):
    result = run_backfill(ctx, dry_run=True, clock=lambda: crm.clock)

    with ctx.store.begin() as conn:
        lead_rows = conn.execute(sa.select(sa.func.count()).select_from(schema.leads)).scalar_one()
        progress = ctx.store.get_backfill(conn, ACCOUNT)

    assert result.state is None
    assert result.would_write == 9
    assert result.stats.tiers == {"hot": 3, "cold": 6}
    assert len(result.sample) == 9
    assert result.sample[0].new_score == 85
    assert crm.write_calls == []
    assert crm.stage_calls == []
    assert lead_rows == 0
    assert progress is None


def test_limit_stops_and_next_run_continues(ctx, crm):
    first = run_backfill(ctx, limit=3, clock=lambda: crm.clock)

    assert not first.finished
    assert first.stats.pulled == 3
    # The second page was cut short, so the saved token still points after page one.
    assert first.state.resume_token == "2"

    second = run_backfill(ctx, clock=lambda: crm.clock)

    assert second.finished
    assert len(crm_state(crm)) == 9


def test_restart_ignores_saved_progress(ctx, crm):
    run_backfill(ctx, limit=4, clock=lambda: crm.clock)

    again = run_backfill(ctx, restart=True, clock=lambda: crm.clock)

    assert again.resumed_from is None
    assert again.stats.pulled == 9

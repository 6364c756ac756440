"""A one-off backfill: score every contact of an account, resumable after a crash.

Progress (the connector's resume token and running counts) is saved after
each page's writes succeed, so a backfill killed by SIGKILL, Ctrl-C or a
rate limit continues after the last saved page when run again. Pages are
processed like sync pages, so a page done twice writes nothing the second
time and records no second alert.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

import structlog

from connectors.base import Contact, SkippedRecord
from jobs.store import BackfillState
from jobs.sync import CycleStats, SyncContext, apply_plan, plan_contacts, utc_now

log = structlog.get_logger(__name__)

RUNNING = "running"
FINISHED = "finished"
STOPPED = "stopped"

SAMPLE_SIZE = 10


@dataclass(frozen=True, slots=True)
class ScoreChange:
    """One contact whose CRM score fields would change (for `--dry-run` output)."""

    contact_id: str
    old_score: int | None
    new_score: int
    old_tier: str | None
    new_tier: str
    reasons: str


@dataclass
class BackfillResult:
    """Counts and saved state of one backfill run; `state` is None for a dry run."""

    stats: CycleStats
    state: BackfillState | None
    dry_run: bool
    finished: bool
    resumed_from: str | None = None
    sample: list[ScoreChange] = field(default_factory=list)
    would_write: int = 0


PageCallback = Callable[[int], None]


def run_backfill(
    ctx: SyncContext,
    *,
    dry_run: bool = False,
    limit: int | None = None,
    restart: bool = False,
    record_alerts: bool = False,
    clock: Callable[[], datetime] = utc_now,
    on_page: PageCallback | None = None,
) -> BackfillResult:
    """Score every contact of the account, continuing an interrupted backfill.

    `limit` stops after that many contacts (a page cut short is processed
    again by the next run). `restart` ignores saved progress. Alerts are
    recorded only with `record_alerts`, so a first backfill does not alert
    staff about every old hot lead. `on_page` receives the number of records
    on each finished page, for a progress bar.
    """
    now = clock()
    stats = CycleStats()
    with ctx.store.begin() as conn:
        saved = ctx.store.get_backfill(conn, ctx.account)

    resume_token: str | None = None
    state = BackfillState(
        account=ctx.account,
        status=RUNNING,
        resume_token=None,
        pages=0,
        seen=0,
        scored=0,
        written=0,
        skipped=0,
        failed=0,
        started_at=now,
        updated_at=now,
        finished_at=None,
    )
    if saved is not None and saved.status in (RUNNING, STOPPED) and not restart:
        resume_token = saved.resume_token
        state = replace(saved, status=RUNNING)
        log.info("backfill_resumed", pages=saved.pages, seen=saved.seen)
    result = BackfillResult(stats=stats, state=None, dry_run=dry_run, finished=False)
    result.resumed_from = resume_token
    alert_recorder = ctx.record_alert if record_alerts else None
    page_ctx = replace(ctx, record_alert=alert_recorder)

    finished = True
    for page in ctx.connector.pull_all(resume_token):
        records = list(page.records)
        cut_short = False
        if limit is not None and stats.pulled + len(records) > limit:
            records = records[: max(limit - stats.pulled, 0)]
            cut_short = True

        plan = plan_contacts(page_ctx, records, now)
        if dry_run:
            page_stats = _dry_run_stats(plan, records)
            _collect_sample(result, plan)
        else:
            page_stats = apply_plan(page_ctx, plan, now, trigger="backfill")
        page_stats.pages = 1
        stats.add(page_stats)

        if not dry_run:
            state = replace(
                state,
                # A page cut short by --limit is done again next time, so keep the old token.
                resume_token=state.resume_token if cut_short else page.resume_token,
                pages=state.pages + (0 if cut_short else 1),
                seen=state.seen + page_stats.pulled,
                scored=state.scored + page_stats.scored,
                written=state.written + page_stats.written,
                skipped=state.skipped + page_stats.skipped,
                failed=state.failed + page_stats.errors,
                updated_at=clock(),
            )
            with ctx.store.begin() as conn:
                ctx.store.save_backfill(conn, state)
        if on_page is not None:
            on_page(len(records))
        log.info(
            "backfill_page_done",
            pages=stats.pages,
            seen=stats.pulled,
            written=stats.written,
            dry_run=dry_run,
        )

        if cut_short or (limit is not None and stats.pulled >= limit):
            finished = page.resume_token is None and not cut_short
            break
        if ctx.stop.is_set():
            finished = page.resume_token is None
            break

    result.finished = finished
    if not dry_run:
        end = clock()
        status = FINISHED if finished else STOPPED
        state = replace(state, status=status, updated_at=end, finished_at=end if finished else None)
        with ctx.store.begin() as conn:
            ctx.store.save_backfill(conn, state)
        result.state = state
    log.info(
        "backfill_finished" if finished else "backfill_stopped",
        pages=stats.pages,
        seen=stats.pulled,
        scored=stats.scored,
        written=stats.written,
        errors=stats.errors,
        dry_run=dry_run,
    )
    return result


def resumable_progress(ctx: SyncContext) -> BackfillState | None:
    """Return the saved progress the next run continues from, or None when it starts over."""
    with ctx.store.begin() as conn:
        saved = ctx.store.get_backfill(conn, ctx.account)
    if saved is None or saved.status not in (RUNNING, STOPPED) or saved.resume_token is None:
        return None
    return saved


def _dry_run_stats(plan, records: list[Contact | SkippedRecord]) -> CycleStats:
    stats = CycleStats(
        pulled=len(records),
        scored=len(plan.contacts),
        skipped=plan.skipped,
        errors=len(plan.failures),
    )
    for planned in plan.contacts:
        tier = planned.result.tier.value
        stats.tiers[tier] = stats.tiers.get(tier, 0) + 1
    stats.unchanged = sum(1 for planned in plan.contacts if not planned.needs_write)
    return stats


def _collect_sample(result: BackfillResult, plan) -> None:
    for planned in plan.contacts:
        if not planned.needs_write:
            continue
        result.would_write += 1
        if len(result.sample) >= SAMPLE_SIZE:
            continue
        stored = planned.stored
        written = planned.contact.written
        old_score = stored.score if stored and stored.score is not None else None
        old_tier = stored.tier.value if stored and stored.tier else None
        if old_score is None and written is not None:
            old_score = written.score
            old_tier = written.tier.value if written.tier else None
        result.sample.append(
            ScoreChange(
                contact_id=planned.contact.id,
                old_score=old_score,
                new_score=planned.result.score,
                old_tier=old_tier,
                new_tier=planned.result.tier.value,
                reasons=planned.reasons,
            )
        )

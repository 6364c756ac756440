"""The state store on a real SQLite file and, with DATABASE_URL_TEST, a real PostgreSQL."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from connectors.base import Outcome, OutcomeKind
from jobs.store import BackfillState, Store, schema
from jobs.store.migrations import Migration, check_ordered, migrate
from scoring.lead import Activity, ActivityKind, Lead
from scoring.result import Part, RuleHit, ScoreResult, Tier

ACCOUNT = "hubspot:1234"
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def make_lead(contact_id: str = "101", timeline: str = "This week") -> Lead:
    return Lead(
        id=contact_id,
        created_at=NOW - timedelta(days=1),
        answers={"timeline": timeline, "treatments": ["Botox", "Filler"]},
        attributes={"age": 34},
        tags=frozenset({"web"}),
        activities=(Activity(ActivityKind.EMAIL_OPEN, count=2, last_at=NOW),),
    )


def make_result(contact_id: str = "101", score: int = 88) -> ScoreResult:
    return ScoreResult(
        lead_id=contact_id,
        score=score,
        fit=70,
        intent=90,
        tier=Tier.HOT if score >= 80 else Tier.WARM,
        hits=(RuleHit("timeline", "Timeline", Part.INTENT, 30, 'timeline "This week"'),),
        model_version="medspa-1",
        scored_at=NOW,
    )


def test_sqlite_file_created_private_in_wal_mode(sqlite_url, tmp_path):
    store = Store.open(sqlite_url)
    path = tmp_path / "state" / "leadscore.db"

    mode = stat.S_IMODE(os.stat(path).st_mode)
    with store.engine.connect() as conn:
        journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()
    store.close()

    assert mode == 0o600
    assert journal == "wal"


def test_open_twice_keeps_data_and_version(sqlite_url):
    first = Store.open(sqlite_url)
    with first.begin() as conn:
        first.save_facts(conn, ACCOUNT, make_lead(), details={}, crm_modified_at=None, now=NOW)
    first.close()

    second = Store.open(sqlite_url)
    with second.begin() as conn:
        kept = second.get_lead(conn, ACCOUNT, "101")
        table = schema.schema_version
        versions = dict(conn.execute(sa.select(table.c.component, table.c.version)).all())
    second.close()

    assert kept is not None
    assert versions["core"] == 1


def test_lead_facts_round_trip_with_fingerprint(store):
    lead = make_lead()
    with store.begin() as conn:
        fingerprint = store.save_facts(
            conn,
            ACCOUNT,
            lead,
            details={"email": "jane@example.com", "name": "Jane"},
            crm_modified_at=NOW,
            now=NOW,
        )
    with store.begin() as conn:
        stored = store.get_lead(conn, ACCOUNT, "101")

    assert stored is not None
    assert stored.lead == lead
    assert stored.fingerprint == fingerprint == lead.fingerprint()
    assert stored.details["email"] == "jane@example.com"
    assert stored.crm_modified_at == NOW
    assert stored.score is None


def test_save_score_records_written_values(store):
    with store.begin() as conn:
        store.save_facts(conn, ACCOUNT, make_lead(), details={}, crm_modified_at=None, now=NOW)
        store.save_score(
            conn,
            ACCOUNT,
            make_result(),
            reasons='timeline "This week" → +30',
            written=True,
            written_modified_at=NOW + timedelta(seconds=2),
            now=NOW,
        )
        stored = store.get_lead(conn, ACCOUNT, "101")

    assert stored.score == 88
    assert stored.tier is Tier.HOT
    assert stored.reasons == 'timeline "This week" → +30'
    assert stored.written_at == NOW
    assert stored.written_modified_at == NOW + timedelta(seconds=2)


def test_history_is_append_only_newest_first(store):
    with store.begin() as conn:
        store.append_history(
            conn, ACCOUNT, make_result(score=55), fingerprint="a", trigger="sync", now=NOW
        )
        store.append_history(
            conn, ACCOUNT, make_result(score=88), fingerprint="b", trigger="sync", now=NOW
        )
        entries = store.history(conn, ACCOUNT, "101")

    assert [entry.result.score for entry in entries] == [88, 55]
    assert entries[0].result.hits[0].evidence == 'timeline "This week"'
    assert entries[1].fingerprint == "a"


def test_cursor_pause_then_set_lifts_pause(store):
    with store.begin() as conn:
        assert store.get_cursor(conn, ACCOUNT).cursor_at is None
        store.pause_account(
            conn, ACCOUNT, until=NOW + timedelta(hours=1), reason="daily limit", now=NOW
        )
        paused = store.get_cursor(conn, ACCOUNT)
        store.set_cursor(conn, ACCOUNT, NOW, now=NOW)
        resumed = store.get_cursor(conn, ACCOUNT)

    assert paused.paused_until == NOW + timedelta(hours=1)
    assert paused.pause_reason == "daily limit"
    assert resumed.cursor_at == NOW
    assert resumed.paused_until is None


def test_failures_count_attempts_and_clear(store):
    with store.begin() as conn:
        store.record_failure(conn, ACCOUNT, "7", stage="write", reason="HTTP 400", now=NOW)
        attempts = store.record_failure(
            conn, ACCOUNT, "7", stage="write", reason="HTTP 400 again", now=NOW + timedelta(1)
        )
        before = store.failures(conn, ACCOUNT)
        store.clear_failures(conn, ACCOUNT, ["7"])
        after = store.failures(conn, ACCOUNT)

    assert attempts == 2
    assert before[0].reason == "HTTP 400 again"
    assert before[0].first_failed_at == NOW
    assert after == []


def test_outcome_recorded_once(store):
    outcome = Outcome("101", OutcomeKind.BOOKED, NOW, "appointment:booked", "apt-1")
    with store.begin() as conn:
        store.record_outcome(conn, ACCOUNT, outcome, now=NOW)
        store.record_outcome(conn, ACCOUNT, outcome, now=NOW + timedelta(hours=1))
        rows = store.outcomes(conn, ACCOUNT)

    assert len(rows) == 1
    assert rows[0].kind == "booked"


def test_backfill_progress_round_trip(store):
    state = BackfillState(
        account=ACCOUNT,
        status="running",
        resume_token="after:200",
        pages=2,
        seen=200,
        scored=198,
        written=150,
        skipped=2,
        failed=0,
        started_at=NOW,
        updated_at=NOW,
        finished_at=None,
    )
    with store.begin() as conn:
        store.save_backfill(conn, state)
        loaded = store.get_backfill(conn, ACCOUNT)

    assert loaded == state


def test_iter_leads_yields_all_in_batches(store):
    with store.begin() as conn:
        for number in range(7):
            store.save_facts(
                conn, ACCOUNT, make_lead(f"c{number}"), details={}, crm_modified_at=None, now=NOW
            )
        batches = list(store.iter_leads(conn, ACCOUNT, batch_size=3))

    assert [len(batch) for batch in batches] == [3, 3, 1]
    assert store_ids(batches) == [f"c{number}" for number in range(7)]


def store_ids(batches):
    return [lead.contact_id for batch in batches for lead in batch]


def test_naive_timestamp_rejected(store):
    with pytest.raises(sa.exc.StatementError, match="timezone-aware"), store.begin() as conn:
        store.set_cursor(conn, ACCOUNT, datetime(2026, 1, 1), now=NOW)


def test_migration_steps_run_once_in_order(sqlite_url):
    Store.open(sqlite_url).close()
    engine = sa.create_engine(sqlite_url)
    applied: list[int] = []

    def step(version):
        return Migration(version, f"step {version}", lambda conn: applied.append(version))

    steps = (step(1), step(2), step(3))
    first = migrate(engine, {"core": steps[:1], "extra": steps})
    second = migrate(engine, {"core": steps[:1], "extra": steps})

    assert first == {"core": 1, "extra": 3}
    assert second == first
    # "extra" is new on an existing database, so every step runs once.
    assert applied == [1, 2, 3]


def test_database_from_newer_release_rejected(sqlite_url):
    Store.open(sqlite_url).close()
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.update(schema.schema_version).values(version=99))

    with pytest.raises(RuntimeError, match="newer than this release"):
        Store.open(sqlite_url)


@pytest.mark.parametrize("versions", [[2], [1, 3], [1, 1]], ids=["starts_at_two", "gap", "repeat"])
def test_migration_numbering_checked(versions):
    steps = [Migration(v, "x", lambda conn: None) for v in versions]
    with pytest.raises(ValueError, match="numbered 1, 2, 3"):
        check_ordered("core", steps)


def test_save_facts_many_inserts_and_updates(store):
    first = make_lead("m1")
    changed = make_lead("m1", timeline="Next month")
    other = make_lead("m2")
    with store.begin() as conn:
        store.save_facts_many(conn, ACCOUNT, [(first, {"name": "Ann"}, NOW)], now=NOW)
        store.save_facts_many(
            conn,
            ACCOUNT,
            [(changed, {"name": "Ann B"}, NOW + timedelta(1)), (other, {}, None)],
            now=NOW,
        )
        leads = store.get_leads(conn, ACCOUNT, ["m1", "m2"])

    assert leads["m1"].lead == changed
    assert leads["m1"].fingerprint == changed.fingerprint()
    assert leads["m1"].details == {"name": "Ann B"}
    assert leads["m1"].crm_modified_at == NOW + timedelta(1)
    assert leads["m2"].lead == other


def test_save_written_many_matches_save_score(store):
    with store.begin() as conn:
        for contact_id in ("w1", "w2"):
            store.save_facts(
                conn, ACCOUNT, make_lead(contact_id), details={}, crm_modified_at=None, now=NOW
            )
        store.save_written_many(
            conn,
            ACCOUNT,
            [(make_result("w1", 88), "reason one", NOW), (make_result("w2", 60), "two", None)],
            now=NOW,
        )
        leads = store.get_leads(conn, ACCOUNT, ["w1", "w2"])

    assert leads["w1"].score == 88
    assert leads["w1"].tier is Tier.HOT
    assert leads["w1"].reasons == "reason one"
    assert leads["w1"].written_at == NOW
    assert leads["w1"].written_modified_at == NOW
    assert leads["w2"].score == 60
    assert leads["w2"].tier is Tier.WARM
    assert leads["w2"].written_modified_at is None

"""`leadscore explain CONTACT_ID` without --input: explanation and history from the store."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from jobs.cli import app
from jobs.sync import SyncContext, run_cycle
from scoring.lead import Lead
from tests.jobs.fake_crm import FakeCrm, simple_score


@pytest.fixture
def synced_store(sqlite_url):
    from jobs.store import Store

    store = Store.open(sqlite_url)
    for account_id in ("1234", "5678"):
        crm = FakeCrm(account_id=account_id)
        crm.upsert(Lead(id="h1", answers={"timeline": "This week", "budget": "$1,000+"}))
        if account_id == "1234":
            crm.upsert(Lead(id="only1", answers={"timeline": "This week"}))
        ctx = SyncContext(
            account=f"hubspot:{account_id}",
            crm="hubspot",
            connector=crm,
            store=store,
            score=simple_score,
        )
        run_cycle(ctx, clock=lambda crm=crm: crm.clock)
        crm.upsert(Lead(id="h1", answers={"timeline": "Just researching"}))
        run_cycle(ctx, clock=lambda crm=crm: crm.clock)
    store.close()
    return sqlite_url


def explain(url: str, *args: str):
    runner = CliRunner()
    return runner.invoke(
        app, ["explain", *args], env={"LEADSCORE_DATABASE_URL": url, "COLUMNS": "160"}
    )


def test_explain_shows_current_score_and_history(synced_store):
    result = explain(synced_store, "h1", "--account", "hubspot:1234")

    assert result.exit_code == 0, result.output
    assert "Score 20/100" in result.output
    assert "Score history" in result.output
    assert "85" in result.output  # the earlier hot score is in the history
    assert "hubspot:1234" in result.output


def test_explain_single_account_needs_no_option(synced_store):
    result = explain(synced_store, "only1")

    assert result.exit_code == 0, result.output
    assert "Score 60/100" in result.output


def test_explain_ambiguous_contact_asks_for_account(synced_store):
    result = explain(synced_store, "h1")

    assert result.exit_code == 2
    assert "choose one with --account" in result.output


def test_explain_unknown_contact_not_found(synced_store):
    result = explain(synced_store, "nobody")

    assert result.exit_code == 2
    assert "not found in the state store" in result.output


def test_explain_missing_store_not_created(tmp_path):
    path = tmp_path / "absent.db"

    result = explain(f"sqlite:///{path}", "h1")

    assert result.exit_code == 2
    assert "no state store found" in result.output
    assert not path.exists()

"""`leadscore webhooks`: the queue's counts and rows, and requeueing failures."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from jobs.cli import app
from jobs.store import Store
from jobs.webhooks import queue
from jobs.webhooks.queue import WebhookEvent
from jobs.webhooks.tables import webhook_queue
from tests.webhooks.conftest import FROZEN_NOW


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    """Point the CLI at a store file in tmp_path, with no .env file and a wide terminal."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LEADSCORE_CRM", raising=False)
    return {"LEADSCORE_DATABASE_URL": f"sqlite:///{tmp_path / 'leadscore.db'}", "COLUMNS": "240"}


def fill_queue(url: str) -> None:
    """Queue three contacts: one pending, one done and one failed with an error."""
    store = Store.open(url)
    with store.engine.begin() as conn:
        queue.enqueue(
            conn,
            [
                WebhookEvent("hubspot:1", contact_id, "contact.creation", FROZEN_NOW)
                for contact_id in ("101", "102", "103")
            ],
            now=FROZEN_NOW,
        )
        claimed = {item.contact_id: item for item in queue.claim_batch(conn, 10, now=FROZEN_NOW)}
        queue.mark_done(conn, claimed["102"], now=FROZEN_NOW)
        queue.mark_failed(conn, claimed["103"], "contact not found", now=FROZEN_NOW, retry=False)
        conn.execute(
            sa.update(webhook_queue)
            .where(webhook_queue.c.contact_id == "101")
            .values(status="pending", claimed_at=None)
        )
    store.close()


def test_webhooks_shows_counts_and_errors(cli_env):
    fill_queue(cli_env["LEADSCORE_DATABASE_URL"])

    result = CliRunner().invoke(app, ["webhooks"], env=cli_env)

    assert result.exit_code == 0, result.output
    assert "pending 1, processing 0, failed 1" in result.output
    assert "contact not found" in result.output
    assert "103" in result.output


def test_webhooks_filters_by_status(cli_env):
    fill_queue(cli_env["LEADSCORE_DATABASE_URL"])

    result = CliRunner().invoke(app, ["webhooks", "--status", "done"], env=cli_env)

    assert result.exit_code == 0, result.output
    assert "102" in result.output
    assert "contact not found" not in result.output


def test_webhooks_invalid_status_exits_2(cli_env):
    result = CliRunner().invoke(app, ["webhooks", "--status", "lost"], env=cli_env)

    assert result.exit_code == 2
    assert "invalid --status 'lost'" in result.output


def test_webhooks_retry_requeues_failed(cli_env):
    fill_queue(cli_env["LEADSCORE_DATABASE_URL"])

    result = CliRunner().invoke(app, ["webhooks", "retry"], env=cli_env)

    store = Store.open(cli_env["LEADSCORE_DATABASE_URL"])
    with store.engine.connect() as conn:
        select = sa.select(webhook_queue.c.contact_id, webhook_queue.c.status)
        statuses = {contact_id: status for contact_id, status in conn.execute(select)}
    store.close()
    assert result.exit_code == 0, result.output
    assert "Requeued 1 contact(s)" in result.output
    assert statuses == {"101": "pending", "102": "done", "103": "pending"}


def test_webhooks_empty_queue(cli_env):
    result = CliRunner().invoke(app, ["webhooks"], env=cli_env)

    assert result.exit_code == 0, result.output
    assert "The queue is empty." in result.output


def test_webhooks_invalid_setting_names_variable(cli_env):
    env = {**cli_env, "LEADSCORE_CRM": "salesforce"}
    result = CliRunner().invoke(app, ["webhooks"], env=env)
    assert result.exit_code == 2
    assert "LEADSCORE_CRM" in result.output
    assert "salesforce" in result.output
    assert "errors.pydantic.dev" not in result.output

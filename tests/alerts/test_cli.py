from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from jobs.alerts import build_channels, deliver_pending, record_score_change
from jobs.cli import app
from tests.alerts.conftest import ACCOUNT, make_contact, make_score, make_settings

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

START = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


def table_row(output: str, first_cell: str) -> str:
    """Return the line of a Rich table whose first cell is `first_cell`."""
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if cells and cells[0] == first_cell:
            return " | ".join(cells)
    raise AssertionError(f"no table row starts with {first_cell!r} in:\n{output}")


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    """Point the CLI at a store file in tmp_path, with no .env file and a wide terminal."""
    monkeypatch.chdir(tmp_path)
    for name in ("LEADSCORE_ALERT_CHANNELS", "LEADSCORE_ALERT_WEBHOOK_URL", "LEADSCORE_CRM"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'leadscore.db'}"
    return {"LEADSCORE_DATABASE_URL": url, "COLUMNS": "240", "LEADSCORE_ALERT_CHANNELS": "webhook"}


def fill_store(url, model, receiver):
    """Record a sent alert, a failed one and one held for the digest."""
    from jobs.store import Store

    store = Store.open(url)
    settings = make_settings(webhook_url=receiver.url, max_attempts=1, daily_cap=2, batch_size=1)
    for contact_id, score in (("101", 90), ("102", 85), ("103", 80)):
        with store.engine.begin() as conn:
            record_score_change(
                conn,
                account=ACCOUNT,
                contact=make_contact(contact_id, name=f"Lead {contact_id}"),
                previous=None,
                current=make_score(score, contact_id=contact_id),
                model=model,
                now=START,
                settings=settings,
            )
    channels = build_channels(settings)
    deliver_pending(store.engine, channels, START, settings)  # one per run: 101, the hottest
    receiver.fail_next(1, status=500)
    deliver_pending(store.engine, channels, START + timedelta(seconds=1), settings)
    store.close()


def test_alerts_lists_deliveries_and_errors(cli_env, model, receiver):
    fill_store(cli_env["LEADSCORE_DATABASE_URL"], model, receiver)
    result = CliRunner().invoke(app, ["alerts"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert "Lead 101 (101)" in result.output
    assert "webhook: sent, 1 attempt(s)" in result.output
    assert "webhook: failed, 1 attempt(s)" in result.output
    assert "last error: webhook channel: POST to http://127.0.0.1:" in result.output
    assert "held: digest at Thu Mar 5, 12:00 AM EST" in result.output


@pytest.mark.parametrize(
    ("status", "shown", "hidden"),
    [
        ("failed", ["Lead 102"], ["Lead 101", "Lead 103"]),
        ("sent", ["Lead 101"], ["Lead 102", "Lead 103"]),
        ("held", ["Lead 103"], ["Lead 101", "Lead 102"]),
    ],
    ids=["failed", "sent", "held"],
)
def test_alerts_status_filter(cli_env, model, receiver, status, shown, hidden):
    fill_store(cli_env["LEADSCORE_DATABASE_URL"], model, receiver)
    result = CliRunner().invoke(app, ["alerts", "--status", status], env=cli_env)
    assert result.exit_code == 0, result.output
    for name in shown:
        assert name in result.output
    for name in hidden:
        assert name not in result.output


def test_alerts_account_filter_excludes_others(cli_env, model, receiver):
    fill_store(cli_env["LEADSCORE_DATABASE_URL"], model, receiver)
    result = CliRunner().invoke(app, ["alerts", "--account", "gohighlevel:loc1"], env=cli_env)
    assert result.exit_code == 0
    assert "No alerts match." in result.output


def test_alerts_rejects_unknown_status(cli_env):
    result = CliRunner().invoke(app, ["alerts", "--status", "lost"], env=cli_env)
    assert result.exit_code == 2
    assert "invalid --status 'lost'" in result.output


def test_alerts_test_sends_through_each_channel(cli_env, receiver, smtp_server):
    env = cli_env | {
        "LEADSCORE_ALERT_CHANNELS": "crm,webhook,email",
        "LEADSCORE_ALERT_WEBHOOK_URL": receiver.url,
        "LEADSCORE_ALERT_SMTP_HOST": "127.0.0.1",
        "LEADSCORE_ALERT_SMTP_PORT": str(smtp_server.port),
        "LEADSCORE_ALERT_SMTP_SECURITY": "none",
        "LEADSCORE_ALERT_SMTP_USERNAME": "frontdesk",
        "LEADSCORE_ALERT_SMTP_PASSWORD": "correct-horse",
        "LEADSCORE_ALERT_EMAIL_FROM": "alerts@spa.example",
        "LEADSCORE_ALERT_EMAIL_TO": "desk@spa.example",
    }
    result = CliRunner().invoke(app, ["alerts", "test"], env=env)
    assert result.exit_code == 0, result.output
    assert table_row(result.output, "webhook").startswith("webhook | sent | HTTP 200")
    assert table_row(result.output, "email").startswith("email | sent | sent <")
    assert table_row(result.output, "crm").startswith("crm | skipped | pass --contact ID")
    assert len(receiver.requests) == 1
    assert "Test Lead (leadscore alerts test)" in receiver.requests[0].json()["text"]
    assert len(smtp_server.handler.messages) == 1


def test_alerts_test_reports_login_failure(cli_env, smtp_server):
    env = cli_env | {
        "LEADSCORE_ALERT_CHANNELS": "email",
        "LEADSCORE_ALERT_SMTP_HOST": "127.0.0.1",
        "LEADSCORE_ALERT_SMTP_PORT": str(smtp_server.port),
        "LEADSCORE_ALERT_SMTP_SECURITY": "none",
        "LEADSCORE_ALERT_SMTP_USERNAME": "frontdesk",
        "LEADSCORE_ALERT_SMTP_PASSWORD": "stale-password",
        "LEADSCORE_ALERT_EMAIL_FROM": "alerts@spa.example",
        "LEADSCORE_ALERT_EMAIL_TO": "desk@spa.example",
    }
    result = CliRunner().invoke(app, ["alerts", "test"], env=env)
    assert result.exit_code == 1
    assert table_row(result.output, "email").startswith("email | failed | email channel:")
    assert "SMTP login to 127.0.0.1" in result.output
    assert "LEADSCORE_ALERT_SMTP_PASSWORD" in result.output
    assert "stale-password" not in result.output


def test_alerts_test_reports_invalid_webhook_url(cli_env):
    env = cli_env | {"LEADSCORE_ALERT_WEBHOOK_URL": "ftp://hooks.example.com/abc"}
    result = CliRunner().invoke(app, ["alerts", "test"], env=env)
    assert result.exit_code == 1
    assert "invalid webhook URL" in result.output
    assert "LEADSCORE_ALERT_WEBHOOK_URL" in result.output


def test_alerts_test_creates_crm_task_on_contact(cli_env):
    from tests.fakes.hubspot import DEFAULT_TOKEN, FakeHubSpot

    fake = FakeHubSpot()
    contact_id = fake.add_contact({"firstname": "Desk", "lastname": "Check"})
    with fake.serve() as base_url:
        env = cli_env | {
            "LEADSCORE_ALERT_CHANNELS": "crm",
            "LEADSCORE_CRM": "hubspot",
            "LEADSCORE_ACCOUNT_ID": "62515",
            "LEADSCORE_HUBSPOT_TOKEN": DEFAULT_TOKEN,
            "LEADSCORE_CRM_BASE_URL": base_url,
        }
        result = CliRunner().invoke(app, ["alerts", "test", "--contact", contact_id], env=env)
    assert result.exit_code == 0, result.output
    assert table_row(result.output, "crm").startswith("crm | sent |")
    [task] = fake.objects["tasks"].values()
    assert "Test Lead (leadscore alerts test)" in task.properties["hs_task_subject"]
    assert fake.spec_problems == []


def test_alerts_invalid_setting_names_variable(cli_env):
    env = {**cli_env, "LEADSCORE_CRM": "salesforce"}
    result = CliRunner().invoke(app, ["alerts"], env=env)
    assert result.exit_code == 2
    assert "LEADSCORE_CRM" in result.output
    assert "salesforce" in result.output
    assert "errors.pydantic.dev" not in result.output

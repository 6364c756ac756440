from datetime import UTC, datetime, time, timedelta

from connectors.base import HotLeadAlert
from connectors.errors import MissingScopeError, TransientError
from jobs.alerts import build_channels, deliver_pending
from tests.alerts.conftest import ACCOUNT, delivery_rows, make_settings, record_first_score

START = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


class TaskCrm:
    """A CRM account that creates one task per idempotency key, as the connectors promise."""

    crm = "hubspot"
    account_id = "1234567"

    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.tasks: dict[str, HotLeadAlert] = {}
        self.calls: list[str] = []
        self.failures = list(failures or [])

    def create_alert(self, alert: HotLeadAlert, idempotency_key: str) -> str:
        self.calls.append(idempotency_key)
        if self.failures:
            raise self.failures.pop(0)
        self.tasks.setdefault(idempotency_key, alert)
        return f"task-{list(self.tasks).index(idempotency_key) + 1}"


def test_crm_task_carries_alert_and_key(engine, model):
    settings = make_settings(channels="crm")
    crm = TaskCrm()
    alert_id = record_first_score(engine, model, settings, START)
    report = deliver_pending(engine, build_channels(settings, {ACCOUNT: crm}), START, settings)
    assert report.sent == 1
    assert list(crm.tasks) == [f"leadscore-alert-{alert_id}-crm"]
    task = crm.tasks[f"leadscore-alert-{alert_id}-crm"]
    assert task.contact_id == "101"
    assert task.owner_id == "77"
    assert task.score == 88
    assert delivery_rows(engine)[0].receipt == "task-1"


def test_crm_transient_error_retries(engine, model):
    settings = make_settings(channels="crm")
    crm = TaskCrm([TransientError("HTTP 502 from the CRM", crm="hubspot")])
    record_first_score(engine, model, settings, START)
    channels = build_channels(settings, {ACCOUNT: crm})
    deliver_pending(engine, channels, START, settings)
    assert delivery_rows(engine)[0].status == "pending"
    deliver_pending(engine, channels, START + timedelta(minutes=1), settings)
    assert delivery_rows(engine)[0].status == "sent"
    assert len(crm.tasks) == 1


def test_crm_missing_scope_explains_fix(engine, model):
    settings = make_settings(channels="crm")
    error = MissingScopeError("the token lacks crm.objects.tasks.write", scopes=("tasks",))
    record_first_score(engine, model, settings, START)
    deliver_pending(engine, build_channels(settings, {ACCOUNT: TaskCrm([error])}), START, settings)
    [delivery] = delivery_rows(engine)
    assert delivery.status == "pending"
    assert "crm channel: creating the alert for contact 101 failed" in delivery.last_error
    assert "crm.objects.tasks.write" in delivery.last_error
    assert "scopes" in delivery.last_error


def test_crm_account_without_connector_keeps_alert(engine, model):
    settings = make_settings(channels="crm")
    record_first_score(engine, model, settings, START)
    deliver_pending(engine, build_channels(settings, {}), START, settings)
    [delivery] = delivery_rows(engine)
    assert delivery.status == "pending"
    assert f"no CRM connector is configured for account '{ACCOUNT}'" in delivery.last_error


def test_crm_digest_creates_one_task_per_lead(engine, model):
    settings = make_settings(channels="crm", daily_cap=1, digest_time=time(17, 0))
    crm = TaskCrm()
    first = record_first_score(engine, model, settings, START, contact_id="1", score=80)
    second = record_first_score(engine, model, settings, START, contact_id="2", score=82)
    third = record_first_score(engine, model, settings, START, contact_id="3", score=95)
    channels = build_channels(settings, {ACCOUNT: crm})
    deliver_pending(engine, channels, datetime(2026, 3, 4, 22, 0, tzinfo=UTC), settings)
    # The digest (top score 95) goes before the single alert (80); inside the
    # digest each lead keeps the key of its own outbox alert.
    assert crm.calls == [
        f"leadscore-alert-{third}-crm",
        f"leadscore-alert-{second}-crm",
        f"leadscore-alert-{first}-crm",
    ]
    assert len(crm.tasks) == 3


def test_unexpected_connector_error_does_not_stop_batch(engine, model):
    settings = make_settings(channels="crm")
    crm = TaskCrm([KeyError("ownerId")])
    record_first_score(engine, model, settings, START, contact_id="1", score=90)
    record_first_score(engine, model, settings, START, contact_id="2", score=80)
    report = deliver_pending(engine, build_channels(settings, {ACCOUNT: crm}), START, settings)
    assert [result.status for result in report.results] == ["pending", "sent"]
    first, second = delivery_rows(engine)
    assert first.status == "pending"
    assert "crm channel: unexpected KeyError" in first.last_error
    assert second.status == "sent"

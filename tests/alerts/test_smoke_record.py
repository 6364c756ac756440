from datetime import UTC, datetime

from jobs.alerts import record_score_change
from tests.alerts.conftest import ACCOUNT, alert_rows, delivery_rows, make_contact, make_score, make_settings


def test_first_hot_score_records_pending_alert(engine, model):
    now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    with engine.begin() as conn:
        alert_id = record_score_change(
            conn, account=ACCOUNT, contact=make_contact(), previous=None, current=make_score(82),
            model=model, now=now, settings=make_settings(),
        )
    assert alert_id is not None
    rows = alert_rows(engine)
    assert rows[0].status == "pending"
    assert rows[0].created_at == now
    assert [row.channel for row in delivery_rows(engine)] == ["webhook"]

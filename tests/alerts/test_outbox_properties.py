"""Property: for any score history, alerts fire exactly at crossings outside the cool-down."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.pool import StaticPool

from jobs.alerts import record_score_change
from jobs.store.schema import metadata
from tests.alerts.conftest import ACCOUNT, ModelStub, make_contact, make_score, make_settings

THRESHOLD = 75
COOLDOWN = timedelta(hours=168)
START = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)

# Scores and gaps lean toward the edges: the threshold itself and gaps that
# add up to exactly the cool-down.
scores = st.one_of(st.sampled_from([74, 75, 76]), st.integers(min_value=1, max_value=100))
gaps_in_hours = st.one_of(
    st.sampled_from([24, 56, 84, 168]), st.integers(min_value=1, max_value=120)
)
steps = st.lists(st.tuples(scores, gaps_in_hours), min_size=1, max_size=25)


def expected_alert_steps(history: list[tuple[int, int]]) -> list[int]:
    """Return the indexes that should alert, computed straight from the rules."""
    alerted: list[int] = []
    last_alert_at = None
    previous = None
    now = START
    for index, (score, hours) in enumerate(history):
        now += timedelta(hours=hours)
        crossed = score >= THRESHOLD and (previous is None or previous < THRESHOLD)
        cooled = last_alert_at is None or now - last_alert_at >= COOLDOWN
        if crossed and cooled:
            alerted.append(index)
            last_alert_at = now
        previous = score
    return alerted


@settings(max_examples=60, deadline=None)
@given(history=steps)
def test_alerts_match_rules_for_any_history(history):
    engine = sa.create_engine("sqlite://", poolclass=StaticPool)
    metadata.create_all(engine)
    alert_settings = make_settings(cooldown_hours=COOLDOWN.total_seconds() / 3600)
    model = ModelStub(alert_threshold=THRESHOLD)
    alerted: list[int] = []
    previous = None
    now = START
    for index, (score, hours) in enumerate(history):
        now += timedelta(hours=hours)
        current = make_score(score)
        with engine.begin() as conn:
            alert_id = record_score_change(
                conn,
                account=ACCOUNT,
                contact=make_contact(),
                previous=previous,
                current=current,
                model=model,
                now=now,
                settings=alert_settings,
            )
        if alert_id is not None:
            alerted.append(index)
        previous = current
    engine.dispose()
    assert alerted == expected_alert_steps(history)

"""Properties of the sync that must hold for any leads: idempotence and no write loops."""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.base import ActivityMode
from jobs.store import Store
from jobs.sync import SyncContext, merge_activities, run_cycle
from scoring.lead import Activity, ActivityKind, Lead
from tests.jobs.fake_crm import START, FakeCrm, simple_score

_accounts = itertools.count()

activities = st.builds(
    Activity,
    kind=st.sampled_from([ActivityKind.EMAIL_OPEN, ActivityKind.EMAIL_CLICK, ActivityKind.REPLY]),
    count=st.integers(min_value=1, max_value=5),
    last_at=st.integers(min_value=0, max_value=60).map(lambda days: START - timedelta(days=days)),
)
leads = st.builds(
    Lead,
    id=st.text("abcdef0123456789", min_size=1, max_size=6),
    answers=st.fixed_dictionaries(
        {
            "timeline": st.sampled_from(["This week", "This month", "Just researching", ""]),
            "budget": st.sampled_from(["$1,000+", "$300", ""]),
        }
    ),
    activities=st.lists(activities, max_size=4).map(tuple),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(leads, min_size=1, max_size=8, unique_by=lambda lead: lead.id))
def test_second_cycle_never_writes(tmp_path_factory, batch):
    store = _shared_store(tmp_path_factory)
    crm = FakeCrm(page_size=3)
    for lead in batch:
        crm.upsert(lead)
    ctx = SyncContext(
        account=f"hubspot:{next(_accounts)}",
        crm="hubspot",
        connector=crm,
        store=store,
        score=simple_score,
    )

    first = run_cycle(ctx, clock=lambda: crm.clock)
    crm.tick(30)
    second = run_cycle(ctx, clock=lambda: crm.clock)

    assert first.stats.written == len(batch)
    assert second.stats.written == 0
    assert second.stats.moved == 0
    assert crm.written_rows == len(batch)


_STORES: dict[str, Store] = {}


def _shared_store(tmp_path_factory) -> Store:
    if "store" not in _STORES:
        path = tmp_path_factory.mktemp("properties") / "store.db"
        _STORES["store"] = Store.open(f"sqlite:///{path}")
    return _STORES["store"]


@given(
    stored=st.lists(activities, max_size=5),
    incoming=st.lists(activities, max_size=5),
)
def test_event_merge_is_idempotent(stored, incoming):
    once = merge_activities(stored, incoming, ActivityMode.EVENTS)
    twice = merge_activities(once, incoming, ActivityMode.EVENTS)

    assert twice == once
    assert set(once) == set(stored) | set(incoming)

"""Property test of search re-slicing, with the cap and page size scaled down.

The real cap (10,000 results) makes each example slow, so the test lowers the
connector's and the fake's cap to 60 and the page size to 20. The re-slicing
logic does not depend on the numbers.
"""

import responses
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from connectors.hubspot import pull
from tests.fakes.hubspot import FakeHubSpot, SimulatedClock
from tests.fakes.hubspot import fake as fake_module
from tests.hubspot.conftest import BASE_URL, build_connector

CAP = 60
PAGE = 20


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    offsets=st.integers(min_value=0, max_value=40).flatmap(
        # A small spread puts many contacts on one timestamp, the hard case.
        lambda spread: st.lists(st.integers(0, spread), min_size=0, max_size=220)
    )
)
@example(offsets=[0] * 150)
@example(offsets=[n % 3 for n in range(200)])
@example(offsets=list(range(40)) * 5)
def test_every_changed_contact_pulled_once(monkeypatch, offsets):
    monkeypatch.setattr(pull, "SEARCH_RESULT_CAP", CAP)
    monkeypatch.setattr(pull, "SEARCH_PAGE_SIZE", PAGE)
    monkeypatch.setattr(fake_module, "SEARCH_CAP", CAP)
    clock = SimulatedClock()
    fake = FakeHubSpot(clock=clock, validate=False)
    start = int(clock() * 1000) - 100_000
    ids = {fake.add_contact({}, modified_ms=start + offset) for offset in offsets}

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps, BASE_URL)
        connector = build_connector(clock)
        pulled = [c.id for page in connector.pull_changed(None) for c in page.records]

    assert sorted(pulled) == sorted(ids)
    assert len(pulled) == len(set(pulled))
    searches = [call for call in fake.calls if call.path.endswith("/search")]
    assert all(call.status == 200 for call in searches)
    assert all(int(call.body.get("after", 0)) + PAGE <= CAP for call in searches)

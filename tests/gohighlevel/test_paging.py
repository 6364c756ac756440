"""Search paging: every contact exactly once, whatever the count, page size and result cap."""

from __future__ import annotations

from datetime import timedelta

import responses
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.gohighlevel import GoHighLevelConfig, GoHighLevelConnector
from connectors.gohighlevel.paging import SearchPosition, search_contacts
from tests.fakes.gohighlevel import FakeGoHighLevel, FrozenClock
from tests.gohighlevel.conftest import LOCATION, MAPPING, SPEC_VALIDATOR, START, TOKEN


@settings(max_examples=40, deadline=None)
@given(
    count=st.integers(min_value=0, max_value=60),
    page_limit=st.integers(min_value=1, max_value=7),
    window=st.integers(min_value=7, max_value=30),
    same_time=st.booleans(),
)
def test_paging_returns_each_contact_once(count, page_limit, window, same_time) -> None:
    clock = FrozenClock(START)
    fake = FakeGoHighLevel(clock=clock, validator=SPEC_VALIDATOR)
    fake.search_result_window = window
    fake.state.add_location(LOCATION)
    fake.state.issue_token(LOCATION, value=TOKEN)
    for index in range(count):
        # Equal sort values make the id the tie-breaker of the cursor.
        offset = timedelta(0) if same_time else timedelta(seconds=index)
        fake.state.add_contact(LOCATION, contact_id=f"c{index:03d}", added_at=START + offset)
    connector = GoHighLevelConnector(
        GoHighLevelConfig(location_id=LOCATION, token=TOKEN), MAPPING, now=clock
    )

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.mount(mock)
        pages = list(
            search_contacts(
                connector.client,
                filters=[],
                sort_field="dateAdded",
                start=SearchPosition(),
                page_limit=page_limit,
                result_window=window,
            )
        )
    connector.close()

    ids = [contact["id"] for contacts, _ in pages for contact in contacts]
    assert ids == [f"c{index:03d}" for index in range(count)]
    assert pages[-1][1] is None
    assert all(request.status == 200 for request in fake.requests)


def test_resume_token_round_trip() -> None:
    for position in (SearchPosition(page=3), SearchPosition(page=None, search_after=(17, "c9"))):
        assert SearchPosition.from_token(position.to_token()) == position

from datetime import UTC, datetime

import pytest
import responses
from pydantic import SecretStr

from connectors.hubspot import HubSpotConfig, HubSpotConnector
from scoring.mapping import FieldMapping
from tests.fakes.hubspot import DEFAULT_TOKEN, FakeHubSpot, SimulatedClock

BASE_URL = "https://api.hubapi.com"

MAPPING = FieldMapping(
    answers={
        "treatment": ["treatment_interest"],
        "budget": ["What is your budget for this treatment?"],
        "timeline": ["booking_timeline"],
        "treated_before": ["had_treatment_before"],
    },
    attributes={"age": ["age"], "postal_code": ["Postal Code"]},
)


@pytest.fixture
def clock():
    return SimulatedClock(start=datetime(2026, 12, 1, 12, 0, tzinfo=UTC).timestamp())


@pytest.fixture
def fake(clock):
    fake = FakeHubSpot(clock=clock)
    yield fake
    # Every request the connector sent must match the official spec.
    assert fake.spec_problems == []


@pytest.fixture
def mocked(fake):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps, BASE_URL)
        yield rsps


def build_connector(clock, mapping=MAPPING, **settings):
    values = {"portal_id": "62515", "token": SecretStr(DEFAULT_TOKEN), "base_url": BASE_URL}
    values.update(settings)
    return HubSpotConnector(
        HubSpotConfig(**values),
        mapping,
        sleep=clock.sleep,
        clock=clock,
        now=clock.datetime,
        jitter=lambda limit: 0.0,
    )


@pytest.fixture
def connector(clock, mocked):
    built = build_connector(clock)
    yield built
    built.close()

"""Fixtures for end-to-end runs of the worker against the stateful CRM fakes.

Each runtime is built from settings the way `leadscore run` builds it, with
the built-in model, a real SQLite store file and the real alert outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import responses

from connectors.hubspot import HubSpotConnector
from connectors.hubspot.config import HubSpotConfig
from jobs.accounts import build_runtime
from jobs.settings import Settings
from tests.fakes.gohighlevel import FakeGoHighLevel, FrozenClock
from tests.fakes.gohighlevel.medspa import add_med_spa_location
from tests.fakes.hubspot import DEFAULT_TOKEN, FakeHubSpot

HUBSPOT_PORTAL = "62515"
HUBSPOT_URL = "https://api.hubapi.com"
DEAL_STAGES = {
    "hot": "appointmentscheduled",
    "warm": "qualifiedtobuy",
    "cold": "presentationscheduled",
}


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def hubspot(rsps) -> Iterator[FakeHubSpot]:
    fake = FakeHubSpot(portal_id=HUBSPOT_PORTAL, burst_limit=1000)
    fake.install(rsps, HUBSPOT_URL)
    yield fake
    assert fake.spec_problems == []


def hubspot_settings(tmp_path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "_env_file": None,
        "crm": "hubspot",
        "account_id": HUBSPOT_PORTAL,
        "hubspot_token": DEFAULT_TOKEN,
        "database_url": f"sqlite:///{tmp_path / 'store.db'}",
        "heartbeat_file": tmp_path / "heartbeat",
        "pipeline_id": "default",
        "hot_stage": DEAL_STAGES["hot"],
        "warm_stage": DEAL_STAGES["warm"],
        "cold_stage": DEAL_STAGES["cold"],
    }
    values.update(overrides)
    return Settings(**values)


def hubspot_factory(**config: Any) -> Callable[[Any, Any], HubSpotConnector]:
    """Return a connector factory that builds the account's connector with `config` changes."""
    from jobs.accounts import connector_config

    def build(account, model) -> HubSpotConnector:
        base = connector_config(account)
        values = {**base.model_dump(), **config}
        return HubSpotConnector(HubSpotConfig(**values), mapping=model.mapping)

    return build


@pytest.fixture
def hubspot_runtime(hubspot, tmp_path):
    built = build_runtime(hubspot_settings(tmp_path))
    built.contexts[0].connector.setup(apply=True)
    yield built
    built.close()


GHL_LOCATION = "locGlowReview"
GHL_TOKEN = "pit-7e5d2c1b-0000-4b4b-8c8c-review"
GHL_STAGES = ["Hot", "Warm", "Cold", "Booked"]


@pytest.fixture
def ghl_clock() -> FrozenClock:
    # The connector reads the real clock for its look-back windows, so the
    # fake's clock starts at the current minute.
    return FrozenClock(datetime.now(UTC).replace(second=0, microsecond=0))


@pytest.fixture
def ghl(ghl_clock, rsps) -> FakeGoHighLevel:
    fake = FakeGoHighLevel(clock=ghl_clock)
    add_med_spa_location(fake.state, GHL_LOCATION, GHL_TOKEN)
    fake.mount(rsps)
    return fake


def ghl_settings(ghl: FakeGoHighLevel, tmp_path, **overrides: Any) -> Settings:
    pipeline = ghl.state.add_pipeline(GHL_LOCATION, "Leads", GHL_STAGES)
    stages = {stage["name"]: stage["id"] for stage in pipeline["stages"]}
    values: dict[str, Any] = {
        "_env_file": None,
        "crm": "gohighlevel",
        "account_id": GHL_LOCATION,
        "ghl_token": GHL_TOKEN,
        "crm_base_url": ghl.base_url,
        "database_url": f"sqlite:///{tmp_path / 'store.db'}",
        "heartbeat_file": tmp_path / "heartbeat",
        "pipeline_id": pipeline["id"],
        "hot_stage": stages["Hot"],
        "warm_stage": stages["Warm"],
        "cold_stage": stages["Cold"],
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def ghl_runtime(ghl, tmp_path):
    built = build_runtime(ghl_settings(ghl, tmp_path))
    built.contexts[0].connector.setup(apply=True)
    yield built
    built.close()

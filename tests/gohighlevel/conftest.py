"""Fixtures for the GoHighLevel connector tests: a fake account, a frozen clock, builders."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import responses

from connectors.base import ScoreWrite
from connectors.gohighlevel import GoHighLevelConfig, GoHighLevelConnector
from connectors.gohighlevel.auth import FileTokenStore, OAuthTokens
from connectors.http import RetrySettings
from scoring.mapping import FieldMapping
from scoring.result import Tier
from tests.fakes.gohighlevel import FakeGoHighLevel, FrozenClock
from tests.fakes.gohighlevel.spec import load_ghl_validator

LOCATION = "locGlow01"
TOKEN = "pit-0f3c9a1e-5d2b-4c8e-9a77-test"
START = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

MAPPING = FieldMapping(
    answers={
        "timeline": ["How soon are you looking to book?", "contact.timeline"],
        "budget": ["budget"],
        "treatments": ["Treatments of interest"],
    },
    attributes={"zip": ["postalCode"]},
)

SPEC_VALIDATOR = load_ghl_validator()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def fake(clock: FrozenClock) -> FakeGoHighLevel:
    """A fake account: one location, its qualification fields, a private integration token."""
    fake = FakeGoHighLevel(clock=clock, validator=SPEC_VALIDATOR)
    fake.state.add_location(LOCATION)
    fake.state.issue_token(LOCATION, value=TOKEN)
    state = fake.state
    state.add_custom_field(
        LOCATION,
        "How soon are you looking to book?",
        "SINGLE_OPTIONS",
        options=["This week", "This month", "Just researching"],
        field_key="contact.timeline",
    )
    state.add_custom_field(LOCATION, "Budget", "TEXT")
    state.add_custom_field(
        LOCATION, "Treatments of interest", "MULTIPLE_OPTIONS", options=["Botox", "Filler", "Laser"]
    )
    state.add_custom_field(LOCATION, "Favourite colour", "TEXT")
    return fake


def add_worker_fields(fake: FakeGoHighLevel, location: str = LOCATION) -> None:
    """Create the score fields as `setup` would."""
    for name, data_type in (
        ("Lead Score", "NUMERICAL"),
        ("Lead Fit", "NUMERICAL"),
        ("Lead Intent", "NUMERICAL"),
        ("Lead Score Reasons", "LARGE_TEXT"),
    ):
        fake.state.add_custom_field(location, name, data_type)
    fake.state.add_custom_field(
        location, "Lead Tier", "SINGLE_OPTIONS", options=["Hot", "Warm", "Cold", "Disqualified"]
    )


@pytest.fixture
def rsps(fake: FakeGoHighLevel) -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.mount(mock)
        yield mock


class Sleeps(list):
    """Records each sleep and moves the frozen clock instead of waiting."""

    def __init__(self, clock: FrozenClock) -> None:
        super().__init__()
        self.clock = clock

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        self.clock.advance(seconds=seconds)


@pytest.fixture
def sleeps(clock: FrozenClock) -> Sleeps:
    return Sleeps(clock)


ConnectorFactory = Callable[..., GoHighLevelConnector]


@pytest.fixture
def make_connector(
    fake: FakeGoHighLevel, clock: FrozenClock, sleeps: Sleeps, rsps: responses.RequestsMock
) -> Iterator[ConnectorFactory]:
    built: list[GoHighLevelConnector] = []

    def build(mapping: FieldMapping = MAPPING, **overrides: Any) -> GoHighLevelConnector:
        settings: dict[str, Any] = {"location_id": LOCATION, "token": TOKEN}
        settings.update(overrides)
        connector = GoHighLevelConnector(
            GoHighLevelConfig(**settings),
            mapping,
            sleep=sleeps,
            monotonic=lambda: clock.now.timestamp(),
            now=clock,
            retry=RetrySettings(jitter_seconds=0.0),
        )
        built.append(connector)
        return connector

    yield build
    for connector in built:
        connector.close()


def oauth_settings(fake: FakeGoHighLevel, tmp_path: Path, **grant: Any) -> dict[str, Any]:
    """Register an OAuth app, install it on the location and store the tokens in a file."""
    fake.state.register_oauth_client("client-1", "secret-1")
    access, refresh = fake.state.issue_oauth_grant("client-1", LOCATION, **grant)
    path = tmp_path / "tokens" / f"{LOCATION}.json"
    FileTokenStore(path).save(
        OAuthTokens(
            access_token=access,
            refresh_token=refresh,
            expires_at=fake.state.now() + fake.state.access_token_lifetime,
            location_id=LOCATION,
        )
    )
    return {
        "token": None,
        "oauth_client_id": "client-1",
        "oauth_client_secret": "secret-1",
        "token_store_path": path,
    }


PIPELINE_STAGES = ["New lead", "Cold", "Warm", "Hot", "Booked"]


def add_pipeline(fake: FakeGoHighLevel) -> tuple[str, dict[str, str]]:
    """Add the spa's lead pipeline; return its id and stage ids by name."""
    pipeline = fake.state.add_pipeline(LOCATION, "Leads", PIPELINE_STAGES)
    return pipeline["id"], {stage["name"]: stage["id"] for stage in pipeline["stages"]}


def tier_stages(stages: dict[str, str]) -> dict[Tier, str]:
    return {Tier.HOT: stages["Hot"], Tier.WARM: stages["Warm"], Tier.COLD: stages["Cold"]}


def score_write(contact_id: str, score: int = 84, tier: Tier = Tier.HOT) -> ScoreWrite:
    return ScoreWrite(
        contact_id=contact_id,
        score=score,
        fit=70,
        intent=90,
        tier=tier,
        reasons='timeline "This week" → +30; budget "$2,000" → +20',
        scored_at=START,
    )

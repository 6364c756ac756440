"""Tokens, OAuth refresh, scope and location errors, and rate limits."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import structlog

from connectors.errors import ConfigurationError, MissingScopeError, RateLimitedError
from connectors.gohighlevel import GoHighLevelConfig, GoHighLevelConnector
from connectors.gohighlevel.auth import FileTokenStore
from connectors.http import RetrySettings
from tests.fakes.gohighlevel import ALL_SCOPES, FakeGoHighLevel
from tests.fakes.gohighlevel.app import FakeRequest
from tests.fakes.gohighlevel.state import DAILY_LIMIT
from tests.gohighlevel.conftest import (
    LOCATION,
    MAPPING,
    START,
    TOKEN,
    add_worker_fields,
    oauth_settings,
    score_write,
)


def _used_token(fake: FakeGoHighLevel, path: str) -> str:
    return fake.calls(path=path)[-1].headers["authorization"].removeprefix("Bearer ")


# -- OAuth ------------------------------------------------------------------------------


def test_oauth_refresh_saves_tokens_before_using_them(
    fake, make_connector, clock, tmp_path: Path
) -> None:
    settings = oauth_settings(fake, tmp_path)
    store = FileTokenStore(settings["token_store_path"])
    old = store.load()
    fake.state.add_contact(LOCATION)
    clock.advance(days=1)  # the access token has expired
    on_disk_at_first_use: list[str] = []

    def record_store(request: FakeRequest) -> None:
        if request.path != "/oauth/token" and not on_disk_at_first_use:
            on_disk_at_first_use.append(store.load().access_token)

    fake.on_request.append(record_store)
    connector = make_connector(**settings)

    list(connector.pull_all())

    new = store.load()
    assert new.refresh_token != old.refresh_token
    assert old.refresh_token in fake.state.used_refresh_tokens
    assert on_disk_at_first_use == [new.access_token]
    assert _used_token(fake, "/contacts/search") == new.access_token
    assert len(fake.calls(path="/oauth/token")) == 1
    form = fake.calls(path="/oauth/token")[0].body
    assert form["grant_type"] == "refresh_token"


def test_refreshed_tokens_survive_crash_before_first_use(
    fake, make_connector, clock, tmp_path: Path
) -> None:
    settings = oauth_settings(fake, tmp_path)
    fake.state.add_contact(LOCATION)
    clock.advance(days=1)

    class Crash(BaseException):
        """The process dies right after the refresh response arrived."""

    def crash_on_first_call(request: FakeRequest) -> None:
        if request.path != "/oauth/token":
            fake.on_request.clear()
            raise Crash

    fake.on_request.append(crash_on_first_call)
    with pytest.raises(Crash):
        list(make_connector(**settings).pull_all())

    restarted = make_connector(**settings)
    pages = list(restarted.pull_all())

    assert len(pages[0].records) == 1
    assert len(fake.calls(path="/oauth/token")) == 1  # the restart did not refresh again


def test_reused_refresh_token_asks_for_reinstall(fake, make_connector, clock, tmp_path) -> None:
    settings = oauth_settings(fake, tmp_path)
    store = FileTokenStore(settings["token_store_path"])
    stale = store.load()
    clock.advance(days=1)
    list(make_connector(**settings).pull_all())
    store.save(stale)  # a backup with the used refresh token is restored

    with pytest.raises(ConfigurationError, match="reinstall the app"):
        list(make_connector(**settings).pull_all())

    rejected = fake.calls(path="/oauth/token")[-1]
    assert rejected.status == 401


def test_rejected_private_token_names_variable(fake, make_connector) -> None:
    connector = make_connector(token="pit-00000000-0000-0000-0000-000000000000")

    with pytest.raises(ConfigurationError) as caught:
        list(connector.pull_all())

    message = str(caught.value)
    assert caught.value.status == 401
    assert "set LEADSCORE_GHL_TOKEN" in message
    assert "token_env" in message
    assert "pit-00000000" not in message


def test_invalid_access_token_gets_one_refresh_and_retry(fake, make_connector, tmp_path) -> None:
    settings = oauth_settings(fake, tmp_path)
    store = FileTokenStore(settings["token_store_path"])
    revoked = store.load().access_token
    del fake.state.tokens[revoked]  # revoked early, although not yet expired
    fake.state.add_contact(LOCATION)

    pages = list(make_connector(**settings).pull_all())

    assert len(pages[0].records) == 1
    assert len(fake.calls(path="/oauth/token")) == 1
    assert store.load().access_token != revoked


def test_scope_error_is_not_answered_with_refresh(fake, make_connector, tmp_path) -> None:
    settings = oauth_settings(fake, tmp_path, scopes=ALL_SCOPES - {"forms.readonly"})

    with pytest.raises(MissingScopeError) as raised:
        list(make_connector(**settings).pull_all())

    assert raised.value.scopes == ("forms.readonly",)
    assert "forms.readonly" in str(raised.value)
    assert fake.calls(path="/oauth/token") == []


def test_token_of_other_location_is_a_configuration_error(fake, make_connector) -> None:
    fake.state.add_location("locOther")
    other_token = fake.state.issue_token("locOther")

    with pytest.raises(ConfigurationError, match=f"cannot access location {LOCATION}") as raised:
        list(make_connector(token=other_token).pull_all())

    assert raised.value.status == 403
    assert not isinstance(raised.value, MissingScopeError)


def test_invalid_private_token_names_the_fix(fake, make_connector) -> None:
    with pytest.raises(ConfigurationError, match="create a new private integration token"):
        list(make_connector(token="pit-revoked-000000").pull_all())


def test_config_requires_token_or_oauth() -> None:
    with pytest.raises(ValueError, match="private integration token, or the OAuth"):
        GoHighLevelConfig(location_id=LOCATION)


# -- locations side by side -------------------------------------------------------------


def test_each_location_uses_its_own_token_and_fields(fake, make_connector) -> None:
    fake.state.add_location("locSecond")
    second_token = fake.state.issue_token("locSecond")
    add_worker_fields(fake)
    add_worker_fields(fake, "locSecond")
    fake.state.add_contact(LOCATION, contact_id="a1")
    fake.state.add_contact("locSecond", contact_id="b1")
    first = make_connector()
    second = make_connector(location_id="locSecond", token=second_token)

    assert [c.id for page in first.pull_all() for c in page.records] == ["a1"]
    assert [c.id for page in second.pull_all() for c in page.records] == ["b1"]
    second_score = fake.state.field_id("locSecond", "contact.lead_score")
    assert first.catalog.by_key["contact.lead_score"].id != second_score
    assert second.catalog.by_key["contact.lead_score"].id == second_score
    assert _used_token(fake, "/locations/locSecond/customFields") == second_token


# -- rate limits ---------------------------------------------------------------------------


def test_client_retries_429_then_returns_page(fake, make_connector, sleeps) -> None:
    fake.state.add_contact(LOCATION)
    fake.fail_next(
        "/contacts/search",
        429,
        {"statusCode": 429, "message": "Too Many Requests"},
        headers={
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Interval-Milliseconds": "10000",
            "X-RateLimit-Daily-Remaining": "150000",
        },
    )

    pages = list(make_connector().pull_all())

    assert len(pages[0].records) == 1
    assert [r.status for r in fake.calls("POST", "/contacts/search")] == [429, 200]
    assert 10.0 in sleeps


def test_limiter_avoids_429_in_long_batch(fake, make_connector, sleeps) -> None:
    add_worker_fields(fake)
    for index in range(250):
        fake.state.add_contact(LOCATION, contact_id=f"c{index:03d}")
    writes = [score_write(f"c{index:03d}") for index in range(250)]

    report = make_connector().write_scores(writes)

    assert len(report.written) == 250
    assert all(request.status != 429 for request in fake.requests)
    assert sum(sleeps) >= 20.0  # 250 calls at 100 per 10 s take at least two extra windows


def test_daily_limit_raises_rate_limited_with_reset(fake, make_connector, clock) -> None:
    budget = fake.state.locations[LOCATION].budget
    budget.day = START.date().isoformat()
    budget.day_count = DAILY_LIMIT

    with pytest.raises(RateLimitedError) as raised:
        list(make_connector().pull_all())

    assert raised.value.retry_after == pytest.approx(12 * 3600)
    assert len(fake.calls(path="/search")) <= 1


# -- secrets ------------------------------------------------------------------------------


def test_token_never_reaches_logs_or_errors(fake, make_connector, tmp_path) -> None:
    settings = oauth_settings(fake, tmp_path, scopes=ALL_SCOPES - {"forms.readonly"})
    fake.state.add_contact(LOCATION, email="ana@example.com")
    secrets = [TOKEN, "secret-1", *fake.state.tokens, *fake.state.refresh_tokens]

    with structlog.testing.capture_logs() as logs, pytest.raises(MissingScopeError) as raised:
        list(make_connector(**settings).pull_all())
    with structlog.testing.capture_logs() as more_logs:
        list(make_connector().pull_all())

    text = json.dumps(logs + more_logs, default=str) + str(raised.value)
    for secret in secrets:
        assert secret not in text
    assert "ana@example.com" not in text


# -- served over loopback --------------------------------------------------------------------


def test_connector_works_against_fake_served_on_loopback(fake, clock) -> None:
    add_worker_fields(fake)
    fake.state.add_contact(LOCATION, contact_id="ct1", custom={"contact.timeline": "This week"})

    with fake.serve() as base_url:
        connector = GoHighLevelConnector(
            GoHighLevelConfig(location_id=LOCATION, token=TOKEN, base_url=base_url),
            MAPPING,
            now=clock,
            retry=RetrySettings(jitter_seconds=0.0, max_attempts=2),
        )
        [page] = list(connector.pull_all())
        report = connector.write_scores([score_write("ct1")])
        connector.close()

    assert base_url.startswith("http://127.0.0.1:")
    assert page.records[0].lead.answers["timeline"] == "This week"
    assert report.written == ("ct1",)
    assert fake.state.custom_value(LOCATION, "ct1", "contact.lead_score") == 84


def test_concurrent_callers_refresh_once(fake, make_connector, clock, tmp_path) -> None:
    settings = oauth_settings(fake, tmp_path)
    clock.advance(days=1)
    first, second = make_connector(**settings), make_connector(**settings)
    providers = [first.client.tokens, second.client.tokens] * 4
    start = threading.Barrier(len(providers))
    tokens: list[str] = []

    def take(provider) -> None:
        start.wait()
        tokens.append(provider.access_token())

    threads = [threading.Thread(target=take, args=(p,)) for p in providers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(fake.calls(path="/oauth/token")) == 1
    assert len(tokens) == len(providers)
    assert len(set(tokens)) == 1
    assert set(tokens) == {FileTokenStore(settings["token_store_path"]).load().access_token}

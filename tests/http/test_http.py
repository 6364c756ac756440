import json

import pytest
import requests
import responses
import structlog

from connectors.errors import (
    ConfigurationError,
    DataShapeError,
    MissingScopeError,
    RateLimitedError,
    SkippableRecordError,
    TransientError,
)
from connectors.http import (
    DEFAULT_STATUS_ACTIONS,
    Action,
    CrmProfile,
    HttpClient,
    RateLimiter,
    RateLimitSignal,
    RetrySettings,
    base_url_origin,
    classify_status,
    parse_retry_after,
)

BASE = "https://crm.example.test"
TOKEN = "pat-na1-00000000-1111-2222-3333-444444444444"


class FrozenClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(clock, *, profile=None, retry=None, limiters=None):
    return HttpClient(
        profile=profile or CrmProfile(crm="testcrm", token_hint="TESTCRM_TOKEN"),
        base_url=BASE,
        auth=lambda: TOKEN,
        retry=retry or RetrySettings(max_attempts=4, jitter_seconds=0.5),
        limiters=limiters,
        sleep=clock.sleep,
        clock=clock,
        jitter=lambda limit: limit,
    )


@pytest.fixture
def clock():
    return FrozenClock()


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


# -- the status table ---------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    sorted(DEFAULT_STATUS_ACTIONS.items()),
    ids=[str(status) for status in sorted(DEFAULT_STATUS_ACTIONS)],
)
def test_status_table_row(status, expected):
    assert classify_status(status) is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [(200, Action.OK), (207, Action.OK), (418, Action.SKIP), (521, Action.RETRY)],
    ids=["200", "207", "unlisted-4xx", "unlisted-5xx"],
)
def test_status_table_fallback_by_class(status, expected):
    assert classify_status(status) is expected


def test_status_table_override_wins():
    assert classify_status(423, {423: Action.RETRY}) is Action.RETRY
    assert classify_status(423) is Action.SKIP


# -- Retry-After --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        ("0.5", 0.5),
        ("Fri, 04 Dec 2026 20:00:30 GMT", 30.0),
        ("garbage", None),
        (None, None),
    ],
    ids=["seconds", "fraction", "http-date", "invalid", "absent"],
)
def test_parse_retry_after(value, expected):
    from datetime import UTC, datetime

    now = datetime(2026, 12, 4, 20, 0, 0, tzinfo=UTC)
    assert parse_retry_after(value, now=now) == expected


# -- retries ------------------------------------------------------------------


def test_client_retries_429_then_returns_page(mocked, clock):
    mocked.get(f"{BASE}/items", status=429, json={"message": "slow down"})
    mocked.get(f"{BASE}/items", status=200, json={"results": [1]})
    client = make_client(clock)

    status, body = client.request_json("GET", "/items")

    assert status == 200
    assert body == {"results": [1]}
    assert len(mocked.calls) == 2
    assert client.calls["GET /items"] == 2


def test_client_retries_503_with_capped_exponential_backoff(mocked, clock):
    for _ in range(3):
        mocked.get(f"{BASE}/items", status=503)
    mocked.get(f"{BASE}/items", status=200, json={})
    client = make_client(clock)

    client.request("GET", "/items")

    # initial 1 s doubling, plus the (stubbed) full jitter of 0.5 s
    assert clock.sleeps == [1.5, 2.5, 4.5]


def test_client_honours_retry_after_seconds(mocked, clock):
    mocked.get(f"{BASE}/items", status=429, headers={"Retry-After": "7"})
    mocked.get(f"{BASE}/items", status=200, json={})
    client = make_client(clock)

    client.request("GET", "/items")

    assert clock.sleeps == [7.0]


def test_client_retries_connection_error_then_succeeds(mocked, clock):
    mocked.get(f"{BASE}/items", body=requests.ConnectionError("reset"))
    mocked.get(f"{BASE}/items", status=200, json={})
    client = make_client(clock)

    response = client.request("GET", "/items")

    assert response.status_code == 200


def test_client_gives_up_after_max_attempts(mocked, clock):
    mocked.get(f"{BASE}/items", status=502, json={"message": "bad gateway"})
    client = make_client(clock)

    with pytest.raises(TransientError) as caught:
        client.request("GET", "/items")

    assert len(mocked.calls) == 4
    assert caught.value.status == 502
    assert "GET /items" in str(caught.value)
    assert "retry later" in str(caught.value)


def test_client_gives_up_on_total_elapsed_time(mocked, clock):
    mocked.get(f"{BASE}/items", status=503)
    retry = RetrySettings(
        max_attempts=50, max_elapsed_seconds=10, initial_wait_seconds=4, jitter_seconds=0
    )
    client = make_client(clock, retry=retry)

    with pytest.raises(TransientError):
        client.request("GET", "/items")

    # waits 4 then 8: the clock passes 10 s and no further attempt is made
    assert len(mocked.calls) == 3
    assert clock.now - 1000.0 <= 12.0


def test_client_persistent_429_raises_rate_limited(mocked, clock):
    mocked.get(f"{BASE}/items", status=429, headers={"Retry-After": "2"})
    client = make_client(clock)

    with pytest.raises(RateLimitedError) as caught:
        client.request("GET", "/items")

    assert caught.value.retry_after == 2.0


def test_client_long_retry_after_raises_without_waiting(mocked, clock):
    mocked.get(f"{BASE}/items", status=429, headers={"Retry-After": "3600"})
    client = make_client(clock)

    with pytest.raises(RateLimitedError) as caught:
        client.request("GET", "/items")

    assert caught.value.retry_after == 3600.0
    assert clock.sleeps == []
    assert len(mocked.calls) == 1


class DailyLimitProfile(CrmProfile):
    def rate_limit_signal(self, response, now):
        if response.status_code == 429 and "daily" in response.text:
            return RateLimitSignal(exhausted_until_seconds=5000, policy="DAILY")
        return RateLimitSignal()


def test_client_daily_limit_raises_at_once(mocked, clock):
    mocked.get(f"{BASE}/items", status=429, json={"message": "daily limit"})
    client = make_client(clock, profile=DailyLimitProfile(crm="t", token_hint="T_TOKEN"))

    with pytest.raises(RateLimitedError) as caught:
        client.request("GET", "/items")

    assert caught.value.retry_after == 5000
    assert "DAILY" in str(caught.value)
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, SkippableRecordError),
        (401, ConfigurationError),
        (403, ConfigurationError),
        (404, SkippableRecordError),
    ],
    ids=["400", "401", "403", "404"],
)
def test_client_does_not_retry_client_errors(mocked, clock, status, error_type):
    mocked.get(f"{BASE}/items", status=status, json={"message": "no"})
    client = make_client(clock)

    with pytest.raises(error_type):
        client.request("GET", "/items")

    assert len(mocked.calls) == 1
    assert clock.sleeps == []


def test_client_401_message_names_token_setting(mocked, clock):
    mocked.get(f"{BASE}/items", status=401, json={"correlationId": "abc-123"})
    client = make_client(clock)

    with pytest.raises(ConfigurationError) as caught:
        client.request("GET", "/items", params={"hapikey": "q-secret"})

    message = str(caught.value)
    assert "TESTCRM_TOKEN" in message
    assert "abc-123" in message
    assert "GET /items" in message
    assert TOKEN not in message
    assert "q-secret" not in message


def test_client_403_names_scopes_from_error_context(mocked, clock):
    body = {
        "status": "error",
        "message": "This app hasn't been granted all required scopes to make this call.",
        "correlationId": "c-1",
        "errors": [
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": ["crm.objects.contacts.write"]},
            }
        ],
        "category": "MISSING_SCOPES",
    }
    mocked.post(f"{BASE}/items", status=403, json=body)
    client = make_client(clock)

    with pytest.raises(MissingScopeError) as caught:
        client.request("POST", "/items", json={})

    assert caught.value.scopes == ("crm.objects.contacts.write",)
    assert "crm.objects.contacts.write" in str(caught.value)


def test_client_403_names_scopes_from_message(mocked, clock):
    body = {"message": "Missing required scopes: crm.objects.deals.read, crm.schemas.deals.read"}
    mocked.get(f"{BASE}/items", status=403, json=body)
    client = make_client(clock)

    with pytest.raises(MissingScopeError) as caught:
        client.request("GET", "/items")

    assert caught.value.scopes == ("crm.objects.deals.read", "crm.schemas.deals.read")


def test_client_403_without_scopes_is_configuration_error(mocked, clock):
    mocked.get(f"{BASE}/items", status=403, json={"message": "portal is locked"})
    client = make_client(clock)

    with pytest.raises(ConfigurationError) as caught:
        client.request("GET", "/items")

    assert not isinstance(caught.value, MissingScopeError)
    assert "portal is locked" in str(caught.value)


def test_client_returns_allowed_status(mocked, clock):
    mocked.post(f"{BASE}/items", status=409, json={"message": "exists"})
    client = make_client(clock)

    status, body = client.request_json("POST", "/items", json={}, allow_status=(409,))

    assert status == 409
    assert body == {"message": "exists"}


def test_client_non_json_success_raises_data_shape(mocked, clock):
    mocked.get(f"{BASE}/items", status=200, body="<html>proxy</html>")
    client = make_client(clock)

    with pytest.raises(DataShapeError):
        client.request_json("GET", "/items")


def test_client_skip_error_carries_record_id(mocked, clock):
    mocked.get(f"{BASE}/items/9", status=404, json={"message": "not found"})
    client = make_client(clock)

    with pytest.raises(SkippableRecordError) as caught:
        client.request("GET", "/items/9", record_id="9")

    assert caught.value.record_id == "9"


def test_client_sends_bearer_token_and_timeout(mocked, clock):
    mocked.get(f"{BASE}/items", status=200, json={})
    sent = {}

    class RecordingSession(requests.Session):
        def request(self, method, url, **kwargs):
            sent.update(kwargs)
            return super().request(method, url, **kwargs)

    client = HttpClient(
        profile=CrmProfile(crm="t", token_hint="T"),
        base_url=BASE,
        auth=lambda: TOKEN,
        session=RecordingSession(),
        sleep=clock.sleep,
        clock=clock,
    )

    client.request("GET", "/items")

    assert mocked.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent["timeout"] == (5.0, 30.0)


def test_retry_log_has_no_token_or_query_string(mocked, clock):
    mocked.get(f"{BASE}/items", status=503)
    mocked.get(f"{BASE}/items", status=200, json={})
    client = make_client(clock)

    with structlog.testing.capture_logs() as captured:
        client.request("GET", "/items", params={"api_key": "query-secret"})

    retries = [entry for entry in captured if entry["event"] == "http_retry"]
    assert len(retries) == 1
    assert retries[0]["status"] == 503
    assert retries[0]["attempt"] == 1
    assert retries[0]["path"] == "GET /items"
    dumped = json.dumps(captured, default=str)
    assert TOKEN not in dumped
    assert "query-secret" not in dumped


def test_requests_exceptions_never_escape(mocked, clock):
    mocked.get(f"{BASE}/items", body=requests.exceptions.InvalidURL("bad"))
    client = make_client(clock)

    with pytest.raises(TransientError) as caught:
        client.request("GET", "/items")

    assert isinstance(caught.value.__cause__, requests.RequestException)


# -- rate limiter -------------------------------------------------------------


def test_rate_limiter_waits_for_the_oldest_slot(clock):
    limiter = RateLimiter(3, 10.0, clock=clock, sleep=clock.sleep)

    waits = [limiter.acquire() for _ in range(4)]

    assert waits == [0.0, 0.0, 0.0, 10.0]


def test_rate_limiter_never_exceeds_limit_in_any_window(clock):
    limiter = RateLimiter(5, 1.0, clock=clock, sleep=clock.sleep)
    times = []

    for _ in range(40):
        limiter.acquire()
        times.append(clock.now)
        clock.now += 0.07

    for index, start in enumerate(times):
        in_window = [t for t in times[index:] if t < start + 1.0]
        assert len(in_window) <= 5


def test_rate_limiter_pause_holds_callers(clock):
    limiter = RateLimiter(100, 10.0, clock=clock, sleep=clock.sleep)
    limiter.pause_for(3.0)

    assert limiter.acquire() == 3.0


def test_rate_limiter_is_thread_safe():
    import threading
    import time

    limiter = RateLimiter(1000, 60.0)
    threads = [
        threading.Thread(target=lambda: [limiter.acquire() for _ in range(100)]) for _ in range(8)
    ]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(limiter._sent) == 800
    assert time.monotonic() - start < 5


def test_client_takes_slot_from_named_limiter(mocked, clock):
    mocked.get(f"{BASE}/items", status=200, json={})
    limiter = RateLimiter(1, 1.0, clock=clock, sleep=clock.sleep)
    client = make_client(clock, limiters={"search": limiter})

    client.request("GET", "/items", limiter="search")
    client.request("GET", "/items", limiter="search")

    assert clock.sleeps == [1.0]


def test_rate_limiter_rejects_invalid_limits():
    with pytest.raises(ValueError, match="rate limit"):
        RateLimiter(0, 10.0)


def test_long_retry_after_on_5xx_raises_rate_limited(mocked, clock):
    profile = CrmProfile(crm="t", token_hint="T", status_actions={477: Action.RETRY})
    mocked.get(f"{BASE}/items", status=477, headers={"Retry-After": "7200"})
    client = make_client(clock, profile=profile)

    with pytest.raises(RateLimitedError) as caught:
        client.request("GET", "/items")

    assert caught.value.retry_after == 7200.0
    assert caught.value.status == 477
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("failure", "retried"),
    [
        ({"body": requests.ConnectTimeout("connect timed out")}, True),
        ({"status": 429}, True),
        ({"body": requests.ReadTimeout("read timed out")}, False),
        ({"body": requests.ConnectionError("reset")}, False),
        ({"status": 502}, False),
    ],
    ids=["connect-timeout", "429", "read-timeout", "connection-reset", "502"],
)
def test_create_request_resent_only_when_not_applied(mocked, clock, failure, retried):
    mocked.post(f"{BASE}/items", **failure)
    if retried:
        mocked.post(f"{BASE}/items", status=201, json={"id": "1"})
    client = make_client(clock)

    if retried:
        status, _ = client.request_json("POST", "/items", json={}, idempotent=False)
        assert status == 201
    else:
        with pytest.raises(TransientError, match="may have been applied"):
            client.request_json("POST", "/items", json={}, idempotent=False)
    assert len(mocked.calls) == (2 if retried else 1)


def test_connection_failure_names_base_url_origin(mocked, clock):
    mocked.get(f"{BASE}/items", body=requests.ConnectionError("refused"))
    client = make_client(clock)

    with pytest.raises(TransientError) as caught:
        client.request("GET", "/items")

    assert f"no response from {BASE} after retries" in str(caught.value)


@pytest.mark.parametrize(
    ("base_url", "origin"),
    [
        ("http://127.0.0.1:9", "http://127.0.0.1:9"),
        ("https://user:secret@crm.example.test/v1?key=abc", "https://crm.example.test"),
        ("http://[::1]:8080/api", "http://[::1]:8080"),
        ("https://crm.example.test:badport", "https://crm.example.test"),
    ],
    ids=["host_and_port", "credentials_path_query", "ipv6", "invalid_port"],
)
def test_base_url_origin_keeps_scheme_host_port(base_url, origin):
    assert base_url_origin(base_url) == origin

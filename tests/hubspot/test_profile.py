from datetime import UTC, datetime

import pytest
import requests
import responses

from connectors.http import Action, classify_status
from connectors.hubspot.api import HUBSPOT_STATUS_ACTIONS, HubSpotProfile

URL = "https://api.hubapi.com/crm/v3/objects/contacts"


def response_with(status, body=None, headers=None):
    with responses.RequestsMock() as rsps:
        rsps.get(URL, status=status, json=body or {}, headers=headers or {})
        return requests.get(URL, timeout=5)


def frozen_profile(timezone="UTC", now=datetime(2026, 12, 1, 18, 0, tzinfo=UTC)):
    return HubSpotProfile(account_timezone=timezone, now=lambda: now)


@pytest.mark.parametrize(
    ("status", "expected"),
    [(423, Action.RETRY), (477, Action.RETRY), (429, Action.RETRY), (403, Action.CONFIGURATION)],
    ids=["423-locked", "477-migrating", "429", "403"],
)
def test_hubspot_status_table(status, expected):
    assert classify_status(status, HUBSPOT_STATUS_ACTIONS) is expected


@pytest.mark.parametrize(
    ("body", "headers", "wait", "policy"),
    [
        ({"policyName": "TEN_SECONDLY_ROLLING"}, {}, 10.0, "TEN_SECONDLY_ROLLING"),
        (
            {"policyName": "TEN_SECONDLY_ROLLING"},
            {"X-HubSpot-RateLimit-Interval-Milliseconds": "1000"},
            1.0,
            "TEN_SECONDLY_ROLLING",
        ),
        ({"message": "You have reached your secondly limit."}, {}, 1.0, "SECONDLY"),
        ({"policyName": "SECONDLY"}, {"Retry-After": "3"}, 3.0, "SECONDLY"),
    ],
    ids=["ten-secondly", "ten-secondly-interval-header", "search-secondly", "retry-after"],
)
def test_429_wait_by_policy(body, headers, wait, policy):
    signal = frozen_profile().rate_limit_signal(response_with(429, body, headers), 0.0)

    assert signal.wait_seconds == wait
    assert signal.policy == policy
    assert signal.exhausted_until_seconds is None


@pytest.mark.parametrize(
    ("timezone", "seconds"),
    [("UTC", 6 * 3600), ("America/Los_Angeles", 14 * 3600)],
    ids=["utc", "los-angeles"],
)
def test_daily_limit_waits_until_account_midnight(timezone, seconds):
    body = {
        "status": "error",
        "message": "You have reached your daily limit.",
        "errorType": "RATE_LIMIT",
        "policyName": "DAILY",
    }

    signal = frozen_profile(timezone).rate_limit_signal(response_with(429, body), 0.0)

    assert signal.exhausted_until_seconds == seconds
    assert signal.policy == "DAILY"


def test_used_up_burst_window_pauses_for_interval():
    headers = {
        "X-HubSpot-RateLimit-Remaining": "0",
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
    }

    signal = frozen_profile().rate_limit_signal(response_with(200, {}, headers), 0.0)

    assert signal.wait_seconds == 10.0


def test_request_id_from_correlation_header():
    response = response_with(500, {}, {"X-HubSpot-Correlation-Id": "abc-123"})

    assert frozen_profile().request_id(response) == "abc-123"

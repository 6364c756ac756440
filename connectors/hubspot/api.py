"""HubSpot API facts (endpoints, limits, ids) and the HubSpot profile of the HTTP layer.

Limits are the values HubSpot's CRM v3 docs gave in March 2026. List pages
hold at most 100 records and search pages at most 200. A search query returns
no more than 10,000 results. Batch endpoints take at most 100 inputs, and
search allows 5 requests per second per account.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import requests

from connectors.http import Action, CrmProfile, RateLimitSignal, parse_retry_after

DEFAULT_BASE_URL = "https://api.hubapi.com"
RECORD_URL = "https://app.hubspot.com/contacts/{portal_id}/record/0-1/{contact_id}"

CONTACTS = "/crm/v3/objects/contacts"
CONTACT = "/crm/v3/objects/contacts/{contact_id}"
CONTACTS_SEARCH = "/crm/v3/objects/contacts/search"
CONTACTS_BATCH_UPDATE = "/crm/v3/objects/contacts/batch/update"
DEALS = "/crm/v3/objects/deals"
DEAL = "/crm/v3/objects/deals/{deal_id}"
DEALS_SEARCH = "/crm/v3/objects/deals/search"
DEALS_BATCH_READ = "/crm/v3/objects/deals/batch/read"
TASKS = "/crm/v3/objects/tasks"
TASKS_BATCH_READ = "/crm/v3/objects/tasks/batch/read"
ASSOCIATIONS_OF = "/crm/v4/objects/{object_type}/{object_id}/associations/{to_object_type}"
ASSOCIATIONS_BATCH_READ = "/crm/v4/associations/{from_object_type}/{to_object_type}/batch/read"
CONTACT_PROPERTIES = "/crm/v3/properties/contacts"
CONTACT_PROPERTY = "/crm/v3/properties/contacts/{name}"
CONTACT_PROPERTY_GROUPS = "/crm/v3/properties/contacts/groups"
CONTACT_PROPERTY_GROUP = "/crm/v3/properties/contacts/groups/{name}"
DEAL_PIPELINE = "/crm/v3/pipelines/deals/{pipeline_id}"
OWNERS = "/crm/v3/owners"
OAUTH_TOKEN = "/oauth/v1/token"

LIST_PAGE_SIZE = 100
SEARCH_PAGE_SIZE = 200
SEARCH_RESULT_CAP = 10_000
BATCH_LIMIT = 100
ASSOCIATION_BATCH_READ_LIMIT = 1_000
SEARCH_REQUESTS_PER_SECOND = 5
TEXT_PROPERTY_MAX_CHARS = 65_536

# Association type ids (HUBSPOT_DEFINED) in the direction named.
TASK_TO_CONTACT = 204
DEAL_TO_CONTACT = 3

# HubSpot documents 423 Locked (high-volume upserts) and 477 Migration in
# progress as temporary: the client waits and retries.
HUBSPOT_STATUS_ACTIONS = {423: Action.RETRY, 477: Action.RETRY}

_TEN_SECONDLY = "TEN_SECONDLY_ROLLING"
_SECONDLY = "SECONDLY"
_DAILY = "DAILY"


@dataclass(frozen=True)
class HubSpotProfile(CrmProfile):
    """HubSpot's request ids, rate-limit headers and 429 bodies."""

    crm: str = "hubspot"
    token_hint: str = "LEADSCORE_HUBSPOT_TOKEN"
    status_actions: dict = field(default_factory=lambda: dict(HUBSPOT_STATUS_ACTIONS))
    request_id_headers: tuple[str, ...] = ("X-HubSpot-Correlation-Id", "X-Request-Id")
    # The daily limit resets at midnight in the account's time zone.
    account_timezone: str = "UTC"
    # Returns the current aware datetime; tests inject a frozen one.
    now: Callable[[], datetime] | None = None

    def rate_limit_signal(self, response: requests.Response, now: float) -> RateLimitSignal:
        del now
        headers = response.headers
        retry_after = parse_retry_after(headers.get("Retry-After"))
        if response.status_code != 429:
            remaining = _int_header(headers, "X-HubSpot-RateLimit-Remaining")
            interval_ms = _int_header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
            if remaining == 0 and interval_ms:
                return RateLimitSignal(wait_seconds=interval_ms / 1000, policy=_TEN_SECONDLY)
            return RateLimitSignal(wait_seconds=retry_after)

        policy = _policy_name(response)
        if policy == _DAILY:
            return RateLimitSignal(
                exhausted_until_seconds=retry_after or self._seconds_until_midnight(),
                policy=policy,
            )
        if retry_after is not None:
            return RateLimitSignal(wait_seconds=retry_after, policy=policy)
        if policy == _SECONDLY:
            return RateLimitSignal(wait_seconds=1.0, policy=policy)
        interval_ms = _int_header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
        return RateLimitSignal(
            wait_seconds=(interval_ms or 10_000) / 1000, policy=policy or _TEN_SECONDLY
        )

    def _seconds_until_midnight(self) -> float:
        zone = ZoneInfo(self.account_timezone)
        current = self.now() if self.now is not None else datetime.now(zone)
        current = current.astimezone(zone)
        midnight = (current + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return max(1.0, (midnight - current).total_seconds())


def _policy_name(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict):
        policy = body.get("policyName")
        if isinstance(policy, str):
            return policy
        message = str(body.get("message", "")).lower()
        if "daily" in message:
            return _DAILY
        if "secondly" in message:
            return _SECONDLY
    return None


def _int_header(headers: requests.structures.CaseInsensitiveDict, name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None

"""GoHighLevel requests on the shared HTTP layer: Version header, bearer token, error meaning.

What is GoHighLevel-specific here:

* every request carries the `Version` header of its endpoint group;
* rate-limit state comes from the `X-RateLimit-*` headers (there is no
  documented `Retry-After`; one is honoured when present);
* a 401 or 403 whose message states that the token lacks a scope or the
  location is a configuration error naming the scope or location, never a
  reason to refresh. Any other 401 under OAuth gets one refresh and one retry;
* a 422 body carries `message` as a list of strings, joined into the error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from connectors.errors import ConfigurationError, MissingScopeError
from connectors.gohighlevel import constants
from connectors.gohighlevel.auth import OAuthTokenProvider, StaticToken
from connectors.http import (
    CrmProfile,
    HttpClient,
    RateLimiter,
    RateLimitSignal,
    RetrySettings,
    parse_retry_after,
)

CRM = "gohighlevel"

# Variables a private integration token is read from, for messages that ask for a new one.
TOKEN_VARIABLE_HINT = (
    "LEADSCORE_GHL_TOKEN (or the variable named by token_env in the accounts file)"
)


@dataclass(frozen=True)
class GoHighLevelProfile(CrmProfile):
    """Reads GoHighLevel's rate-limit headers and error bodies."""

    crm: str = CRM
    token_hint: str = TOKEN_VARIABLE_HINT
    request_id_headers: tuple[str, ...] = ("X-Trace-Id", "traceId", "X-Request-Id")
    wall_clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def rate_limit_signal(self, response: requests.Response, now: float) -> RateLimitSignal:
        del now
        headers = response.headers
        retry_after = parse_retry_after(headers.get("Retry-After"))
        interval = _header_number(headers.get(constants.HEADER_INTERVAL_MS))
        interval_seconds = (interval or constants.BURST_INTERVAL_SECONDS * 1000) / 1000
        remaining = _header_number(headers.get(constants.HEADER_REMAINING))
        daily_remaining = _header_number(headers.get(constants.HEADER_DAILY_REMAINING))

        if response.status_code == 429:
            if daily_remaining is not None and daily_remaining <= 0:
                # NOTE: GoHighLevel does not document when the daily budget
                # resets; this assumes midnight UTC.
                return RateLimitSignal(
                    exhausted_until_seconds=self._seconds_to_midnight(), policy="daily"
                )
            return RateLimitSignal(wait_seconds=retry_after or interval_seconds, policy="burst")
        if remaining is not None and remaining <= 0:
            return RateLimitSignal(wait_seconds=retry_after or interval_seconds, policy="burst")
        return RateLimitSignal(wait_seconds=retry_after)

    def missing_scopes(self, response: requests.Response) -> tuple[str, ...]:
        # GoHighLevel's scope error does not name the scope; the client adds
        # the scope of the endpoint it called.
        return ()

    def _seconds_to_midnight(self) -> float:
        now = self.wall_clock()
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return max(1.0, (midnight - now).total_seconds())


def _header_number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


TokenSource = StaticToken | OAuthTokenProvider


class GoHighLevelClient:
    """Send one location's requests with the right Version header and token."""

    def __init__(
        self,
        *,
        http: HttpClient,
        tokens: TokenSource,
        location_id: str,
        version: str,
        conversations_version: str,
    ) -> None:
        self.http = http
        self.tokens = tokens
        self.location_id = location_id
        self._versions = {"default": version, "conversations": conversations_version}

    @property
    def calls(self) -> int:
        return self.http.total_calls

    def call(
        self,
        method: str,
        template: str,
        *,
        path_params: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        group: str = "default",
        allow_status: Collection[int] = (),
        record_id: str | None = None,
    ) -> tuple[int, Any]:
        """Send one request and return `(status, JSON body)`.

        `template` is one of the endpoint constants; `path_params` fill it.
        Raises only `connectors.errors` exceptions.
        """
        path = template.format(**(path_params or {}))
        endpoint = f"{method} {template}"
        for attempt in (1, 2):
            token = self.tokens.access_token()
            headers = {
                "Version": self._versions[group],
                "Accept": "application/json",
                "Authorization": f"Bearer {token}",
            }
            status, body = self.http.request_json(
                method,
                path,
                endpoint=endpoint,
                params=params,
                json=json,
                headers=headers,
                authenticate=False,
                allow_status=(401, 403, *allow_status),
                record_id=record_id,
            )
            if status not in (401, 403) or status in allow_status:
                return status, body
            error = self._auth_error(status, body, method, template, path)
            if error is not None:
                raise error
            if attempt == 1 and self.tokens.refreshable and status == 401:
                self.tokens.refresh_after_rejection(token)
                continue
            raise ConfigurationError(
                "token invalid or expired: "
                + (
                    "the refreshed OAuth token was rejected too; reinstall the app on the location"
                    if self.tokens.refreshable
                    else "create a new private integration token for the location and set "
                    + TOKEN_VARIABLE_HINT
                ),
                crm=CRM,
                endpoint=f"{method} {path}",
                status=status,
                request_id=_trace_id(body),
            )
        raise AssertionError("unreachable")

    def _auth_error(
        self, status: int, body: Any, method: str, template: str, path: str
    ) -> ConfigurationError | None:
        message = _message(body)
        where = f"{method} {path}"
        if constants.SCOPE_ERROR_TEXT in message.lower():
            scope = constants.ENDPOINT_SCOPES.get(
                f"{method} {template}"
            ) or constants.ENDPOINT_SCOPES.get(template)
            scopes = (scope,) if scope else ()
            named = scope or "the scope this endpoint needs"
            return MissingScopeError(
                f"the token lacks the scope {named}: add it to the private integration "
                "(Settings > Private Integrations) or to the OAuth app, then issue a new token",
                scopes=scopes,
                crm=CRM,
                endpoint=where,
                status=status,
                request_id=_trace_id(body),
            )
        if constants.LOCATION_ERROR_TEXT in message.lower():
            return ConfigurationError(
                f"the token cannot access location {self.location_id}: use a token issued for "
                "this sub-account, or correct the location id",
                crm=CRM,
                endpoint=where,
                status=status,
                request_id=_trace_id(body),
            )
        if status == 403:
            return ConfigurationError(
                f"permission denied ({message or 'no detail'}): check the token's scopes and "
                "the location id",
                crm=CRM,
                endpoint=where,
                status=status,
                request_id=_trace_id(body),
            )
        return None


def _message(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    message = body.get("message") or body.get("error") or ""
    if isinstance(message, list):
        return "; ".join(str(item) for item in message)
    return str(message)


def _trace_id(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("traceId"), str):
        return body["traceId"]
    return None


def build_http_client(
    *,
    base_url: str,
    burst_limit: int,
    session: requests.Session | None = None,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    retry: RetrySettings | None = None,
) -> HttpClient:
    """Build the HTTP client of one location, with its own burst limiter."""
    limiter = RateLimiter(
        burst_limit,
        constants.BURST_INTERVAL_SECONDS,
        clock=monotonic,
        sleep=sleep,
        name="burst",
    )
    return HttpClient(
        profile=GoHighLevelProfile(wall_clock=wall_clock),
        base_url=base_url,
        auth=None,
        retry=retry,
        limiters={"default": limiter},
        session=session,
        sleep=sleep,
        clock=monotonic,
    )

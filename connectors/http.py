"""The HTTP layer every CRM connector sends its requests through.

One `HttpClient` per CRM account owns one `requests.Session`, a client-side
rate limiter per limit the CRM enforces, one tenacity retry policy built from
frozen `RetrySettings`, and a counter of calls per endpoint. Responses are
classified in one table (`DEFAULT_STATUS_ACTIONS`, with per-CRM overrides in
`CrmProfile.status_actions`), and everything that goes wrong leaves as a
`connectors.errors` exception:

    401                         -> ConfigurationError (token invalid or expired)
    403                         -> MissingScopeError when the body names scopes,
                                   else ConfigurationError
    429 daily limit             -> RateLimitedError at once, retry_after = until reset
    429 / 5xx / timeouts        -> retried, then RateLimitedError / TransientError
    other 4xx                   -> SkippableRecordError (the caller decides)
    2xx without a JSON body     -> DataShapeError (from `request_json`)

Messages name the status, method and path (never the token or the query
string), the CRM's request id, and the fix.
"""

from __future__ import annotations

import email.utils
import random
import re
import threading
import time
import urllib.parse
from collections import Counter, deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import requests
import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from connectors.errors import (
    ConfigurationError,
    ConnectorError,
    DataShapeError,
    MissingScopeError,
    RateLimitedError,
    SkippableRecordError,
    TransientError,
)
from connectors.redact import redact_text

log = structlog.get_logger("connectors.http")

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class Action(StrEnum):
    """The handling a response status gets."""

    OK = "ok"
    RETRY = "retry"  # 429, 5xx: wait and send again
    CONFIGURATION = "configuration"  # 401, 403: the operator must fix settings
    SKIP = "skip"  # this request cannot succeed; the caller skips the record


# Status -> action for every CRM. Statuses not listed fall back by class:
# 2xx OK, 5xx RETRY, other 4xx SKIP.
DEFAULT_STATUS_ACTIONS: Mapping[int, Action] = {
    400: Action.SKIP,
    401: Action.CONFIGURATION,
    403: Action.CONFIGURATION,
    404: Action.SKIP,
    408: Action.RETRY,
    409: Action.SKIP,
    422: Action.SKIP,
    429: Action.RETRY,
    500: Action.RETRY,
    501: Action.SKIP,
    502: Action.RETRY,
    503: Action.RETRY,
    504: Action.RETRY,
}


def classify_status(status: int, overrides: Mapping[int, Action] | None = None) -> Action:
    """Return the action for `status`, a CRM's override winning over the default table."""
    if overrides and status in overrides:
        return overrides[status]
    if status in DEFAULT_STATUS_ACTIONS:
        return DEFAULT_STATUS_ACTIONS[status]
    if 200 <= status < 300:
        return Action.OK
    if status >= 500:
        return Action.RETRY
    return Action.SKIP


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """The retry policy: attempts and total time are both capped."""

    max_attempts: int = 5
    max_elapsed_seconds: float = 120.0
    initial_wait_seconds: float = 1.0
    max_wait_seconds: float = 30.0
    # Up to this many seconds are added at random to each backoff wait.
    jitter_seconds: float = 1.0
    # A `Retry-After` longer than this is not waited out in-process: the call
    # raises RateLimitedError with the delay so the caller can pause the account.
    max_retry_after_seconds: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Return the capped exponential wait after failed attempt number `attempt` (1-based)."""
        return min(self.max_wait_seconds, self.initial_wait_seconds * 2 ** (attempt - 1))


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait for a connection and for each read, on every call."""

    connect: float = 5.0
    read: float = 30.0

    def as_tuple(self) -> tuple[float, float]:
        return (self.connect, self.read)


class RateLimiter:
    """A thread-safe sliding-window limiter: at most `limit` calls per `interval` seconds.

    `acquire` blocks (through the injected `sleep`) until a slot is free.
    `pause_for` blocks every caller for a while, for when the CRM's rate-limit
    headers report the window as used up.
    """

    def __init__(
        self,
        limit: int,
        interval: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        name: str = "default",
    ) -> None:
        if limit < 1 or interval <= 0:
            raise ValueError(f"rate limit must be >= 1 call per > 0 s, got {limit} per {interval}")
        self.limit = limit
        self.interval = interval
        self.name = name
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one slot, sleeping until one is free; return the seconds slept."""
        slept = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and self._sent[0] <= now - self.interval:
                    self._sent.popleft()
                if now < self._paused_until:
                    wait = self._paused_until - now
                elif len(self._sent) < self.limit:
                    self._sent.append(now)
                    return slept
                else:
                    wait = self._sent[0] + self.interval - now
            self._sleep(wait)
            slept += wait

    def pause_for(self, seconds: float) -> None:
        """Hold every caller back for `seconds` from now."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)


@dataclass(frozen=True, slots=True)
class RateLimitSignal:
    """The rate-limit state a CRM reports in one response."""

    # Seconds to wait before the next call, when the window is used up.
    wait_seconds: float | None = None
    # Set for a daily (or other long) limit: do not retry in-process.
    exhausted_until_seconds: float | None = None
    policy: str | None = None


_SCOPE_NAME = re.compile(r"\b[a-z][a-z0-9_-]*(?:\.[a-z0-9_-]+){1,}\b")


@dataclass(frozen=True)
class CrmProfile:
    """The CRM-specific parts of the HTTP layer. Subclass and override the hooks."""

    crm: str
    token_hint: str  # the setting that contains the token, e.g. "HUBSPOT_TOKEN"
    status_actions: Mapping[int, Action] = field(default_factory=dict)
    request_id_headers: tuple[str, ...] = ("X-Request-Id", "X-Trace-Id", "X-Correlation-Id")

    def request_id(self, response: requests.Response) -> str | None:
        """Return the CRM's id for this request (header, else a JSON body field)."""
        for header in self.request_id_headers:
            value = response.headers.get(header)
            if value:
                return value
        body = _json_or_none(response)
        if isinstance(body, dict):
            for key in ("correlationId", "traceId", "requestId"):
                value = body.get(key)
                if isinstance(value, str) and value:
                    return value
        return None

    def missing_scopes(self, response: requests.Response) -> tuple[str, ...]:
        """Return the scopes a 403 body names, if any."""
        body = _json_or_none(response)
        if not isinstance(body, dict):
            return ()
        scopes: list[str] = []
        for error in body.get("errors") or ():
            if not isinstance(error, dict):
                continue
            context = error.get("context") or {}
            for key in ("requiredGranularScopes", "requiredScopes", "scopes"):
                for scope in context.get(key) or ():
                    if isinstance(scope, str) and scope not in scopes:
                        scopes.append(scope)
        if scopes:
            return tuple(scopes)
        message = body.get("message")
        if isinstance(message, str) and "scope" in message.lower():
            for name in _SCOPE_NAME.findall(message):
                if name not in scopes:
                    scopes.append(name)
        return tuple(scopes)

    def rate_limit_signal(self, response: requests.Response, now: float) -> RateLimitSignal:
        """Read the CRM's rate-limit headers and 429 body. The base reads only `Retry-After`."""
        del now
        return RateLimitSignal(wait_seconds=parse_retry_after(response.headers.get("Retry-After")))

    def error_detail(self, response: requests.Response) -> str:
        """Return the CRM's own error message, masked, for an exception message."""
        body = _json_or_none(response)
        if isinstance(body, dict):
            message = body.get("message") or body.get("error") or body.get("msg")
            if isinstance(message, list):
                message = "; ".join(str(item) for item in message)
            if message:
                return redact_text(str(message))[:500]
        return ""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Return seconds from a `Retry-After` header (delta seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    reference = now or datetime.now(UTC)
    return max(0.0, (when - reference).total_seconds())


def base_url_origin(base_url: str) -> str:
    """Return the scheme, host and port of `base_url`, without credentials, path or query."""
    parts = urllib.parse.urlsplit(base_url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # an invalid port is left out rather than raised
        port = None
    origin = f"{parts.scheme}://{host}" if parts.scheme else host
    return f"{origin}:{port}" if port is not None else origin


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class _RetryableError(Exception):
    """Internal: one attempt failed in a way worth retrying."""

    def __init__(
        self,
        *,
        response: requests.Response | None = None,
        cause: Exception | None = None,
        wait_hint: float | None = None,
        policy: str | None = None,
    ) -> None:
        super().__init__("retryable")
        self.response = response
        self.cause = cause
        self.wait_hint = wait_hint
        self.policy = policy


AuthProvider = Callable[[], str]


class HttpClient:
    """Send requests to one CRM account with retries, rate limits and error translation."""

    def __init__(
        self,
        *,
        profile: CrmProfile,
        base_url: str,
        auth: AuthProvider | None,
        retry: RetrySettings | None = None,
        timeouts: Timeouts | None = None,
        limiters: Mapping[str, RateLimiter] | None = None,
        default_headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
        jitter: Callable[[float], float] | None = None,
    ) -> None:
        self.profile = profile
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetrySettings()
        self.timeouts = timeouts or Timeouts()
        self.limiters = dict(limiters or {})
        self.session = session or requests.Session()
        if default_headers:
            self.session.headers.update(default_headers)
        self._auth = auth
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter or (lambda limit: random.uniform(0.0, limit))
        self.calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def close(self) -> None:
        self.session.close()

    def request_json(
        self,
        method: str,
        path: str,
        *,
        endpoint: str | None = None,
        allow_status: Collection[int] = (),
        **kwargs: Any,
    ) -> tuple[int, Any]:
        """Send a request and return `(status, parsed JSON body)`; an empty body is None."""
        response = self.request(
            method, path, endpoint=endpoint, allow_status=allow_status, **kwargs
        )
        if not response.content:
            return response.status_code, None
        try:
            return response.status_code, response.json()
        except ValueError as exc:
            raise DataShapeError(
                "response body is not JSON; the API may have changed or a proxy replied",
                crm=self.profile.crm,
                endpoint=f"{method} {path}",
                status=response.status_code,
                request_id=self.profile.request_id(response),
            ) from exc

    def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str | None = None,
        limiter: str | None = "default",
        allow_status: Collection[int] = (),
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        authenticate: bool = True,
        record_id: str | None = None,
        idempotent: bool = True,
    ) -> requests.Response:
        """Send one request through the retry policy and return a successful response.

        `path` is relative to the base URL and carries no query string (use
        `params`). `endpoint` names the call in the per-endpoint counter.
        Statuses in `allow_status` are returned rather than raised (a 404 on a
        lookup, a 409 on a create). `limiter` names the rate limiter to take a
        slot from (None for none). `record_id` goes into a SkippableRecordError.

        A request that is not `idempotent` (a create) is sent again only when
        the server cannot have applied it: after a connect timeout or a 429.
        After a read timeout, a dropped connection or a 5xx it raises
        TransientError, and the caller checks for the record before trying again.
        """
        method = method.upper()
        label = endpoint or f"{method} {path}"
        where = f"{method} {redact_text(path)}"
        started = self._clock()

        def send_once() -> requests.Response:
            return self._send_once(
                method,
                path,
                label=label,
                limiter=limiter,
                allow_status=allow_status,
                params=params,
                json=json,
                data=data,
                headers=headers,
                authenticate=authenticate,
                where=where,
                record_id=record_id,
                idempotent=idempotent,
            )

        retrying = Retrying(
            retry=retry_if_exception_type(_RetryableError),
            stop=lambda state: self._should_stop(state, started),
            wait=self._wait_seconds,
            sleep=self._sleep,
            before_sleep=lambda state: self._log_retry(state, where),
            reraise=True,
        )
        try:
            return retrying(send_once)
        except _RetryableError as exc:
            raise self._exhausted_error(exc, where) from (exc.cause or exc)

    def _send_once(
        self,
        method: str,
        path: str,
        *,
        label: str,
        limiter: str | None,
        allow_status: Collection[int],
        params: Mapping[str, Any] | None,
        json: Any,
        data: Any,
        headers: Mapping[str, str] | None,
        authenticate: bool,
        where: str,
        record_id: str | None,
        idempotent: bool,
    ) -> requests.Response:
        if limiter is not None and limiter in self.limiters:
            self.limiters[limiter].acquire()
        request_headers = dict(headers or {})
        if authenticate and self._auth is not None:
            request_headers["Authorization"] = f"Bearer {self._auth()}"
        with self._calls_lock:
            self.calls[label] += 1
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                params=params,
                json=json,
                data=data,
                headers=request_headers,
                timeout=self.timeouts.as_tuple(),
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            if idempotent or isinstance(exc, requests.ConnectTimeout):
                raise _RetryableError(cause=exc) from exc
            raise self._maybe_applied_error(type(exc).__name__, where) from exc
        except requests.RequestException as exc:
            raise TransientError(
                f"request failed: {type(exc).__name__}; check the base URL and the network",
                crm=self.profile.crm,
                endpoint=where,
            ) from exc

        status = response.status_code
        signal = self.profile.rate_limit_signal(response, self._clock())
        if signal.wait_seconds is not None and limiter in self.limiters and status < 400:
            # The CRM reports the window as used up, so hold every caller back.
            self.limiters[limiter].pause_for(signal.wait_seconds)

        if status in allow_status:
            return response
        action = classify_status(status, self.profile.status_actions)
        if action is Action.OK:
            return response
        if action is Action.RETRY:
            if signal.exhausted_until_seconds is not None:
                raise self._daily_limit_error(response, where, signal)
            if not idempotent and status != 429:
                raise self._maybe_applied_error(f"HTTP {status}", where, response)
            raise _RetryableError(
                response=response, wait_hint=signal.wait_seconds, policy=signal.policy
            )
        if action is Action.CONFIGURATION:
            raise self._configuration_error(response, where)
        raise SkippableRecordError(
            self._skip_message(response),
            record_id=record_id,
            crm=self.profile.crm,
            endpoint=where,
            status=status,
            request_id=self.profile.request_id(response),
        )

    # -- retry policy -------------------------------------------------------

    def _should_stop(self, state: RetryCallState, started: float) -> bool:
        if state.attempt_number >= self.retry.max_attempts:
            return True
        elapsed = self._clock() - started
        if elapsed >= self.retry.max_elapsed_seconds:
            return True
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _RetryableError) and error.wait_hint is not None:
            if error.wait_hint > self.retry.max_retry_after_seconds:
                return True
            if elapsed + error.wait_hint > self.retry.max_elapsed_seconds:
                return True
        return False

    def _wait_seconds(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _RetryableError) and error.wait_hint is not None:
            return error.wait_hint
        backoff = self.retry.backoff(state.attempt_number)
        return backoff + self._jitter(self.retry.jitter_seconds)

    def _log_retry(self, state: RetryCallState, where: str) -> None:
        error = state.outcome.exception() if state.outcome else None
        status = None
        reason = None
        if isinstance(error, _RetryableError):
            if error.response is not None:
                status = error.response.status_code
            if error.cause is not None:
                reason = type(error.cause).__name__
        wait = state.next_action.sleep if state.next_action else None
        log.warning(
            "http_retry",
            crm=self.profile.crm,
            path=where,
            status=status,
            reason=reason,
            attempt=state.attempt_number,
            wait=round(wait, 3) if wait is not None else None,
        )

    # -- error translation --------------------------------------------------

    def _exhausted_error(self, error: _RetryableError, where: str) -> ConnectorError:
        crm = self.profile.crm
        if error.response is None:
            cause = type(error.cause).__name__ if error.cause else "connection error"
            return TransientError(
                f"no response from {base_url_origin(self.base_url)} after retries ({cause}); "
                "check the network and the base URL, or retry later",
                crm=crm,
                endpoint=where,
            )
        response = error.response
        request_id = self.profile.request_id(response)
        detail = self.profile.error_detail(response)
        suffix = f": {detail}" if detail else ""
        if response.status_code == 429:
            return RateLimitedError(
                f"rate limit still exceeded after retries{suffix}; "
                "lower the request rate setting or retry later",
                retry_after=error.wait_hint,
                crm=crm,
                endpoint=where,
                status=429,
                request_id=request_id,
            )
        if error.wait_hint is not None and error.wait_hint > self.retry.max_retry_after_seconds:
            # A 477 (migration) or a 503 with a long Retry-After: the caller pauses
            # the account instead of this request waiting in-process.
            return RateLimitedError(
                f"the server asked to retry after {error.wait_hint:.0f} s{suffix}; "
                "pausing until then",
                retry_after=error.wait_hint,
                crm=crm,
                endpoint=where,
                status=response.status_code,
                request_id=request_id,
            )
        return TransientError(
            f"server error persisted after retries{suffix}; retry later",
            crm=crm,
            endpoint=where,
            status=response.status_code,
            request_id=request_id,
        )

    def _maybe_applied_error(
        self, cause: str, where: str, response: requests.Response | None = None
    ) -> TransientError:
        return TransientError(
            f"create request failed ({cause}) and may have been applied, so it was not "
            "sent again; the next attempt looks for the record first",
            crm=self.profile.crm,
            endpoint=where,
            status=response.status_code if response is not None else None,
            request_id=self.profile.request_id(response) if response is not None else None,
        )

    def _daily_limit_error(
        self, response: requests.Response, where: str, signal: RateLimitSignal
    ) -> RateLimitedError:
        policy = f" ({signal.policy})" if signal.policy else ""
        return RateLimitedError(
            f"the account's API limit{policy} is used up; "
            f"pausing this account for {signal.exhausted_until_seconds:.0f} s until it resets",
            retry_after=signal.exhausted_until_seconds,
            crm=self.profile.crm,
            endpoint=where,
            status=response.status_code,
            request_id=self.profile.request_id(response),
        )

    def _configuration_error(self, response: requests.Response, where: str) -> ConfigurationError:
        crm = self.profile.crm
        request_id = self.profile.request_id(response)
        detail = self.profile.error_detail(response)
        if response.status_code == 401:
            return ConfigurationError(
                f"token invalid or expired: create a new token and set {self.profile.token_hint}",
                crm=crm,
                endpoint=where,
                status=401,
                request_id=request_id,
            )
        scopes = self.profile.missing_scopes(response)
        if scopes:
            return MissingScopeError(
                f"the token lacks the scope(s) {', '.join(scopes)}: "
                "grant them to the app, then update "
                f"{self.profile.token_hint} if the token changed",
                scopes=scopes,
                crm=crm,
                endpoint=where,
                status=response.status_code,
                request_id=request_id,
            )
        suffix = f" ({detail})" if detail else ""
        return ConfigurationError(
            f"permission denied{suffix}: check the app's scopes and the account's plan",
            crm=crm,
            endpoint=where,
            status=response.status_code,
            request_id=request_id,
        )

    def _skip_message(self, response: requests.Response) -> str:
        detail = self.profile.error_detail(response)
        return f"request rejected: {detail}" if detail else "request rejected"

"""Shared parts of the connectors' `check()` for `leadscore doctor`.

Doctor runs each probe once with short timeouts, so an unreachable CRM fails
in seconds rather than after every retry. Once the connection or the token
fails, the probes that depend on it are skipped rather than failing again with
the same error. Each failure gets the fix for its own kind of error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import requests

from connectors.base import CheckResult
from connectors.errors import (
    ConfigurationError,
    ConnectorError,
    DataShapeError,
    MissingScopeError,
    RateLimitedError,
)
from connectors.http import HttpClient, RetrySettings, Timeouts

# One attempt per probe. The read timeout allows a slow CRM response, and a host
# that does not accept the connection fails within the 3 s connect timeout.
DOCTOR_RETRY = RetrySettings(max_attempts=1, max_elapsed_seconds=15.0)
DOCTOR_TIMEOUTS = Timeouts(connect=3.0, read=15.0)

BASE_URL_FIX = (
    "check the CRM base URL (LEADSCORE_CRM_BASE_URL, or base_url in the accounts file), "
    "the network, and any HTTPS_PROXY setting"
)
SKIPPED_FOR_CONNECTION = "skipped: fix the connection first"
SKIPPED_FOR_TOKEN = "skipped: fix the token first"


@contextmanager
def fail_fast(*clients: HttpClient) -> Iterator[None]:
    """Send the clients' requests once, with doctor's short timeouts, inside the block."""
    saved = [(client, client.retry, client.timeouts) for client in clients]
    for client, _, _ in saved:
        client.retry = DOCTOR_RETRY
        client.timeouts = DOCTOR_TIMEOUTS
    try:
        yield
    finally:
        for client, retry, timeouts in saved:
            client.retry = retry
            client.timeouts = timeouts


def is_connection_error(error: ConnectorError) -> bool:
    """Return True when no HTTP response came back (refused, timed out, DNS, TLS)."""
    return error.status is None and isinstance(error.__cause__, requests.RequestException)


def describe_error(error: ConnectorError, base_url: str) -> str:
    """Return the doctor detail for an error, naming the URL when no response came back."""
    if is_connection_error(error):
        cause = error.__cause__
        kind = "timed out" if isinstance(cause, requests.Timeout) else "failed"
        return f"connection to {base_url} {kind} ({type(cause).__name__}); no HTTP response"
    return str(error)


def fix_for(
    error: ConnectorError, *, token_fix: str, scope_fix: str = "grant {scopes} to the token"
) -> str:
    """Return the fix line that matches the kind of `error`."""
    if is_connection_error(error):
        return BASE_URL_FIX
    if isinstance(error, MissingScopeError) and error.scopes:
        return scope_fix.format(scopes=", ".join(error.scopes))
    if error.status == 401:
        return token_fix
    if isinstance(error, ConfigurationError):
        return "check the app's scopes and the account's plan; the CRM denied the call"
    if isinstance(error, RateLimitedError):
        return "the CRM rate limit is used up; run doctor again later"
    if isinstance(error, DataShapeError):
        return "the response did not come from the CRM's API; " + BASE_URL_FIX
    if error.status is not None and error.status >= 500:
        return "the CRM returned a server error; run doctor again later"
    return BASE_URL_FIX


def blocking_reason(error: ConnectorError) -> str | None:
    """Return why later probes are skipped after `error`, or None when they can still run."""
    if is_connection_error(error) or isinstance(error, DataShapeError):
        return SKIPPED_FOR_CONNECTION
    # GoHighLevel returns 401 for a missing scope as well, although the token is valid.
    if error.status == 401 and not isinstance(error, MissingScopeError):
        return SKIPPED_FOR_TOKEN
    return None


@dataclass
class ProbeRunner:
    """Run doctor's probes in order, skipping the rest once the connection or token fails."""

    base_url: str
    token_fix: str
    scope_fix: str
    skip_reason: str | None = None

    def run(
        self,
        name: str,
        call: Callable[[], object],
        *,
        required: bool = True,
        needed_for: str = "",
    ) -> CheckResult:
        """Run one probe. `needed_for` names the feature that needs it, for the detail line."""
        if self.skip_reason is not None:
            return self.skipped(name)
        try:
            call()
        except ConnectorError as exc:
            self.skip_reason = blocking_reason(exc)
            detail = describe_error(exc, self.base_url)
            if needed_for:
                detail = f"{detail}; needed for {needed_for}"
            fix = fix_for(exc, token_fix=self.token_fix, scope_fix=self.scope_fix)
            return CheckResult(name, False, detail, fix, required=required)
        detail = f"ok; needed for {needed_for}" if needed_for else "ok"
        return CheckResult(name, True, detail, required=required)

    def skipped(self, name: str) -> CheckResult:
        """Return a skipped result whose detail names the earlier failure to fix first."""
        return CheckResult(name, False, self.skip_reason or "", skipped=True)

    @property
    def blocked(self) -> bool:
        return self.skip_reason is not None

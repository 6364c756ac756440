"""Access tokens for HubSpot: a static private-app token, or OAuth with proactive refresh.

HubSpot OAuth access tokens live 30 minutes (`expires_in` of the token
response). HubSpot's usage guidelines state that a 401 is not a signal to
refresh. So the provider refreshes ahead of expiry instead, a margin before
`expires_in` runs out, and one thread at a time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import structlog
from pydantic import SecretStr

from connectors.errors import ConfigurationError, DataShapeError, SkippableRecordError
from connectors.http import HttpClient

log = structlog.get_logger("connectors.hubspot.auth")


class StaticToken:
    """A private-app or service-key token, which does not expire on its own."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def __call__(self) -> str:
        return self._token.get_secret_value()


class OAuthToken:
    """An OAuth access token refreshed before it expires.

    `http` must be an HttpClient that sends no Authorization header of its own
    (the token endpoint authenticates with the client id and secret).
    """

    def __init__(
        self,
        *,
        http: HttpClient,
        client_id: str,
        client_secret: SecretStr,
        refresh_token: SecretStr,
        path: str,
        margin_seconds: float = 300,
        clock: Callable[[], float] = time.monotonic,
        on_refresh_token: Callable[[str], None] | None = None,
    ) -> None:
        self._http = http
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._path = path
        self._margin = margin_seconds
        self._clock = clock
        self._on_refresh_token = on_refresh_token
        self._access_token: SecretStr | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.refresh_count = 0

    def __call__(self) -> str:
        with self._lock:
            if self._access_token is None or self._clock() >= self._expires_at - self._margin:
                self._refresh()
            assert self._access_token is not None
            return self._access_token.get_secret_value()

    def _refresh(self) -> None:
        form = {
            "grant_type": "refresh_token",
            "client_id": self._client_id,
            "client_secret": self._client_secret.get_secret_value(),
            "refresh_token": self._refresh_token.get_secret_value(),
        }
        started = self._clock()
        try:
            _, body = self._http.request_json(
                "POST",
                self._path,
                endpoint="oauth.token",
                data=form,
                authenticate=False,
                limiter=None,
            )
        except SkippableRecordError as exc:
            raise ConfigurationError(
                "OAuth refresh token rejected: reauthorize the app and put the new "
                "refresh token in the account's oauth_refresh_token option",
                crm="hubspot",
                endpoint=f"POST {self._path}",
                status=exc.status,
                request_id=exc.request_id,
            ) from exc
        if not isinstance(body, dict) or not body.get("access_token"):
            raise DataShapeError(
                "OAuth token response has no access_token",
                crm="hubspot",
                endpoint=f"POST {self._path}",
            )
        try:
            expires_in = float(body.get("expires_in", 1800))
        except (TypeError, ValueError) as exc:
            raise DataShapeError(
                f"OAuth token response has an invalid expires_in: {body.get('expires_in')!r}",
                crm="hubspot",
                endpoint=f"POST {self._path}",
            ) from exc
        self._access_token = SecretStr(str(body["access_token"]))
        self._expires_at = started + expires_in
        new_refresh = body.get("refresh_token")
        if isinstance(new_refresh, str) and new_refresh != self._refresh_token.get_secret_value():
            self._refresh_token = SecretStr(new_refresh)
            if self._on_refresh_token is not None:
                self._on_refresh_token(new_refresh)
        self.refresh_count += 1
        log.info("oauth_token_refreshed", crm="hubspot", expires_in=expires_in)

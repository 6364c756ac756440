"""Bearer tokens for one location: a private integration token, or OAuth with refresh.

A GoHighLevel refresh token works exactly once: the refresh response carries a
new refresh token and the old one is dead. Losing the new one means the spa
must reinstall the app. So `OAuthTokenProvider`:

* refreshes one at a time per location (a thread lock, plus an exclusive file
  lock next to a file store so a CLI run and the daemon do not both refresh);
* re-reads the store before refreshing, in case another process already did;
* saves the new tokens durably (temporary file, fsync, atomic rename, fsync of
  the directory) before the new access token is used by anyone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import structlog

from connectors.errors import ConfigurationError, DataShapeError
from connectors.gohighlevel import constants
from connectors.http import HttpClient

log = structlog.get_logger("connectors.gohighlevel.auth")

CRM = "gohighlevel"


@dataclass(frozen=True, slots=True)
class OAuthTokens:
    """An access token with its expiry and the single-use refresh token that replaces it."""

    access_token: str
    refresh_token: str
    expires_at: datetime
    location_id: str | None = None
    scope: str = ""

    def to_json(self) -> str:
        data = asdict(self)
        data["expires_at"] = self.expires_at.isoformat()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> OAuthTokens:
        expires_at = datetime.fromisoformat(data["expires_at"])
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        return cls(
            access_token=data["access_token"],
            refresh_token=data["refresh_token"],
            expires_at=expires_at,
            location_id=data.get("location_id"),
            scope=data.get("scope", ""),
        )

    def __repr__(self) -> str:
        return f"OAuthTokens(location_id={self.location_id!r}, expires_at={self.expires_at!r})"


class TokenStore(Protocol):
    """Storage for a location's OAuth tokens between runs."""

    def load(self) -> OAuthTokens | None: ...

    def save(self, tokens: OAuthTokens) -> None: ...

    def lock(self) -> contextlib.AbstractContextManager[None]: ...


class FileTokenStore:
    """Tokens in a JSON file, replaced atomically and fsynced on every save."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> OAuthTokens | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return OAuthTokens.from_mapping(json.loads(text))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"OAuth token file {self.path} is not valid ({type(exc).__name__}): restore it "
                "from a backup or reinstall the app to get new tokens",
                crm=CRM,
            ) from exc

    def save(self, tokens: OAuthTokens) -> None:
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(tokens.to_json())
                file.flush()
                os.fsync(file.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        directory_handle = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_handle)
        finally:
            os.close(directory_handle)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive lock on `<file>.lock` so one process refreshes at a time."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a+") as lock_file:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)


class CallbackTokenStore:
    """Tokens kept by the caller (for example in the state store), through two callbacks.

    `save` must be durable when it returns: the old refresh token is already dead.
    """

    def __init__(
        self,
        load: Callable[[], OAuthTokens | None],
        save: Callable[[OAuthTokens], None],
    ) -> None:
        self._load = load
        self._save = save

    def load(self) -> OAuthTokens | None:
        return self._load()

    def save(self, tokens: OAuthTokens) -> None:
        self._save(tokens)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        yield


class StaticToken:
    """A private integration token: fixed, never refreshed."""

    refreshable = False

    def __init__(self, token: str) -> None:
        self._token = token

    def access_token(self) -> str:
        return self._token

    def refresh_after_rejection(self, rejected: str) -> bool:
        return False


# One lock per token store file in this process, shared by every provider of it.
_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


def _process_lock(key: str) -> threading.Lock:
    with _PROCESS_LOCKS_GUARD:
        return _PROCESS_LOCKS.setdefault(key, threading.Lock())


class OAuthTokenProvider:
    """Hand out a valid access token for one location, refreshing it when due."""

    refreshable = True

    def __init__(
        self,
        *,
        store: TokenStore,
        client_id: str,
        client_secret: str,
        http: HttpClient,
        location_id: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        margin: timedelta = constants.TOKEN_REFRESH_MARGIN,
    ) -> None:
        self._store = store
        self._client_id = client_id
        self._client_secret = client_secret
        self._http = http
        self._location_id = location_id
        self._now = now
        self._margin = margin
        self._tokens: OAuthTokens | None = None
        key = str(getattr(store, "path", id(store)))
        self._lock = _process_lock(key)
        self.refresh_count = 0

    def access_token(self) -> str:
        """Return an access token valid for at least the refresh margin."""
        with self._lock:
            tokens = self._tokens or self._load()
            if tokens.expires_at - self._margin <= self._now():
                tokens = self._refresh(stale=tokens)
            self._tokens = tokens
            return tokens.access_token

    def refresh_after_rejection(self, rejected: str) -> bool:
        """Refresh after the API rejected `rejected` as invalid; False when that cannot help.

        When another thread or process already replaced the rejected token,
        nothing is refreshed and the caller retries with the current one.
        """
        with self._lock:
            current = self._load()
            if current.access_token != rejected:
                self._tokens = current
                return True
            self._tokens = self._refresh(stale=current)
            return True

    def _load(self) -> OAuthTokens:
        tokens = self._store.load()
        if tokens is None:
            raise ConfigurationError(
                f"no OAuth tokens stored for location {self._location_id}: install the app on "
                "the location and save its tokens in the token store",
                crm=CRM,
            )
        return tokens

    def _refresh(self, *, stale: OAuthTokens) -> OAuthTokens:
        with self._store.lock():
            stored = self._load()
            if stored.refresh_token != stale.refresh_token:
                # Another process refreshed while we waited for the lock.
                log.info("oauth_tokens_reloaded", crm=CRM, location_id=self._location_id)
                return stored
            status, body = self._http.request_json(
                "POST",
                constants.OAUTH_TOKEN,
                endpoint="POST /oauth/token",
                limiter=None,
                authenticate=False,
                allow_status=(400, 401, 422),
                data={
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                    "grant_type": "refresh_token",
                    "refresh_token": stored.refresh_token,
                    "user_type": "Location",
                },
            )
            if status != 200:
                raise ConfigurationError(
                    f"the OAuth refresh token of location {self._location_id} was rejected "
                    f"(HTTP {status}, {_error_code(body)}): it was already used or revoked; "
                    "reinstall the app on the location to get new tokens",
                    crm=CRM,
                    endpoint="POST /oauth/token",
                    status=status,
                )
            tokens = self._tokens_from(body)
            # The old refresh token is dead now: the new pair must reach disk
            # before anything uses the new access token.
            self._store.save(tokens)
            self.refresh_count += 1
            log.info(
                "oauth_token_refreshed",
                crm=CRM,
                location_id=self._location_id,
                expires_at=tokens.expires_at.isoformat(),
            )
            return tokens

    def _tokens_from(self, body: Any) -> OAuthTokens:
        try:
            return OAuthTokens(
                access_token=str(body["access_token"]),
                refresh_token=str(body["refresh_token"]),
                expires_at=self._now() + timedelta(seconds=float(body["expires_in"])),
                location_id=body.get("locationId") or self._location_id,
                scope=str(body.get("scope") or ""),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataShapeError(
                "OAuth token response lacks access_token, refresh_token or expires_in",
                crm=CRM,
                endpoint="POST /oauth/token",
            ) from exc


def _error_code(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or "no detail")
    return "no detail"

"""One error tree for every connector, rooted by what the operator can do.

    ConnectorError
    ├── ConfigurationError      fix settings, credentials or scopes, then rerun
    │   └── MissingScopeError   the token lacks a named scope
    ├── TransientError          retry later; nothing is wrong with the setup
    │   └── RateLimitedError    the CRM asked us to slow down (carries retry_after)
    ├── SkippableRecordError    this one record cannot be used; log it and go on
    ├── DataShapeError          the CRM's response has a shape the connector does not expect
    └── InputFileError          a spreadsheet cannot be read (empty, binary, missing column)

`requests` exceptions never leave a connector: the shared HTTP layer turns them
into these with `raise ... from exc`. Messages name the endpoint path (never a
token or a query string) and say what to do.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Root of every error a connector raises."""

    def __init__(
        self,
        message: str,
        *,
        crm: str | None = None,
        endpoint: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.crm = crm
        self.endpoint = endpoint
        self.status = status
        self.request_id = request_id

    def __str__(self) -> str:
        details = []
        if self.crm:
            details.append(self.crm)
        if self.status is not None:
            details.append(f"HTTP {self.status}")
        if self.endpoint:
            details.append(self.endpoint)
        if self.request_id:
            details.append(f"request id {self.request_id}")
        prefix = f"[{' '.join(details)}] " if details else ""
        return prefix + self.message


class ConfigurationError(ConnectorError):
    """Settings, credentials or permissions are wrong; retrying will not help."""


class MissingScopeError(ConfigurationError):
    """The token works but lacks a scope the call needs."""

    def __init__(self, message: str, *, scopes: tuple[str, ...] = (), **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.scopes = scopes


class TransientError(ConnectorError):
    """A failure that may pass: a 5xx, a timeout, a dropped connection."""


class RateLimitedError(TransientError):
    """The CRM rejected the call for rate limits; `retry_after` is in seconds when known."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class SkippableRecordError(ConnectorError):
    """One record cannot be read or written; the batch goes on without it."""

    def __init__(self, message: str, *, record_id: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.record_id = record_id


class DataShapeError(ConnectorError):
    """A response did not have the shape the connector expects (the API changed)."""


class InputFileError(ConnectorError):
    """A spreadsheet cannot be read: empty, binary, or missing a mapped column."""

    def __init__(self, message: str, *, path: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.path = path

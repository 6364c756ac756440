"""The worker's heartbeat file and the health check that reads it.

The daemon rewrites the heartbeat after each sync round in which at least one
account finished its cycle. `leadscore health` (and the Docker HEALTHCHECK)
fails when the file is missing or older than three sync intervals, so a
supervisor restarts a worker that hangs or keeps failing.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

STALE_AFTER_INTERVALS = 3


@dataclass(frozen=True, slots=True)
class HealthStatus:
    """The result of reading the heartbeat: healthy or not, and why."""

    ok: bool
    detail: str
    updated_at: datetime | None = None
    age_seconds: float | None = None
    accounts: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "detail": self.detail,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "age_seconds": round(self.age_seconds, 1) if self.age_seconds is not None else None,
            "accounts": self.accounts or {},
        }


def write_heartbeat(path: Path, *, now: datetime, accounts: dict[str, Any]) -> None:
    """Replace the heartbeat file atomically, so a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"updated_at": now.isoformat(), "pid": os.getpid(), "accounts": accounts}
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".heartbeat-")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, sort_keys=True)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def check_heartbeat(path: Path, *, max_age_seconds: float, now: datetime) -> HealthStatus:
    """Read the heartbeat; healthy when it exists and is younger than `max_age_seconds`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        updated_at = datetime.fromisoformat(data["updated_at"])
    except FileNotFoundError:
        return HealthStatus(
            False,
            f"heartbeat file {path} not found: the worker has not finished a successful sync cycle",
        )
    except (ValueError, KeyError, TypeError) as exc:
        return HealthStatus(False, f"heartbeat file {path} is invalid: {exc}")

    age = (now - updated_at).total_seconds()
    accounts = data.get("accounts") or {}
    if age > max_age_seconds:
        return HealthStatus(
            False,
            f"last successful sync cycle {age:.0f} s ago, more than {max_age_seconds:.0f} s: "
            "check the worker's log for sync_cycle_failed",
            updated_at,
            age,
            accounts,
        )
    return HealthStatus(
        True, f"last successful sync cycle {age:.0f} s ago", updated_at, age, accounts
    )


def read_health(settings: Any = None, *, now: datetime | None = None) -> HealthStatus:
    """Return the worker's health from its heartbeat, as `leadscore health` reports it.

    `settings` defaults to `Settings()` read from the environment; the stale
    limit is three sync intervals.
    """
    if settings is None:
        from jobs.settings import Settings

        settings = Settings()
    return check_heartbeat(
        settings.heartbeat_file,
        max_age_seconds=STALE_AFTER_INTERVALS * settings.sync_interval_seconds,
        now=now or datetime.now(UTC),
    )

"""Option handling shared by the `score`, `explain`, `calibrate` and `backtest` commands."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any


class UsageProblem(Exception):
    """An input, option or model the user must fix; the message explains the fix."""


def parse_now(text: str | None, zone: tzinfo = UTC) -> datetime:
    """Parse a `--now` value, or return the current time when it is absent.

    A time without an offset is read in `zone`. Raises `UsageProblem` when the
    text is not ISO 8601.
    """
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageProblem(
            f"--now {text!r} is not an ISO 8601 time; use a form such as 2026-12-01T12:00:00Z"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def load_model(path: Path | None) -> Any:
    """Load the model file at `path`, or the built-in model when it is None.

    Raises `UsageProblem` when the file is missing, unreadable or invalid.
    """
    from jobs.modelfile import load_model as load_model_file
    from scoring.model import ModelError

    try:
        return load_model_file(path)
    except ModelError as exc:
        raise UsageProblem(f"invalid model: {exc}") from None

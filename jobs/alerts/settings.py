"""Settings of hot-lead alerts, read from `LEADSCORE_ALERT_*` environment variables.

Nothing here reads the environment at import time: build `AlertSettings()` (or
let the root settings build it) when the worker starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

CHANNEL_NAMES = ("crm", "webhook", "email")

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS_ENTRY = re.compile(
    r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$"
)


class AfterHours(StrEnum):
    """A channel's policy for alerts that arrive outside business hours."""

    HOLD = "hold"  # deliver at the next opening
    SEND = "send"  # deliver at once


class SmtpSecurity(StrEnum):
    STARTTLS = "starttls"  # plain connection upgraded with STARTTLS (port 587)
    SSL = "ssl"  # TLS from the first byte (port 465)
    NONE = "none"  # no encryption: only for a relay on the same host


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """One weekday's opening interval in the spa's local time (0 = Monday)."""

    weekday: int
    start: time
    end: time


def parse_business_hours(text: str) -> tuple[OpeningHours, ...]:
    """Parse `"Mon-Fri 09:00-18:00; Sat 10:00-14:00"` into one interval per weekday.

    Entries are separated by `;` or `,`. An empty text means no business hours
    (alerts are never held). Raises ValueError naming the entry that is invalid.
    """
    intervals: list[OpeningHours] = []
    for raw_entry in re.split(r"[;,]", text):
        entry = " ".join(raw_entry.strip().lower().split())
        if not entry:
            continue
        match = _HOURS_ENTRY.match(entry)
        if match is None:
            raise ValueError(
                f"invalid business hours entry {raw_entry.strip()!r}: expected days and "
                "times such as 'Mon-Fri 09:00-18:00' or 'Sat 10:00-14:00'"
            )
        first, last = match["first"], match["last"] or match["first"]
        for day in (first, last):
            if day not in _DAY_NAMES:
                raise ValueError(
                    f"invalid day {day!r} in business hours entry {raw_entry.strip()!r}: "
                    f"use one of {', '.join(name.title() for name in _DAY_NAMES)}"
                )
        start, end = _parse_clock(match["start"], raw_entry), _parse_clock(match["end"], raw_entry)
        if end <= start:
            raise ValueError(
                f"invalid business hours entry {raw_entry.strip()!r}: the closing time must be "
                "after the opening time on the same day"
            )
        first_index, last_index = _DAY_NAMES.index(first), _DAY_NAMES.index(last)
        days = (
            range(first_index, last_index + 1)
            if first_index <= last_index
            else [
                *range(first_index, 7),
                *range(0, last_index + 1),
            ]
        )
        intervals.extend(OpeningHours(day, start, end) for day in days)
    return tuple(sorted(intervals, key=lambda hours: (hours.weekday, hours.start)))


def _parse_clock(text: str, entry: str) -> time:
    hour, minute = (int(part) for part in text.split(":"))
    if hour > 23 or minute > 59:
        raise ValueError(f"invalid time {text!r} in business hours entry {entry.strip()!r}")
    return time(hour, minute)


class AlertSettings(BaseSettings):
    """When hot-lead alerts fire, where they go, and how delivery is retried."""

    model_config = SettingsConfigDict(
        env_prefix="LEADSCORE_ALERT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    enabled: bool = Field(default=True, description="Record and deliver hot-lead alerts.")
    threshold: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description=(
            "Score (1-100) a lead must cross upward to alert; empty uses the model's "
            "alert_threshold (75 by default)."
        ),
    )
    cooldown_hours: float = Field(
        default=168.0,
        ge=0,
        description="Hours after an alert during which the same lead does not alert again.",
    )
    new_lead_max_age_hours: float = Field(
        default=72.0,
        ge=0,
        description=(
            "A lead scored for the first time alerts only if it inquired within this many "
            "hours, so the first sync of old contacts sends no flood. 0 means no limit."
        ),
    )
    daily_cap: int = Field(
        default=25,
        ge=0,
        description=(
            "Maximum immediate alerts per account per local day; later hot leads go into a "
            "digest. 0 means no cap."
        ),
    )
    # NOTE: one time zone, one set of business hours and one daily cap apply
    # to every account of a deployment; locations in other time zones need
    # their own deployment for now.
    timezone: str = Field(
        default="America/New_York",
        description="The spa's IANA time zone, for business hours, the daily cap and the digest.",
    )
    business_hours: str = Field(
        default="",
        description=(
            "Opening hours in the spa's time zone, such as 'Mon-Fri 09:00-18:00; Sat 10:00-14:00'. "
            "Empty means alerts are never held."
        ),
    )
    digest_time: time | None = Field(
        default=None,
        description=(
            "Local time (HH:MM) to send the digest of leads past the daily cap; empty sends it "
            "at the next opening, or at local midnight without business hours."
        ),
    )
    channels: str = Field(
        default="crm",
        description="Comma-separated channels that receive every alert: crm, webhook, email.",
    )

    crm_after_hours: AfterHours = Field(
        default=AfterHours.SEND,
        description="Outside business hours, 'send' the CRM task or tag at once or 'hold' it.",
    )
    webhook_after_hours: AfterHours = Field(
        default=AfterHours.HOLD,
        description="Outside business hours, 'hold' the webhook message until opening or 'send'.",
    )
    email_after_hours: AfterHours = Field(
        default=AfterHours.HOLD,
        description="Outside business hours, 'hold' the email until opening or 'send' it.",
    )

    webhook_url: SecretStr | None = Field(
        default=None,
        description="Incoming webhook URL (Slack, Teams or any chat tool); kept secret.",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Key for the X-Leadscore-Signature HMAC-SHA256 header; empty sends no signature."
        ),
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Timeout of one webhook request, in seconds."
    )

    smtp_host: str | None = Field(default=None, description="SMTP server host name.")
    smtp_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="SMTP port; empty uses 587 for starttls, 465 for ssl, 25 for none.",
    )
    smtp_security: SmtpSecurity = Field(
        default=SmtpSecurity.STARTTLS,
        description="SMTP connection security: starttls, ssl or none.",
    )
    smtp_username: str | None = Field(
        default=None, description="SMTP login user name; empty skips the login."
    )
    smtp_password: SecretStr | None = Field(default=None, description="SMTP login password.")
    smtp_timeout_seconds: float = Field(
        default=20.0, gt=0, description="Timeout of one SMTP connection, in seconds."
    )
    email_from: str | None = Field(
        default=None, description="Sender address of alert emails, such as alerts@spa.example."
    )
    email_to: str = Field(
        default="", description="Comma-separated recipient addresses of alert emails."
    )

    max_attempts: int = Field(
        default=8,
        ge=1,
        description="Attempts per channel before a delivery is marked failed.",
    )
    retry_base_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Wait before the first retry; each later retry waits twice as long.",
    )
    retry_max_seconds: float = Field(
        default=3600.0, gt=0, description="Maximum wait between two attempts, in seconds."
    )
    lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description=(
            "How long a claimed delivery stays claimed; after a crash it is retried once the "
            "lease ends."
        ),
    )
    batch_size: int = Field(
        default=100, ge=1, description="Maximum deliveries attempted in one outbox run."
    )

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as 'America/New_York'"
            ) from exc
        return value

    @field_validator("business_hours")
    @classmethod
    def _check_business_hours(cls, value: str) -> str:
        parse_business_hours(value)
        return value

    @field_validator("channels")
    @classmethod
    def _check_channels(cls, value: str) -> str:
        for name in _split(value):
            if name not in CHANNEL_NAMES:
                raise ValueError(
                    f"unknown alert channel {name!r}: use a comma-separated list of "
                    f"{', '.join(CHANNEL_NAMES)}"
                )
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def opening_hours(self) -> tuple[OpeningHours, ...]:
        return parse_business_hours(self.business_hours)

    @property
    def channel_names(self) -> tuple[str, ...]:
        """The configured channels, in the order given, without duplicates."""
        return tuple(dict.fromkeys(_split(self.channels)))

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(_split(self.email_to, lower=False))

    def after_hours(self, channel: str) -> AfterHours:
        """Return the after-hours policy of one channel."""
        return getattr(self, f"{channel}_after_hours", AfterHours.HOLD)


def _split(text: str, *, lower: bool = True) -> list[str]:
    items = [item.strip() for item in text.split(",")]
    return [item.lower() if lower else item for item in items if item]

"""Typed, frozen facts about one lead: what the scoring engine reads.

Connectors build `Lead` objects from CRM records or spreadsheet rows; the engine
never reads CRM JSON. Answers keep the text the lead gave (parsing budget or
timeline text is the engine's job, so an unparseable answer is reported as
unknown instead of being guessed at the boundary).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

# A single answer: free text or a single choice (str), a number, a yes/no
# (bool), or a multiple choice (tuple of str). None means "not answered".
AnswerValue = str | int | float | bool | tuple[str, ...] | None


class ActivityKind(StrEnum):
    """Kinds of engagement the scoring rules can refer to."""

    EMAIL_SENT = "email_sent"
    EMAIL_OPEN = "email_open"
    EMAIL_CLICK = "email_click"
    EMAIL_BOUNCE = "email_bounce"
    REPLY = "reply"
    PAGE_VIEW = "page_view"
    VIDEO_VIEW = "video_view"
    FORM_SUBMISSION = "form_submission"
    BOOKING_PAGE_CLICK = "booking_page_click"
    # Staff reached out (a call, a sales email or an SMS): the start of the
    # "no reply N days after outreach" window.
    OUTREACH = "outreach"


@dataclass(frozen=True, slots=True)
class Activity:
    """One engagement event, or an aggregate of several events of one kind.

    CRMs report engagement in two shapes: single events with a timestamp
    (GoHighLevel messages) and counters with a last-seen date (HubSpot's
    `hs_email_open` with `hs_email_last_open_date`). Both fit here: a single
    event has `count=1` and `last_at` set to its time.
    """

    kind: ActivityKind
    count: int = 1
    last_at: datetime | None = None
    first_at: datetime | None = None
    url: str | None = None
    detail: str | None = None

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError(f"activity count must be >= 0, got {self.count}")
        for name in ("last_at", "first_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"activity {name} must be timezone-aware, got {value!r}")


def _freeze_value(value: object) -> AnswerValue:
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(str(item) for item in value)
    return value  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Lead:
    """Everything the scoring engine may use about one lead.

    `answers` are replies to qualification questions (treatment, budget,
    timeline, prior treatment), keyed by the question key of the model's
    mapping. `attributes` are other facts about the person used by fit rules
    (age, postal code, lead source). Rules look a field up in `answers` first
    and then in `attributes`.
    """

    id: str
    created_at: datetime | None = None
    answers: Mapping[str, AnswerValue] = field(default_factory=dict)
    attributes: Mapping[str, AnswerValue] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    activities: tuple[Activity, ...] = ()
    do_not_contact: bool = False
    unsubscribed: bool = False

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("lead id must not be empty")
        if self.created_at is not None and self.created_at.tzinfo is None:
            raise ValueError(f"lead created_at must be timezone-aware, got {self.created_at!r}")
        answers = {k: _freeze_value(v) for k, v in self.answers.items()}
        object.__setattr__(self, "answers", MappingProxyType(answers))
        object.__setattr__(
            self,
            "attributes",
            MappingProxyType({k: _freeze_value(v) for k, v in self.attributes.items()}),
        )
        object.__setattr__(self, "tags", frozenset(self.tags))
        object.__setattr__(self, "activities", tuple(self.activities))

    def field_value(self, key: str) -> AnswerValue:
        """Return the answer or attribute stored under `key`, or None."""
        if key in self.answers:
            return self.answers[key]
        return self.attributes.get(key)

    def activities_of(self, kinds: Iterable[ActivityKind]) -> tuple[Activity, ...]:
        wanted = set(kinds)
        return tuple(activity for activity in self.activities if activity.kind in wanted)

    def to_dict(self) -> dict:
        """Return the lead as plain JSON-ready data (the state store keeps this)."""
        return {
            "id": self.id,
            "created_at": _iso(self.created_at),
            "answers": {k: _jsonable(v) for k, v in sorted(self.answers.items())},
            "attributes": {k: _jsonable(v) for k, v in sorted(self.attributes.items())},
            "tags": sorted(self.tags),
            "activities": [
                {
                    "kind": a.kind.value,
                    "count": a.count,
                    "last_at": _iso(a.last_at),
                    "first_at": _iso(a.first_at),
                    "url": a.url,
                    "detail": a.detail,
                }
                for a in sorted(self.activities, key=_activity_sort_key)
            ],
            "do_not_contact": self.do_not_contact,
            "unsubscribed": self.unsubscribed,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Lead:
        """Build a lead from the output of `to_dict`."""
        return cls(
            id=data["id"],
            created_at=_parse_iso(data.get("created_at")),
            answers=data.get("answers") or {},
            attributes=data.get("attributes") or {},
            tags=frozenset(data.get("tags") or ()),
            activities=tuple(
                Activity(
                    kind=ActivityKind(item["kind"]),
                    count=item.get("count", 1),
                    last_at=_parse_iso(item.get("last_at")),
                    first_at=_parse_iso(item.get("first_at")),
                    url=item.get("url"),
                    detail=item.get("detail"),
                )
                for item in data.get("activities") or ()
            ),
            do_not_contact=bool(data.get("do_not_contact")),
            unsubscribed=bool(data.get("unsubscribed")),
        )

    def fingerprint(self) -> str:
        """Return a stable hash of every fact, so a store can tell whether a lead changed."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _jsonable(value: AnswerValue) -> object:
    return list(value) if isinstance(value, tuple) else value


def _activity_sort_key(activity: Activity) -> tuple:
    last = activity.last_at.timestamp() if activity.last_at else float("-inf")
    return (activity.kind.value, last, activity.url or "", activity.detail or "", activity.count)

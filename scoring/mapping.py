"""The `[mapping]` section of a model file: where each lead fact comes from.

Every entry is a list of source names to try in order: spreadsheet column
headers, HubSpot property names, or GoHighLevel custom field keys or names.
Names match when they are equal after `normalize_source_name` (case, spacing
and punctuation ignored), so one mapping serves a CSV export and a CRM.

Example::

    [mapping]
    id = ["Record ID", "Contact Id"]
    tags = ["Tags"]

    [mapping.answers]
    timeline = ["How soon are you looking to book?", "timeline"]
    budget = ["budget", "Your investment preference?"]

    [mapping.activities.email_open]
    count = ["Marketing emails opened"]
    last_at = ["Last marketing email open date"]
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator

from scoring.lead import ActivityKind

SourceNames = tuple[str, ...]

# `FieldMapping` fields that each list the sources of one contact fact.
CONTACT_FACTS = (
    "id",
    "created_at",
    "first_name",
    "last_name",
    "full_name",
    "email",
    "phone",
    "owner",
    "tags",
    "do_not_contact",
    "unsubscribed",
)
# `ActivitySource` fields, one per part of an engagement record.
ACTIVITY_PARTS = ("count", "last_at", "first_at", "url", "detail")

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalize_source_name(name: str) -> str:
    """Fold a column or property name for matching: `"First Name"` → `"firstname"`."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return _NON_ALNUM.sub("", folded.lower())


def _as_names(value: object) -> object:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return value


class ActivitySource(BaseModel):
    """Columns or properties that carry one kind of engagement."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    count: SourceNames = Field(default=(), description="A counter of events of this kind.")
    last_at: SourceNames = Field(default=(), description="The date of the most recent event.")
    first_at: SourceNames = Field(default=(), description="The date of the first event.")
    url: SourceNames = Field(default=(), description="The URL of the most recent event.")
    detail: SourceNames = Field(default=(), description="A name or title for the event.")

    _coerce = field_validator(*ACTIVITY_PARTS, mode="before")(_as_names)


class FieldMapping(BaseModel):
    """Where each lead fact comes from, as lists of source names tried in order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: SourceNames = ("Record ID", "Contact Id", "id", "Lead Number", "Prospect ID")
    created_at: SourceNames = ("Create Date", "Created", "createdate", "dateAdded", "Created Date")
    first_name: SourceNames = ("First Name", "firstname", "firstName")
    last_name: SourceNames = ("Last Name", "lastname", "lastName")
    full_name: SourceNames = ("Name", "Full Name", "fullName", "Contact Name")
    email: SourceNames = ("Email", "email")
    phone: SourceNames = ("Phone", "Phone Number", "phone", "Mobile Phone Number", "mobilephone")
    owner: SourceNames = ("Contact owner", "hubspot_owner_id", "assignedTo", "assigned")
    tags: SourceNames = ("Tags", "tags")
    tag_separator: str = Field(default=",", description="Separator between tags in one cell.")
    do_not_contact: SourceNames = ("Do Not Contact", "dnd", "Do Not Call")
    unsubscribed: SourceNames = (
        "Unsubscribed from all email",
        "hs_email_optout",
        "Unsubscribed",
        "Do Not Email",
    )
    answers: Mapping[str, SourceNames] = Field(
        default_factory=dict, description="Question key → source names of its answer."
    )
    attributes: Mapping[str, SourceNames] = Field(
        default_factory=dict, description="Fit attribute key → source names."
    )
    activities: Mapping[ActivityKind, ActivitySource] = Field(
        default_factory=dict, description="Engagement kind → the sources that carry it."
    )
    post_outcome: SourceNames = Field(
        default=(),
        description=(
            "Columns filled in after the outcome was known (sales notes, lead quality). "
            "Calibration refuses rules and mappings that read them."
        ),
    )

    _coerce = field_validator(*CONTACT_FACTS, "post_outcome", mode="before")(_as_names)

    @field_validator("answers", "attributes", mode="before")
    @classmethod
    def _coerce_named(cls, value: object) -> object:
        if isinstance(value, Mapping):
            return {key: _as_names(names) for key, names in value.items()}
        return value


def find_source(names: Iterable[str], available: Iterable[str]) -> str | None:
    """Return the first of `available` that matches one of `names`, in `names` order.

    An exact match wins over a folded one, so `"Email"` is preferred to
    `"email"` when a file has both.
    """
    available = list(available)
    exact = set(available)
    folded: dict[str, str] = {}
    for candidate in available:
        folded.setdefault(normalize_source_name(candidate), candidate)
    for name in names:
        if name in exact:
            return name
        match = folded.get(normalize_source_name(name))
        if match is not None:
            return match
    return None

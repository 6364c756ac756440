"""Turn HubSpot contact records into `Contact` objects through the model's field mapping.

Mapping entries name HubSpot properties by internal name or by label (a CSV
export uses labels such as "Record ID"), matched with `find_source` against the
account's property list. Property values arrive as strings: multi-checkbox
values are joined with `;`, numbers and booleans are text, and dates are ISO
strings or epoch milliseconds.

Engagement comes from counters and dates HubSpot already keeps on the contact,
so scoring needs no extra call per contact. Those become `SNAPSHOT` activities.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connectors.base import ActivityMode, Contact, SkippedRecord, WrittenScore
from connectors.hubspot.api import RECORD_URL
from connectors.hubspot.config import ScoreProperties
from connectors.redact import redact_text
from scoring.lead import Activity, ActivityKind, AnswerValue, Lead
from scoring.mapping import ActivitySource, FieldMapping, find_source
from scoring.result import Tier

ID = "hs_object_id"
CREATED = "createdate"
MODIFIED = "lastmodifieddate"
BASIC_PROPERTIES = (
    ID,
    CREATED,
    MODIFIED,
    "firstname",
    "lastname",
    "email",
    "phone",
    "mobilephone",
    "hubspot_owner_id",
    "lifecyclestage",
    "hs_lead_status",
    "hs_email_optout",
)

# Engagement properties HubSpot keeps on every contact, per activity kind.
DEFAULT_ACTIVITY_SOURCES: Mapping[ActivityKind, ActivitySource] = {
    ActivityKind.EMAIL_SENT: ActivitySource(
        count=("hs_email_delivered",),
        last_at=("hs_email_last_send_date",),
        first_at=("hs_email_first_send_date",),
    ),
    ActivityKind.EMAIL_OPEN: ActivitySource(
        count=("hs_email_open",),
        last_at=("hs_email_last_open_date",),
        first_at=("hs_email_first_open_date",),
    ),
    ActivityKind.EMAIL_CLICK: ActivitySource(
        count=("hs_email_click",),
        last_at=("hs_email_last_click_date",),
        first_at=("hs_email_first_click_date",),
    ),
    ActivityKind.EMAIL_BOUNCE: ActivitySource(count=("hs_email_bounce",)),
    ActivityKind.REPLY: ActivitySource(
        count=("hs_email_replied",),
        last_at=("hs_email_last_reply_date", "hs_sales_email_last_replied"),
        first_at=("hs_email_first_reply_date",),
    ),
    ActivityKind.PAGE_VIEW: ActivitySource(
        count=("hs_analytics_num_page_views",),
        last_at=("hs_analytics_last_visit_timestamp",),
        first_at=("hs_analytics_first_visit_timestamp",),
        url=("hs_analytics_last_url",),
    ),
    ActivityKind.FORM_SUBMISSION: ActivitySource(
        count=("num_conversion_events",),
        last_at=("recent_conversion_date",),
        first_at=("first_conversion_date",),
        detail=("recent_conversion_event_name",),
    ),
    ActivityKind.OUTREACH: ActivitySource(
        count=("num_contacted_notes",),
        last_at=("notes_last_contacted",),
    ),
    # NOTE: HubSpot records a booked meeting, not a click on the booking page.
    # A booked meeting is the closest signal it keeps on the contact.
    ActivityKind.BOOKING_PAGE_CLICK: ActivitySource(
        last_at=("engagements_last_meeting_booked",),
    ),
}


@dataclass(frozen=True, slots=True)
class PropertyInfo:
    """One contact property as the properties API describes it."""

    name: str
    label: str = ""
    type: str = "string"
    field_type: str = "text"
    group: str = ""
    options: tuple[str, ...] = ()

    @classmethod
    def from_api(cls, data: Mapping[str, object]) -> PropertyInfo:
        options = data.get("options") or ()
        return cls(
            name=str(data.get("name", "")),
            label=str(data.get("label") or ""),
            type=str(data.get("type") or "string"),
            field_type=str(data.get("fieldType") or "text"),
            group=str(data.get("groupName") or ""),
            options=tuple(
                str(option.get("value")) for option in options if isinstance(option, Mapping)
            ),
        )

    @property
    def is_multi_choice(self) -> bool:
        return self.type == "enumeration" and self.field_type == "checkbox"


@dataclass(frozen=True, slots=True)
class MissingMapping:
    """A mapping entry that matched no property of the account."""

    section: str  # "answers", "attributes" or "activities"
    key: str
    names: tuple[str, ...]
    close_matches: tuple[str, ...] = ()

    def describe(self) -> str:
        hint = f" (close matches: {', '.join(self.close_matches)})" if self.close_matches else ""
        return f"{self.section}.{self.key}: no property named {', '.join(self.names)}{hint}"


@dataclass
class _Resolved:
    answers: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    activities: dict[ActivityKind, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    tags: str | None = None
    do_not_contact: str | None = None
    unsubscribed: str | None = None
    missing: list[MissingMapping] = field(default_factory=list)


class ContactMapper:
    """Resolve a field mapping against the account's properties and map records."""

    def __init__(
        self,
        mapping: FieldMapping,
        score_properties: ScoreProperties,
        portal_id: str,
        properties: Iterable[PropertyInfo],
    ) -> None:
        self.mapping = mapping
        self.score_properties = score_properties
        self.portal_id = portal_id
        self.properties = {info.name: info for info in properties}
        self._by_label = {info.label: info.name for info in self.properties.values() if info.label}
        self._resolved = self._resolve()

    @property
    def missing(self) -> tuple[MissingMapping, ...]:
        return tuple(self._resolved.missing)

    def _lookup(self, names: Iterable[str]) -> str | None:
        names = tuple(names)
        found = find_source(names, self.properties)
        if found is not None:
            return found
        label = find_source(names, self._by_label)
        return self._by_label[label] if label is not None else None

    def _close_matches(self, names: Iterable[str]) -> tuple[str, ...]:
        candidates = list(self.properties) + list(self._by_label)
        matches: list[str] = []
        for name in names:
            for match in difflib.get_close_matches(name, candidates, n=3, cutoff=0.6):
                resolved = self._by_label.get(match, match)
                if resolved not in matches:
                    matches.append(resolved)
        return tuple(matches[:3])

    def _resolve(self) -> _Resolved:
        resolved = _Resolved()
        for section in ("answers", "attributes"):
            entries: Mapping[str, tuple[str, ...]] = getattr(self.mapping, section)
            target = getattr(resolved, section)
            for key, names in entries.items():
                found = self._lookup(names)
                if found is None:
                    resolved.missing.append(
                        MissingMapping(section, key, tuple(names), self._close_matches(names))
                    )
                else:
                    target[key] = found

        sources = dict(DEFAULT_ACTIVITY_SOURCES)
        sources.update(self.mapping.activities)
        for kind, source in sources.items():
            fields: dict[str, tuple[str, ...]] = {}
            for field_name in ("count", "last_at", "first_at", "url", "detail"):
                names = getattr(source, field_name)
                looked_up = (self._lookup((candidate,)) for candidate in names)
                found = tuple(dict.fromkeys(name for name in looked_up if name))
                if found:
                    fields[field_name] = found
            if fields:
                resolved.activities[kind] = fields
            elif kind in self.mapping.activities:
                names = tuple(n for f in ("count", "last_at") for n in getattr(source, f))
                resolved.missing.append(
                    MissingMapping("activities", kind.value, names, self._close_matches(names))
                )

        resolved.tags = self._lookup(self.mapping.tags)
        resolved.do_not_contact = self._lookup(self.mapping.do_not_contact)
        resolved.unsubscribed = self._lookup(self.mapping.unsubscribed)
        return resolved

    def requested_properties(self) -> list[str]:
        """Return every property name a pull must request, without duplicates."""
        names: list[str] = list(BASIC_PROPERTIES)
        names.extend(self._resolved.answers.values())
        names.extend(self._resolved.attributes.values())
        for fields in self._resolved.activities.values():
            for field_names in fields.values():
                names.extend(field_names)
        for optional in (
            self._resolved.tags,
            self._resolved.do_not_contact,
            self._resolved.unsubscribed,
        ):
            if optional:
                names.append(optional)
        own = self.score_properties
        names.extend([own.score, own.fit, own.intent, own.tier, own.scored_at])
        return list(dict.fromkeys(names))

    def to_contact(self, record: Mapping[str, object]) -> Contact | SkippedRecord:
        """Map one HubSpot object record (`id`, `properties`, `updatedAt`) to a Contact."""
        record_id = str(record.get("id") or "")
        properties = record.get("properties")
        if not record_id or not isinstance(properties, Mapping):
            return SkippedRecord(
                reason="HubSpot record has no id or no properties", record_id=record_id or None
            )
        values = {key: value for key, value in properties.items() if value not in (None, "")}
        try:
            return self._build_contact(record_id, record, values)
        except ValueError as exc:
            return SkippedRecord(
                reason=f"contact could not be mapped: {redact_text(str(exc))}",
                record_id=record_id,
            )

    def _build_contact(
        self, record_id: str, record: Mapping[str, object], values: Mapping[str, object]
    ) -> Contact:
        resolved = self._resolved
        answers = {
            key: self._typed_value(name, values.get(name))
            for key, name in resolved.answers.items()
            if name in values
        }
        attributes = {
            key: self._typed_value(name, values.get(name))
            for key, name in resolved.attributes.items()
            if name in values
        }
        tags: frozenset[str] = frozenset()
        if resolved.tags and resolved.tags in values:
            tags = frozenset(self._split_tags(resolved.tags, str(values[resolved.tags])))

        lead = Lead(
            id=record_id,
            created_at=parse_datetime(values.get(CREATED)),
            answers=answers,
            attributes=attributes,
            tags=tags,
            activities=tuple(self._activities(values)),
            do_not_contact=_truthy(values.get(resolved.do_not_contact or "")),
            unsubscribed=_truthy(values.get(resolved.unsubscribed or "")),
        )
        first = str(values.get("firstname") or "").strip()
        last = str(values.get("lastname") or "").strip()
        modified = parse_datetime(values.get(MODIFIED)) or parse_datetime(record.get("updatedAt"))
        return Contact(
            lead=lead,
            name=" ".join(part for part in (first, last) if part) or None,
            email=_text(values.get("email")),
            phone=_text(values.get("phone")) or _text(values.get("mobilephone")),
            owner_id=_text(values.get("hubspot_owner_id")),
            record_url=RECORD_URL.format(portal_id=self.portal_id, contact_id=record_id),
            modified_at=modified,
            written=self._written(values),
            activity_mode=ActivityMode.SNAPSHOT,
            raw=dict(values),
        )

    def _typed_value(self, name: str, raw: object) -> AnswerValue:
        text = str(raw)
        info = self.properties.get(name)
        if info is None:
            return text
        if info.is_multi_choice:
            return tuple(part for part in text.split(";") if part)
        if info.type == "bool" or info.field_type == "booleancheckbox":
            lowered = text.lower()
            if lowered in ("true", "false"):
                return lowered == "true"
            return text
        if info.type == "number":
            return _number(text)
        return text

    def _split_tags(self, name: str, text: str) -> list[str]:
        info = self.properties.get(name)
        separator = ";" if info is not None and info.type == "enumeration" else None
        separator = separator or self.mapping.tag_separator
        return [part.strip() for part in text.split(separator) if part.strip()]

    def _activities(self, values: Mapping[str, object]) -> Iterable[Activity]:
        for kind, fields in self._resolved.activities.items():
            count = None
            for name in fields.get("count", ()):
                number = _number(str(values[name])) if name in values else None
                if isinstance(number, int | float):
                    count = int(number)
                    break
            last_dates = [parse_datetime(values.get(n)) for n in fields.get("last_at", ())]
            first_dates = [parse_datetime(values.get(n)) for n in fields.get("first_at", ())]
            last_at = max((d for d in last_dates if d), default=None)
            first_at = min((d for d in first_dates if d), default=None)
            if not count and last_at is None:
                continue
            if count is None or count < 1:
                count = 1
            yield Activity(
                kind=kind,
                count=count,
                last_at=last_at,
                first_at=first_at,
                url=_first_text(values, fields.get("url", ())),
                detail=_first_text(values, fields.get("detail", ())),
            )

    def _written(self, values: Mapping[str, object]) -> WrittenScore | None:
        own = self.score_properties
        if not any(name in values for name in (own.score, own.tier, own.scored_at)):
            return None
        tier_text = _text(values.get(own.tier))
        tier = Tier(tier_text) if tier_text in {t.value for t in Tier} else None
        return WrittenScore(
            score=_int_or_none(values.get(own.score)),
            fit=_int_or_none(values.get(own.fit)),
            intent=_int_or_none(values.get(own.intent)),
            tier=tier,
            scored_at=parse_datetime(values.get(own.scored_at)),
        )


_EPOCH_MS = re.compile(r"^-?\d{9,}$")


def parse_datetime(value: object) -> datetime | None:
    """Parse a HubSpot date or datetime value (ISO text or epoch ms) into an aware UTC datetime.

    Returns None for an empty or unreadable value, because a bad date on one
    property must not stop the contact from being scored.
    """
    if value is None or value == "":
        return None
    text = str(value).strip()
    if _EPOCH_MS.match(text):
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def to_epoch_ms(moment: datetime) -> str:
    """Return `moment` as the epoch-milliseconds string HubSpot filters expect."""
    return str(int(moment.timestamp() * 1000))


def to_iso(moment: datetime) -> str:
    """Return `moment` as HubSpot's datetime text: `2026-10-01T15:00:00.000Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def _number(text: str) -> AnswerValue:
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def _int_or_none(value: object) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(float(str(value)))
    except ValueError:
        return None


def _truthy(value: object) -> bool:
    return str(value).strip().lower() in ("true", "yes", "1")


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _first_text(values: Mapping[str, object], names: Iterable[str]) -> str | None:
    for name in names:
        text = _text(values.get(name))
        if text:
            return text
    return None

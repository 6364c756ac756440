"""Turn a GoHighLevel contact (plus its submissions and email events) into a `Contact`.

Every contact comes out with `activity_mode=EVENTS`: GoHighLevel reports
engagement as single events (messages, submissions) that arrive once, so the
state store adds them to what it has instead of replacing its history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from connectors.base import ActivityMode, Contact, SkippedRecord, WrittenScore
from connectors.gohighlevel.config import GoHighLevelConfig
from connectors.gohighlevel.engagement import parse_time, submission_answers
from connectors.gohighlevel.fields import FieldCatalog, answer_value, number_value
from scoring.lead import Activity, AnswerValue, Lead
from scoring.mapping import FieldMapping, find_source
from scoring.result import Tier

RECORD_PATH = "/v2/location/{location_id}/contacts/detail/{contact_id}"

_TRUE_TEXT = frozenset({"true", "yes", "y", "1", "on", "checked"})


class ContactMapper:
    """Build `Contact` objects for one location from its custom field catalog and the mapping."""

    def __init__(
        self, mapping: FieldMapping, catalog: FieldCatalog, config: GoHighLevelConfig
    ) -> None:
        self.mapping = mapping
        self.catalog = catalog
        self.config = config
        self._excluded_tags = {tag.lower() for tag in config.excluded_tags}
        self._tier_by_label = {label.lower(): tier for tier, label in config.tier_labels.items()}

    def source_values(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Return the contact's values under every name a mapping may use.

        Standard fields keep their API names (`firstName`, `dnd`); custom
        fields appear under their key, short key and display name.
        """
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key != "customFields" and not isinstance(value, dict):
                values[key] = value
        first, last = raw.get("firstName"), raw.get("lastName")
        full = " ".join(part for part in (first, last) if part)
        if full:
            values.setdefault("fullName", full)
        for field_id, value in self.catalog.values_of(raw).items():
            field = self.catalog.by_id.get(field_id)
            if field is None:
                continue  # a field the location deleted or the catalog has not seen yet
            for name in field.source_names:
                values.setdefault(name, value)
        return values

    def to_contact(
        self,
        raw: Mapping[str, Any],
        *,
        submissions: Sequence[Mapping[str, Any]] = (),
        activities: Iterable[Activity] = (),
    ) -> Contact | SkippedRecord:
        """Map one contact; a bad value gives a `SkippedRecord` naming the field and value."""
        contact_id = raw.get("id")
        if not contact_id:
            return SkippedRecord(reason="contact has no id", field="id")
        contact_id = str(contact_id)
        try:
            created_at = parse_time(raw.get("dateAdded"))
            modified_at = parse_time(raw.get("dateUpdated"))
        except (TypeError, ValueError) as exc:
            return SkippedRecord(
                reason=f"contact date is not ISO-8601: {exc}",
                record_id=contact_id,
                field="dateAdded/dateUpdated",
                value=str(raw.get("dateUpdated") or raw.get("dateAdded")),
            )

        values = self.source_values(raw)
        # Answers from submissions fill what the contact's own fields leave
        # empty; the newest submission wins.
        submitted: dict[str, Any] = {}
        for submission in sorted(submissions, key=lambda s: str(s.get("createdAt")), reverse=True):
            for name, value in submission_answers(submission, self.catalog).items():
                submitted.setdefault(name, value)

        answers = {
            key: self._lookup(names, values, submitted)
            for key, names in self.mapping.answers.items()
        }
        attributes = {
            key: self._lookup(names, values, submitted)
            for key, names in self.mapping.attributes.items()
        }
        try:
            lead = Lead(
                id=contact_id,
                created_at=created_at,
                answers={k: v for k, v in answers.items() if v is not None},
                attributes={k: v for k, v in attributes.items() if v is not None},
                tags=self._tags(raw),
                activities=(*self._mapped_activities(values), *activities),
                do_not_contact=self._do_not_contact(raw, values),
                unsubscribed=self._unsubscribed(raw, values),
            )
        except (TypeError, ValueError) as exc:
            return SkippedRecord(reason=f"contact facts are invalid: {exc}", record_id=contact_id)

        return Contact(
            lead=lead,
            name=values.get("fullName") or raw.get("contactName") or raw.get("name"),
            email=raw.get("email"),
            phone=raw.get("phone"),
            owner_id=raw.get("assignedTo"),
            record_url=self.record_url(contact_id),
            modified_at=modified_at,
            written=self.written_score(raw),
            activity_mode=ActivityMode.EVENTS,
            facts_complete=True,
            raw=dict(raw),
        )

    def record_url(self, contact_id: str) -> str:
        path = RECORD_PATH.format(location_id=self.config.location_id, contact_id=contact_id)
        return self.config.app_url.rstrip("/") + path

    def events_only(self, contact_id: str, activities: Iterable[Activity]) -> Contact:
        """Build an engagement-only update: the store keeps the contact's other facts."""
        return Contact(
            lead=Lead(id=contact_id, activities=tuple(activities)),
            record_url=self.record_url(contact_id),
            activity_mode=ActivityMode.EVENTS,
            facts_complete=False,
        )

    def written_score(self, raw: Mapping[str, Any]) -> WrittenScore | None:
        """Return the score values the contact's worker fields hold, or None when all are empty."""
        stored = self.catalog.values_of(raw)
        found: dict[str, Any] = {}
        for name, key in self.config.score_fields.items():
            field = self.catalog.by_key.get(key)
            if field is not None and field.id in stored:
                found[name] = stored[field.id]
        tier_label = found.get("tier")
        written = WrittenScore(
            score=number_value(found.get("score")),
            fit=number_value(found.get("fit")),
            intent=number_value(found.get("intent")),
            tier=self._tier_by_label.get(str(tier_label).lower()) if tier_label else None,
        )
        if written == WrittenScore():
            return None
        return written

    def tier_label(self, tier: Tier) -> str:
        return self.config.tier_labels.get(tier, tier.value)

    # -- helpers -------------------------------------------------------------

    def _lookup(
        self, names: Sequence[str], values: Mapping[str, Any], submitted: Mapping[str, Any]
    ) -> AnswerValue:
        source = find_source(names, values)
        if source is not None:
            value = answer_value(self.catalog.find(source), values[source])
            if value is not None:
                return value
        source = find_source(names, submitted)
        if source is not None:
            return answer_value(self.catalog.find(source), submitted[source])
        return None

    def _tags(self, raw: Mapping[str, Any]) -> frozenset[str]:
        tags = raw.get("tags") or ()
        if isinstance(tags, str):
            tags = tags.split(self.mapping.tag_separator)
        return frozenset(
            str(tag).strip()
            for tag in tags
            if str(tag).strip() and str(tag).strip().lower() not in self._excluded_tags
        )

    def _do_not_contact(self, raw: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
        if raw.get("dnd") is True:
            return True
        source = find_source(self.mapping.do_not_contact, values)
        return source is not None and _truthy(values[source])

    def _unsubscribed(self, raw: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
        settings = raw.get("dndSettings")
        if isinstance(settings, Mapping):
            email = settings.get("Email")
            if isinstance(email, Mapping) and email.get("status") == "active":
                return True
        source = find_source(self.mapping.unsubscribed, values)
        return source is not None and _truthy(values[source])

    def _mapped_activities(self, values: Mapping[str, Any]) -> list[Activity]:
        # NOTE: counters in custom fields are read as events; when a counter
        # changes, the store keeps the old value as a separate event too.
        activities = []
        for kind, source in self.mapping.activities.items():
            count_name = find_source(source.count, values)
            last_name = find_source(source.last_at, values)
            count = number_value(values[count_name]) if count_name else None
            try:
                last_at = parse_time(values[last_name]) if last_name else None
            except (TypeError, ValueError):
                last_at = None
            if not count and last_at is None:
                continue
            activities.append(
                Activity(kind, count=count if count is not None else 1, last_at=last_at)
            )
        return activities


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, list | tuple):
        return bool(value)
    return str(value).strip().lower() in _TRUE_TEXT

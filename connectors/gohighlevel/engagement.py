"""Form and survey submissions and email messages, turned into answers and activities.

Submissions keep answers in `others`, keyed by the standard field's name or by
the custom field's id. Email messages report one status each (delivered,
opened, clicked, failed, ...); an inbound email is a reply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.gohighlevel import constants
from connectors.gohighlevel.fields import FieldCatalog
from scoring.lead import Activity, ActivityKind

# Keys of `others` that describe the submission itself, not an answer.
SUBMISSION_META_KEYS = frozenset(
    {"eventData", "fieldsOriSequance", "fieldsOriSequence", "ip", "timezone"}
)

# Message statuses that imply the email was opened, clicked or never arrived.
_OPENED = frozenset({"opened", "read", "clicked"})
_CLICKED = frozenset({"clicked"})
_BOUNCED = frozenset({"failed", "undelivered"})


def parse_time(value: Any) -> datetime | None:
    """Parse GoHighLevel's ISO-8601 times (`2026-12-04T10:00:00.000Z`) or epoch milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    text = str(value).strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def submission_answers(submission: Mapping[str, Any], catalog: FieldCatalog) -> dict[str, Any]:
    """Return a submission's answers under every name a mapping may use for them.

    A custom field id key is stored under the field's key, short key and name.
    """
    others = submission.get("others")
    if not isinstance(others, Mapping):
        return {}
    answers: dict[str, Any] = {}
    for key, value in others.items():
        if key in SUBMISSION_META_KEYS or value is None or value == "":
            continue
        field = catalog.by_id.get(key)
        if field is not None:
            for name in field.source_names:
                answers.setdefault(name, value)
        else:
            answers.setdefault(str(key), value)
    return answers


def submission_activity(submission: Mapping[str, Any], kind: str) -> Activity | None:
    created = parse_time(submission.get("createdAt"))
    if created is None:
        return None
    form_id = submission.get("formId") or submission.get("surveyId") or ""
    return Activity(
        ActivityKind.FORM_SUBMISSION,
        last_at=created,
        detail=f"{kind}:{form_id}:{submission.get('id', '')}",
    )


def message_activities(message: Mapping[str, Any]) -> list[Activity]:
    """Return the engagement one email message shows; `detail` is the message id.

    Re-reading an unchanged message gives equal activities, so the state
    store drops them as duplicates.
    """
    if message.get("messageType") not in constants.EMAIL_MESSAGE_TYPES:
        return []
    message_id = str(message.get("id") or "")
    added = parse_time(message.get("dateAdded"))
    updated = parse_time(message.get("dateUpdated")) or added
    status = str(message.get("status") or "")
    if added is None:
        return []
    if message.get("direction") == "inbound":
        return [Activity(ActivityKind.REPLY, last_at=added, detail=message_id)]

    activities = [Activity(ActivityKind.EMAIL_SENT, last_at=added, detail=message_id)]
    if message.get("source") == "app":
        # A person at the spa wrote this email by hand.
        activities.append(Activity(ActivityKind.OUTREACH, last_at=added, detail=message_id))
    # NOTE: a message has one status and one dateUpdated, so an open seen
    # first as "opened" and later as "clicked" is read again with the click
    # time (the sync keeps the first, by message id), and an open first seen
    # as "clicked" gets the click time.
    if status in _OPENED:
        activities.append(Activity(ActivityKind.EMAIL_OPEN, last_at=updated, detail=message_id))
    if status in _CLICKED:
        activities.append(Activity(ActivityKind.EMAIL_CLICK, last_at=updated, detail=message_id))
    if status in _BOUNCED:
        activities.append(Activity(ActivityKind.EMAIL_BOUNCE, last_at=updated, detail=message_id))
    return activities


def group_by_contact(records: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        contact_id = record.get("contactId")
        if contact_id:
            grouped.setdefault(str(contact_id), []).append(record)
    return grouped

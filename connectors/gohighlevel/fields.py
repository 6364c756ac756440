"""Custom field definitions of one location, and the values the worker reads and writes.

Contact reads carry custom fields as `{id, value}` only, so the connector lists
the location's definitions once (`GET /locations/{id}/customFields`) and maps
keys such as `contact.timeline` and names such as `Timeline` to ids.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.errors import DataShapeError
from connectors.gohighlevel import constants
from scoring.lead import AnswerValue
from scoring.mapping import normalize_source_name

CONTACT_KEY_PREFIX = "contact."


@dataclass(frozen=True, slots=True)
class CustomField:
    """One custom field definition: id, key (`contact.lead_score`), name and data type."""

    id: str
    key: str
    name: str
    data_type: str
    options: tuple[str, ...] = ()

    @property
    def short_key(self) -> str:
        """Return the key without its `contact.` prefix: `lead_score`."""
        return self.key.removeprefix(CONTACT_KEY_PREFIX)

    @property
    def source_names(self) -> tuple[str, ...]:
        """Return the names a mapping may use for this field: key, short key and display name."""
        return (self.key, self.short_key, self.name)


class FieldCatalog:
    """A location's custom field definitions, looked up by id, key or display name."""

    def __init__(self, fields: Iterable[CustomField]) -> None:
        self.fields = tuple(fields)
        self.by_id = {item.id: item for item in self.fields}
        self.by_key = {item.key: item for item in self.fields}
        self._by_folded: dict[str, CustomField] = {}
        for item in self.fields:
            for name in item.source_names:
                self._by_folded.setdefault(normalize_source_name(name), item)

    @classmethod
    def from_response(cls, body: Any) -> FieldCatalog:
        items = body.get("customFields") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise DataShapeError(
                "custom field list has no `customFields` array",
                crm="gohighlevel",
                endpoint="GET " + constants.CUSTOM_FIELDS,
            )
        fields = []
        for item in items:
            if not isinstance(item, dict) or not item.get("id"):
                continue
            fields.append(
                CustomField(
                    id=str(item["id"]),
                    key=str(item.get("fieldKey") or ""),
                    name=str(item.get("name") or ""),
                    data_type=str(item.get("dataType") or "TEXT"),
                    options=tuple(str(option) for option in item.get("picklistOptions") or ()),
                )
            )
        return cls(fields)

    def find(self, name: str) -> CustomField | None:
        """Return the field whose key, short key or name matches `name` (case-insensitive)."""
        if name in self.by_key:
            return self.by_key[name]
        return self._by_folded.get(normalize_source_name(name))

    def close_matches(self, name: str, limit: int = 3) -> list[str]:
        """Return up to `limit` field keys that look like `name`, best first."""
        folded = {
            normalize_source_name(key): key for item in self.fields for key in item.source_names
        }
        found = difflib.get_close_matches(
            normalize_source_name(name), list(folded), n=limit, cutoff=0.6
        )
        keys: list[str] = []
        for match in found:
            key = self.find(folded[match])
            if key is not None and key.key not in keys:
                keys.append(key.key)
        return keys

    def values_of(self, contact: Mapping[str, Any]) -> dict[str, Any]:
        """Return a contact's custom values by field id, fields the catalog lacks included."""
        values: dict[str, Any] = {}
        for item in contact.get("customFields") or ():
            if isinstance(item, dict) and item.get("id"):
                values[str(item["id"])] = item.get("value", item.get("fieldValue"))
        return values


def answer_value(field: CustomField | None, raw: Any) -> AnswerValue:
    """Turn a stored custom value into a lead answer; a multi-select becomes a tuple."""
    if raw is None or raw == "" or raw == []:
        return None
    data_type = field.data_type if field is not None else ""
    if isinstance(raw, list):
        return tuple(str(item) for item in raw)
    if data_type in constants.MULTI_VALUE_DATA_TYPES and isinstance(raw, str):
        # Some reads return a multi-select as one comma-separated string.
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if data_type in constants.NUMERIC_DATA_TYPES and isinstance(raw, str):
        try:
            number = float(raw)
        except ValueError:
            return raw
        return int(number) if number.is_integer() else number
    if isinstance(raw, bool | int | float | str):
        return raw
    return str(raw)


def number_value(raw: Any) -> int | None:
    """Read back a score stored in a numeric field (the API may return it as a string)."""
    if raw is None or raw == "" or isinstance(raw, bool):
        return None
    try:
        return round(float(raw))
    except (TypeError, ValueError):
        return None

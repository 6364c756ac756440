"""The official GoHighLevel v2 spec files the fake validates requests against, with fixes.

The spec is wrong or empty in places, and each patch below states where:

* `POST /contacts/search` declares a body schema with no properties. The body
  the API takes is `locationId` and `pageLimit` (both required, at most 500
  per page), `page` or a `searchAfter` cursor, `filters`, `sort` and `query`.
* The numeric and monetary custom field items type `field_value` as `object`,
  although the API takes (and its own examples show) a JSON number.
"""

from __future__ import annotations

from tests.fakes.openapi import OpenApiValidator, Patch, load_validator

SPEC_DIR = "ghl"
SPEC_FILES = tuple(
    f"v2-2021-07-28/apps/{name}.json"
    for name in (
        "contacts",
        "locations",
        "opportunities",
        "forms",
        "surveys",
        "conversations",
        "calendars",
        "oauth",
        "workflows",
    )
)

_FILTER = {
    "type": "object",
    "properties": {
        "field": {"type": "string"},
        "operator": {
            "type": "string",
            "enum": ["eq", "not_eq", "contains", "not_contains", "exists", "not_exists", "range"],
        },
        "value": {},
        "group": {"type": "string", "enum": ["AND", "OR"]},
        "filters": {"type": "array"},
    },
}

SEARCH_BODY = {
    "type": "object",
    "properties": {
        "locationId": {"type": "string", "minLength": 1},
        "pageLimit": {"type": "integer", "minimum": 1, "maximum": 500},
        "page": {"type": "integer", "minimum": 1},
        "searchAfter": {"type": "array", "minItems": 1},
        "query": {"type": "string", "maxLength": 75},
        "filters": {"type": "array", "items": _FILTER},
        "sort": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "direction": {"type": "string", "enum": ["asc", "desc"]},
                },
                "required": ["field", "direction"],
            },
        },
    },
    "required": ["locationId", "pageLimit"],
    "additionalProperties": False,
}

PATCHES = (
    Patch("/components/schemas/SearchBodyV2DTO", value=SEARCH_BODY, file="contacts.json"),
    Patch(
        "/components/schemas/NumericField/properties/field_value",
        value={"type": "number"},
        file="contacts.json",
    ),
    Patch(
        "/components/schemas/MonetoryField/properties/field_value",
        value={"type": "number"},
        file="contacts.json",
    ),
)


def load_ghl_validator() -> OpenApiValidator | None:
    """Return a validator for the GoHighLevel v2 spec, or None when the spec files are absent."""
    return load_validator(SPEC_DIR, SPEC_FILES, patches=PATCHES)

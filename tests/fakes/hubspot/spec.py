"""The official HubSpot specs, corrected where they disagree with the live API.

The corrections, each a fact about the live API that the spec files get wrong:

* search `sorts` are objects `{propertyName, direction}`, not strings; a
  string sort is silently ignored by HubSpot;
* `required` lists come from non-null Java fields and are stricter than the
  API: search needs none of its fields, batch read needs only `inputs`, create
  needs only `properties`, an enumeration option needs only label and value;
* no `maxItems` is declared, but object batches take at most 100 inputs,
  association batch reads 1,000, search pages 200 records, and search at most
  5 filter groups of 6 filters;
* deal paths are documented as `/crm/v3/objects/0-3/...`; the API accepts
  `/crm/v3/objects/deals/...` as the same endpoint.
"""

from __future__ import annotations

from functools import cache

from tests.fakes.openapi import OpenApiValidator, Patch, load_validator

SPEC_FILES = (
    "contacts.json",
    "deals.json",
    "tasks.json",
    "properties.json",
    "associations.json",
    "pipelines.json",
    "crmOwners.json",
    "oauth.json",
)

SEARCH_SORT = {
    "type": "object",
    "required": ["propertyName"],
    "properties": {
        "propertyName": {"type": "string"},
        "direction": {"type": "string", "enum": ["ASCENDING", "DESCENDING"]},
    },
    "additionalProperties": False,
}

PATCHES = (
    Patch(
        "/components/schemas/PublicObjectSearchRequest/properties/sorts/items", value=SEARCH_SORT
    ),
    Patch("/components/schemas/PublicObjectSearchRequest/properties/sorts/maxItems", value=1),
    Patch("/components/schemas/PublicObjectSearchRequest/required", value=[]),
    Patch("/components/schemas/PublicObjectSearchRequest/properties/limit/maximum", value=200),
    Patch(
        "/components/schemas/PublicObjectSearchRequest/properties/filterGroups/maxItems", value=5
    ),
    Patch("/components/schemas/FilterGroup/properties/filters/maxItems", value=6),
    Patch("/components/schemas/BatchReadInputSimplePublicObjectId/required", value=["inputs"]),
    Patch(
        "/components/schemas/BatchReadInputSimplePublicObjectId/properties/inputs/maxItems",
        value=100,
    ),
    Patch("/components/schemas/SimplePublicObjectInputForCreate/required", value=["properties"]),
    Patch(
        "/components/schemas/BatchInputSimplePublicObjectBatchInput/properties/inputs/maxItems",
        value=100,
    ),
    Patch("/components/schemas/OptionInput/required", value=["label", "value"]),
    Patch(
        "/components/schemas/BatchInputPublicFetchAssociationsBatchRequest/properties/inputs/maxItems",
        value=1000,
        file="associations.json",
    ),
)

PATH_ALIASES = ((r"^/crm/v3/objects/deals(?=/|$)", "/crm/v3/objects/0-3"),)


@cache
def hubspot_validator() -> OpenApiValidator | None:
    """Return the patched HubSpot validator, or None when the specs are absent."""
    return load_validator("hubspot", SPEC_FILES, patches=PATCHES, path_aliases=PATH_ALIASES)

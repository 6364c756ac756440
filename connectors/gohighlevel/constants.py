"""Facts about the GoHighLevel (LeadConnector v2) API that the connector relies on.

Sources: the official OpenAPI files of GoHighLevel/highlevel-api-docs (v2,
2021-07-28 set); for rate limits and their headers, the help article
"HighLevel API" (help.gohighlevel.com, article 48001060529, 2025-08-28) and
the OAuth FAQ at marketplace.gohighlevel.com/docs/oauth/Faqs.
"""

from __future__ import annotations

from datetime import timedelta

DEFAULT_BASE_URL = "https://services.leadconnectorhq.com"

# The `Version` header each endpoint group declares in the v2 spec.
VERSION_DEFAULT = "2021-07-28"
VERSION_CONVERSATIONS_CALENDARS = "2021-04-15"

# Endpoints (paths relative to the base URL).
OAUTH_TOKEN = "/oauth/token"
CONTACTS_SEARCH = "/contacts/search"
CONTACT = "/contacts/{contact_id}"
CONTACT_TAGS = "/contacts/{contact_id}/tags"
CONTACT_TASKS = "/contacts/{contact_id}/tasks"
CONTACT_WORKFLOW = "/contacts/{contact_id}/workflow/{workflow_id}"
CUSTOM_FIELDS = "/locations/{location_id}/customFields"
PIPELINES = "/opportunities/pipelines"
OPPORTUNITIES_SEARCH = "/opportunities/search"
OPPORTUNITIES = "/opportunities/"
OPPORTUNITY = "/opportunities/{opportunity_id}"
FORM_SUBMISSIONS = "/forms/submissions"
SURVEY_SUBMISSIONS = "/surveys/submissions"
MESSAGES_EXPORT = "/conversations/messages/export"
CALENDARS = "/calendars/"
CALENDAR_EVENTS = "/calendars/events"
WORKFLOWS = "/workflows/"

# The scope each endpoint needs, for error messages and `doctor`.
ENDPOINT_SCOPES: dict[str, str] = {
    CONTACTS_SEARCH: "contacts.readonly",
    CONTACT: "contacts.readonly",
    "PUT " + CONTACT: "contacts.write",
    CONTACT_TAGS: "contacts.write",
    CONTACT_TASKS: "contacts.write",
    "GET " + CONTACT_TASKS: "contacts.readonly",
    CONTACT_WORKFLOW: "contacts.write",
    CUSTOM_FIELDS: "locations/customFields.readonly",
    "POST " + CUSTOM_FIELDS: "locations/customFields.write",
    PIPELINES: "opportunities.readonly",
    OPPORTUNITIES_SEARCH: "opportunities.readonly",
    OPPORTUNITIES: "opportunities.write",
    OPPORTUNITY: "opportunities.write",
    FORM_SUBMISSIONS: "forms.readonly",
    SURVEY_SUBMISSIONS: "surveys.readonly",
    MESSAGES_EXPORT: "conversations/message.readonly",
    CALENDARS: "calendars.readonly",
    CALENDAR_EVENTS: "calendars/events.readonly",
    WORKFLOWS: "workflows.readonly",
}

# Contact search returns at most 500 contacts per page. Page numbers reach only
# the first 10,000 records, and the `searchAfter` cursor of a record continues beyond.
SEARCH_PAGE_LIMIT = 500
SEARCH_RESULT_WINDOW = 10_000

SUBMISSIONS_PAGE_LIMIT = 100  # forms and surveys: max `limit`
OPPORTUNITIES_PAGE_LIMIT = 100  # opportunity search: max `limit`
MESSAGES_EXPORT_LIMIT = 500  # messages export: `limit` is 10 to 500

# Rate limits per location (and per app): 100 requests per 10 s, 200,000 per day.
BURST_LIMIT = 100
BURST_INTERVAL_SECONDS = 10.0
DAILY_LIMIT = 200_000

# Rate-limit response headers.
HEADER_REMAINING = "X-RateLimit-Remaining"
HEADER_MAX = "X-RateLimit-Max"
HEADER_INTERVAL_MS = "X-RateLimit-Interval-Milliseconds"
HEADER_DAILY_REMAINING = "X-RateLimit-Daily-Remaining"
HEADER_DAILY_LIMIT = "X-RateLimit-Limit-Daily"

# Messages of these types are emails (the export endpoint's `channel=Email`).
EMAIL_MESSAGE_TYPES = frozenset(
    {"TYPE_EMAIL", "TYPE_CAMPAIGN_EMAIL", "TYPE_CUSTOM_EMAIL", "TYPE_CUSTOM_PROVIDER_EMAIL"}
)

# Error messages GoHighLevel sends for a token that works but may not call
# this endpoint or reach this location. Neither is fixed by a refresh.
SCOPE_ERROR_TEXT = "not authorized for this scope"
LOCATION_ERROR_TEXT = "does not have access to this location"

# Opportunity statuses; only open ones are moved by tier.
OPEN_STATUS = "open"
CLOSED_STATUSES = frozenset({"won", "lost", "abandoned"})

# Refresh an OAuth access token this long before it expires.
TOKEN_REFRESH_MARGIN = timedelta(seconds=60)

# Custom field data types the worker creates.
DATA_TYPE_NUMBER = "NUMERICAL"
DATA_TYPE_SINGLE_OPTION = "SINGLE_OPTIONS"
DATA_TYPE_LARGE_TEXT = "LARGE_TEXT"
NUMERIC_DATA_TYPES = frozenset({"NUMERICAL", "MONETORY"})
MULTI_VALUE_DATA_TYPES = frozenset({"MULTIPLE_OPTIONS", "CHECKBOX"})

"""A GoHighLevel location set up like a med spa's intake form, for end-to-end tests."""

from __future__ import annotations

from tests.fakes.gohighlevel.state import FakeState

TIMELINE_OPTIONS = ("This week", "Within a month", "Just researching")


def add_med_spa_location(state: FakeState, location_id: str, token: str) -> None:
    """Add a location, a private integration token for it, and four intake-form fields.

    The fields have the keys `contact.timeline` (a dropdown of
    `TIMELINE_OPTIONS`), `contact.budget`, `contact.treatment` and `contact.age`.
    """
    state.add_location(location_id)
    state.issue_token(location_id, value=token)
    state.add_custom_field(
        location_id,
        "How soon are you looking to book?",
        "SINGLE_OPTIONS",
        options=list(TIMELINE_OPTIONS),
        field_key="contact.timeline",
    )
    state.add_custom_field(location_id, "Budget", "TEXT", field_key="contact.budget")
    state.add_custom_field(location_id, "Treatment Interest", "TEXT", field_key="contact.treatment")
    state.add_custom_field(location_id, "Age", "TEXT", field_key="contact.age")

"""The field-name lists in `scoring.mapping` that readers walk, checked against the models."""

from __future__ import annotations

from scoring.mapping import ACTIVITY_PARTS, CONTACT_FACTS, ActivitySource, FieldMapping


def test_contact_facts_name_every_source_list_of_mapping():
    source_lists = {
        name
        for name, info in FieldMapping.model_fields.items()
        if info.annotation == tuple[str, ...]
    }
    assert set(CONTACT_FACTS) | {"post_outcome"} == source_lists


def test_activity_parts_name_every_activity_source_field():
    assert tuple(ActivitySource.model_fields) == ACTIVITY_PARTS


def test_mapping_turns_one_source_name_into_a_list():
    mapping = FieldMapping.model_validate(
        {
            "email": "E-mail",
            "post_outcome": "Lead Quality",
            "activities": {"reply": {"count": "Replies"}},
        }
    )
    assert mapping.email == ("E-mail",)
    assert mapping.post_outcome == ("Lead Quality",)
    assert mapping.activities["reply"].count == ("Replies",)

"""Score write-back, pipeline stages, alerts and outcomes against the fake GoHighLevel."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.base import Contact, HotLeadAlert, OutcomeKind, StageAction
from connectors.errors import ConfigurationError, TransientError
from scoring.lead import Lead
from scoring.result import Tier
from tests.gohighlevel.conftest import (
    LOCATION,
    START,
    add_pipeline,
    add_worker_fields,
    score_write,
    tier_stages,
)


@pytest.fixture
def scored_fake(fake):
    add_worker_fields(fake)
    fake.state.add_contact(LOCATION, contact_id="ct1", tags=["instagram", "vip"])
    return fake


def test_write_sends_numbers_and_never_tags(scored_fake, make_connector) -> None:
    report = make_connector().write_scores([score_write("ct1")])

    assert report.written == ("ct1",)
    assert report.failed == {}
    [put] = scored_fake.calls("PUT", "/contacts/ct1")
    assert set(put.body) == {"customFields"}
    values = {item["id"]: item["field_value"] for item in put.body["customFields"]}
    score_id = scored_fake.state.field_id(LOCATION, "contact.lead_score")
    assert values[score_id] == 84
    assert isinstance(values[score_id], int)
    assert scored_fake.state.custom_value(LOCATION, "ct1", "contact.lead_tier") == "Hot"
    assert scored_fake.state.locations[LOCATION].contacts["ct1"]["tags"] == ["instagram", "vip"]
    assert report.modified_at["ct1"] == START


def test_write_uses_configured_value_key(scored_fake, make_connector) -> None:
    make_connector(custom_field_value_key="fieldValue").write_scores([score_write("ct1")])

    [put] = scored_fake.calls("PUT", "/contacts/ct1")
    assert all(
        "fieldValue" in item and "field_value" not in item for item in put.body["customFields"]
    )


def test_write_skips_contact_whose_values_are_unchanged(scored_fake, make_connector) -> None:
    connector = make_connector()
    connector.write_scores([score_write("ct1")])
    list(connector.pull_all())
    calls_before = len(scored_fake.requests)

    report = connector.write_scores([score_write("ct1")])

    assert report.written == ("ct1",)
    assert report.calls == 0
    assert len(scored_fake.requests) == calls_before


def test_write_sends_only_changed_fields(scored_fake, make_connector) -> None:
    connector = make_connector()
    connector.write_scores([score_write("ct1", score=84)])

    connector.write_scores([score_write("ct1", score=86)])

    last_put = scored_fake.calls("PUT", "/contacts/ct1")[-1]
    score_id = scored_fake.state.field_id(LOCATION, "contact.lead_score")
    assert last_put.body["customFields"] == [{"id": score_id, "field_value": 86}]


def test_first_write_read_back_catches_dropped_values(scored_fake, make_connector) -> None:
    scored_fake.accepted_value_keys = {"fieldValue"}

    with pytest.raises(ConfigurationError, match="custom_field_value_key to 'fieldValue'"):
        make_connector().write_scores([score_write("ct1")])


def test_first_write_is_read_back_once(scored_fake, make_connector) -> None:
    scored_fake.state.add_contact(LOCATION, contact_id="ct2")
    connector = make_connector()

    connector.write_scores([score_write("ct1"), score_write("ct2")])

    assert len(scored_fake.calls("GET", "/contacts/ct1$")) == 1
    assert scored_fake.calls("GET", "/contacts/ct2$") == []


def test_422_with_message_list_fails_one_contact_only(scored_fake, make_connector) -> None:
    scored_fake.state.add_contact(LOCATION, contact_id="ct2")
    scored_fake.fail_next(
        "/contacts/ct1$",
        422,
        {
            "statusCode": 422,
            "message": ["customFields.0.field_value must be a number", "email must be an email"],
            "error": "Unprocessable Entity",
        },
        method="PUT",
    )

    report = make_connector().write_scores([score_write("ct1"), score_write("ct2")])

    assert report.written == ("ct2",)
    assert "must be a number; email must be an email" in report.failed["ct1"]
    assert "HTTP 422" in report.failed["ct1"]


def test_write_without_score_fields_asks_for_setup(fake, make_connector) -> None:
    fake.state.add_contact(LOCATION, contact_id="ct1")

    with pytest.raises(ConfigurationError, match="leadscore setup"):
        make_connector().write_scores([score_write("ct1")])


# -- pipeline stages ----------------------------------------------------------------


def _contact(contact_id: str = "ct1") -> Contact:
    return Contact(lead=Lead(id=contact_id), name="Ana Silva")


@pytest.mark.parametrize(
    ("existing_stage", "status", "tier", "action", "final_stage"),
    [
        (None, None, Tier.HOT, StageAction.CREATED, "Hot"),
        ("Warm", "open", Tier.HOT, StageAction.MOVED, "Hot"),
        ("Hot", "open", Tier.HOT, StageAction.UNCHANGED, "Hot"),
        ("Warm", "won", Tier.HOT, StageAction.KEPT_STAFF_STAGE, "Warm"),
        ("Warm", "lost", Tier.COLD, StageAction.KEPT_STAFF_STAGE, "Warm"),
        ("Warm", "abandoned", Tier.HOT, StageAction.KEPT_STAFF_STAGE, "Warm"),
        ("Booked", "open", Tier.COLD, StageAction.KEPT_STAFF_STAGE, "Booked"),
        ("Warm", "open", Tier.DISQUALIFIED, StageAction.NOT_CONFIGURED, "Warm"),
    ],
    ids=[
        "creates-when-missing",
        "moves-open-by-tier",
        "same-stage-unchanged",
        "won-left-alone",
        "lost-left-alone",
        "abandoned-left-alone",
        "unmapped-stage-left-alone",
        "tier-without-stage",
    ],
)
def test_move_stage(
    fake, make_connector, existing_stage, status, tier, action, final_stage
) -> None:
    fake.state.add_contact(LOCATION, contact_id="ct1")
    pipeline_id, stages = add_pipeline(fake)
    if existing_stage:
        fake.state.add_opportunity(
            LOCATION, "ct1", pipeline_id, stages[existing_stage], status=status
        )
    connector = make_connector(pipeline_id=pipeline_id, stage_ids=tier_stages(stages))

    result = connector.move_stage(_contact(), tier)

    assert result.action is action
    [opportunity] = fake.state.locations[LOCATION].opportunities.values()
    assert opportunity["pipelineStageId"] == stages[final_stage]
    search = fake.calls("GET", "/opportunities/search")
    if action is not StageAction.NOT_CONFIGURED:
        assert search[0].query["location_id"] == LOCATION
        assert search[0].query["contact_id"] == "ct1"


def test_move_stage_twice_creates_one_opportunity(fake, make_connector) -> None:
    fake.state.add_contact(LOCATION, contact_id="ct1")
    pipeline_id, stages = add_pipeline(fake)
    connector = make_connector(pipeline_id=pipeline_id, stage_ids=tier_stages(stages))

    first = connector.move_stage(_contact(), Tier.WARM)
    second = connector.move_stage(_contact(), Tier.HOT)

    assert (first.action, second.action) == (StageAction.CREATED, StageAction.MOVED)
    assert len(fake.state.locations[LOCATION].opportunities) == 1


# -- alerts ---------------------------------------------------------------------------


def _alert() -> HotLeadAlert:
    return HotLeadAlert(
        account=LOCATION,
        contact_id="ct1",
        score=88,
        tier=Tier.HOT,
        reasons=('timeline "This week" → +30',),
        name="Ana Silva",
        treatment="Botox",
    )


def test_alert_adds_tag_task_and_workflow_once(fake, make_connector) -> None:
    fake.state.add_contact(LOCATION, contact_id="ct1", tags=["instagram"])
    workflow = fake.state.add_workflow(LOCATION)
    connector = make_connector(
        alert_task=True, task_assignee="user-7", alert_workflow_id=workflow["id"]
    )

    first = connector.create_alert(_alert(), "alert-ct1-1")
    second = connector.create_alert(_alert(), "alert-ct1-1")

    location = fake.state.locations[LOCATION]
    assert location.contacts["ct1"]["tags"] == ["instagram", "lead-tier-hot"]
    [task] = location.tasks["ct1"]
    assert task["assignedTo"] == "user-7"
    assert task["completed"] is False
    assert "[leadscore:alert-ct1-1]" in task["body"]
    assert task["dueDate"] == "2026-12-04T12:15:00.000Z"
    assert first == second == f"task:{task['id']}"
    assert location.enrolments == [("ct1", workflow["id"])]


def test_alert_with_tag_only_returns_tag(fake, make_connector) -> None:
    fake.state.add_contact(LOCATION, contact_id="ct1")

    result = make_connector().create_alert(_alert(), "k1")

    assert result == "tag:lead-tier-hot"
    assert fake.calls("GET", "/contacts/ct1/tasks") == []


# -- outcomes -------------------------------------------------------------------------


def test_outcomes_from_appointments_and_opportunities(fake, make_connector) -> None:
    for contact_id in ("booked", "showed", "noshow", "won", "old"):
        fake.state.add_contact(LOCATION, contact_id=contact_id)
    calendar = fake.state.add_calendar(LOCATION)
    since = START - timedelta(days=7)
    fake.state.add_appointment(
        LOCATION,
        calendar["id"],
        "booked",
        start=START + timedelta(days=3),
        added_at=START - timedelta(days=1),
    )
    fake.state.add_appointment(
        LOCATION,
        calendar["id"],
        "showed",
        start=START - timedelta(days=2),
        status="showed",
        added_at=START - timedelta(days=20),
    )
    fake.state.add_appointment(
        LOCATION,
        calendar["id"],
        "noshow",
        start=START - timedelta(days=1),
        status="noshow",
        added_at=START - timedelta(days=20),
    )
    pipeline_id, stages = add_pipeline(fake)
    fake.state.add_opportunity(
        LOCATION,
        "won",
        pipeline_id,
        stages["Booked"],
        status="won",
        changed_at=START - timedelta(days=1),
    )
    fake.state.add_opportunity(
        LOCATION,
        "old",
        pipeline_id,
        stages["Booked"],
        status="won",
        changed_at=START - timedelta(days=30),
    )

    outcomes = list(make_connector(pipeline_id=pipeline_id).pull_outcomes(since))

    found = {(o.contact_id, o.kind, o.occurred_at) for o in outcomes}
    assert found == {
        ("booked", OutcomeKind.BOOKED, START - timedelta(days=1)),
        ("showed", OutcomeKind.SHOWED, START - timedelta(days=2)),
        ("noshow", OutcomeKind.NO_SHOW, START - timedelta(days=1)),
        ("won", OutcomeKind.WON, START - timedelta(days=1)),
    }
    [events] = fake.calls("GET", "/calendars/events")
    assert events.query["calendarId"] == calendar["id"]
    assert events.headers["version"] == "2021-04-15"


def test_server_error_fails_one_contact_only(scored_fake, make_connector) -> None:
    scored_fake.state.add_contact(LOCATION, contact_id="ct2")
    scored_fake.fail_next("/contacts/ct1$", 503, method="PUT", times=10)

    report = make_connector().write_scores([score_write("ct1"), score_write("ct2")])

    assert report.written == ("ct2",)
    assert "HTTP 503" in report.failed["ct1"]


def test_server_errors_in_a_row_stop_the_batch(scored_fake, make_connector) -> None:
    for index in range(5):
        scored_fake.state.add_contact(LOCATION, contact_id=f"down{index}")
    scored_fake.fail_next("/contacts/down", 502, method="PUT", times=1_000)

    with pytest.raises(TransientError):
        make_connector().write_scores([score_write(f"down{index}") for index in range(5)])

    attempted = {request.path for request in scored_fake.calls("PUT")}
    assert attempted == {"/contacts/down0", "/contacts/down1", "/contacts/down2"}


def test_showed_status_set_after_last_pull_is_read(fake, make_connector) -> None:
    fake.state.add_contact(LOCATION, contact_id="late")
    calendar = fake.state.add_calendar(LOCATION)
    since = START - timedelta(hours=1)
    # The appointment started before the last pull; staff marked it showed since then.
    fake.state.add_appointment(
        LOCATION,
        calendar["id"],
        "late",
        start=START - timedelta(hours=3),
        status="showed",
        added_at=START - timedelta(days=10),
    )

    outcomes = list(make_connector().pull_outcomes(since))

    assert [(o.contact_id, o.kind) for o in outcomes] == [("late", OutcomeKind.SHOWED)]
    assert outcomes[0].occurred_at == START - timedelta(hours=3)

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from connectors.base import HotLeadAlert
from jobs.alerts.message import (
    AlertNotice,
    alert_from_json,
    alert_to_json,
    build_hot_lead_alert,
    format_local_time,
    render_chat_payload,
    render_html,
    render_text,
    subject,
)
from scoring.lead import Activity, ActivityKind, Lead
from scoring.result import Tier
from tests.alerts.conftest import ACCOUNT, ModelStub, make_contact, make_score

NEW_YORK = ZoneInfo("America/New_York")


def lead_alert(contact_id="101", score=88, **changes) -> HotLeadAlert:
    values = {
        "account": ACCOUNT,
        "contact_id": contact_id,
        "score": score,
        "tier": Tier.HOT,
        "reasons": ('timeline "This week" → +30', 'budget "$1,000+" → +20'),
        "name": "Jane Doe",
        "email": "jane.doe@example.com",
        "phone": "+1 415 555 0134",
        "treatment": "Botox",
        "inquired_at": datetime(2026, 7, 1, 13, 30, tzinfo=UTC),
        "record_url": "https://app.hubspot.com/contacts/1234567/record/0-1/101",
        "previous_score": 62,
    } | changes
    return HotLeadAlert(**values)


def single(alert: HotLeadAlert) -> AlertNotice:
    return AlertNotice(alert_id=7, account=ACCOUNT, leads=(alert,), alert_ids=(7,))


def test_text_names_lead_contact_treatment_and_reasons():
    text = render_text(single(lead_alert()), NEW_YORK)
    assert text.splitlines()[0] == "Hot lead: Jane Doe for Botox, score 88"
    assert "Score: 88 (hot) (up from 62)" in text
    assert "Phone: +1 415 555 0134" in text
    assert "Email: jane.doe@example.com" in text
    assert "Treatment: Botox" in text
    assert "Inquired: Wed Jul 1, 9:30 AM EDT" in text
    assert 'Why: timeline "This week" → +30; budget "$1,000+" → +20' in text
    assert "CRM record: https://app.hubspot.com/contacts/1234567/record/0-1/101" in text


def test_missing_details_say_not_given():
    alert = lead_alert(
        name=None,
        email=None,
        phone=None,
        treatment=None,
        inquired_at=None,
        record_url=None,
        previous_score=None,
    )
    text = render_text(single(alert), NEW_YORK)
    assert text.splitlines()[0] == "Hot lead: Contact 101, score 88"
    assert "Phone: not given" in text
    assert "Inquired: unknown" in text
    assert "CRM record" not in text


def test_html_escapes_lead_supplied_text():
    alert = lead_alert(name="<script>alert(1)</script>", treatment="Botox & filler")
    body = render_html(single(alert), NEW_YORK)
    assert "<script>" not in body
    assert "&lt;script&gt;" in body
    assert "Botox &amp; filler" in body


def test_chat_payload_has_text_and_blocks_with_link():
    payload = render_chat_payload(single(lead_alert()), NEW_YORK)
    assert payload["text"].startswith("Hot lead: Jane Doe")
    header, section, context = payload["blocks"]
    assert header["type"] == "header"
    assert section["text"]["text"] == (
        "*<https://app.hubspot.com/contacts/1234567/record/0-1/101|Jane Doe>*"
    )
    assert {"type": "mrkdwn", "text": "*Phone*\n+1 415 555 0134"} in section["fields"]
    assert context["elements"][0]["text"].startswith('Why: timeline "This week"')


def test_chat_payload_escapes_mrkdwn_control_characters():
    payload = render_chat_payload(single(lead_alert(name="Ann <@U123>", record_url=None)), NEW_YORK)
    assert payload["blocks"][1]["text"]["text"] == "*Ann &lt;@U123&gt;*"


def test_digest_lists_every_lead_in_given_order():
    leads = (
        lead_alert("3", 95, name="Cara"),
        lead_alert("1", 90, name="Ann"),
        lead_alert("2", 80, name="Bea"),
    )
    notice = AlertNotice(
        alert_id=9, account=ACCOUNT, leads=leads, alert_ids=(3, 1, 2), is_digest=True
    )
    assert subject(notice) == "3 more hot leads today (top score 95)"
    text = render_text(notice, NEW_YORK)
    assert text.index("Cara") < text.index("Ann") < text.index("Bea")
    payload = render_chat_payload(notice, NEW_YORK)
    names = [block["text"]["text"] for block in payload["blocks"] if block["type"] == "section"]
    assert [name.split("|")[1].rstrip(">*") for name in names] == ["Cara", "Ann", "Bea"]


def test_digest_over_block_limit_keeps_text():
    leads = tuple(lead_alert(str(index), 80, name=f"Lead {index}") for index in range(30))
    notice = AlertNotice(
        alert_id=9, account=ACCOUNT, leads=leads, alert_ids=tuple(range(30)), is_digest=True
    )
    payload = render_chat_payload(notice, NEW_YORK)
    assert len(payload["blocks"]) == 50
    assert "Lead 29" in payload["text"]


def test_alert_json_round_trip():
    alert = lead_alert()
    assert alert_from_json(alert_to_json(alert)) == alert


def test_build_alert_reads_treatment_field_and_latest_form():
    latest = datetime(2026, 3, 3, 18, 0, tzinfo=UTC)
    lead = Lead(
        id="55",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        answers={"service_interest": ("Botox", "Lip filler")},
        activities=(
            Activity(ActivityKind.FORM_SUBMISSION, last_at=datetime(2026, 2, 1, tzinfo=UTC)),
            Activity(ActivityKind.FORM_SUBMISSION, last_at=latest),
        ),
    )
    contact = make_contact("55")
    contact = type(contact)(lead=lead, name="Ann", email=None, phone="555-0101")
    alert = build_hot_lead_alert(
        account=ACCOUNT,
        contact=contact,
        previous=make_score(70, "55"),
        current=make_score(81, "55"),
        model=ModelStub(treatment_field="service_interest"),
    )
    assert alert.treatment == "Botox, Lip filler"
    assert alert.inquired_at == latest
    assert alert.previous_score == 70
    assert len(alert.reasons) == 3


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 3, 8, 6, 59, tzinfo=UTC), "Sun Mar 8, 1:59 AM EST"),
        (datetime(2026, 3, 8, 7, 0, tzinfo=UTC), "Sun Mar 8, 3:00 AM EDT"),
        (datetime(2026, 12, 24, 17, 0, tzinfo=UTC), "Thu Dec 24, 12:00 PM EST"),
    ],
    ids=["before-dst", "after-dst", "noon"],
)
def test_local_time_format(moment, expected):
    assert format_local_time(moment, NEW_YORK) == expected

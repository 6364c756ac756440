"""SpreadsheetSource: rows of real-shaped exports turned into contacts."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook

from connectors.base import Contact, LeadSource, SkippedRecord
from connectors.errors import InputFileError
from connectors.spreadsheet import SpreadsheetSource
from scoring.lead import ActivityKind
from scoring.mapping import FieldMapping

SPA_MAPPING = FieldMapping(
    answers={
        "timeline": ["How soon are you looking to book?"],
        "budget": ["Budget"],
        "treatment": ["Treatment Interest"],
    },
    attributes={"source": ["Source"]},
)

GHL_HEADER = (
    '"Contact Id","First Name","Last Name","Name","Phone","Email","Created",'
    '"Last Activity","Tags","Treatment Interest","How soon are you looking to book?",'
    '"Budget","Source","Notes"'
)


def write_csv(tmp_path: Path, text: str, name: str = "leads.csv", bom: bool = True) -> Path:
    path = tmp_path / name
    data = text.replace("\n", "\r\n").encode("utf-8")
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + data)
    return path


def records(source: SpreadsheetSource) -> list[Contact | SkippedRecord]:
    return list(source.iter_records())


def test_ghl_export_row_becomes_contact(tmp_path):
    path = write_csv(
        tmp_path,
        GHL_HEADER + "\n"
        '"DPSJbZBmUDYq50sF7fwE","Ann","Lee","Ann Lee","+15125550101","ann@example.com",'
        '"2025-11-14T14:30:58.000Z","","vip, botox interest","Botox","This Week",'
        '"$500-$1,000","Facebook","called once\nleft voicemail"\n',
    )
    source = SpreadsheetSource(path, SPA_MAPPING)
    assert isinstance(source, LeadSource)
    (contact,) = records(source)
    assert isinstance(contact, Contact)
    lead = contact.lead
    assert lead.id == "DPSJbZBmUDYq50sF7fwE"
    assert lead.created_at == datetime(2025, 11, 14, 14, 30, 58, tzinfo=UTC)
    assert lead.answers == {
        "timeline": "This Week",
        "budget": "$500-$1,000",
        "treatment": "Botox",
    }
    assert lead.attributes == {"source": "Facebook"}
    assert lead.tags == {"vip", "botox interest"}
    assert contact.name == "Ann Lee"
    assert contact.email == "ann@example.com"
    assert contact.phone == "+15125550101"
    assert contact.source_row == 1
    assert contact.raw["Notes"] == "called once\r\nleft voicemail"


def test_mixed_case_headers_match_mapping(tmp_path):
    path = write_csv(
        tmp_path,
        "contact id,FIRST NAME,how soon are you looking to book,budget\nc1,ANN,This month,\n",
    )
    (contact,) = records(SpreadsheetSource(path, SPA_MAPPING))
    assert contact.lead.id == "c1"
    assert contact.lead.answers == {"timeline": "This month"}
    assert contact.name == "ANN"


def test_blank_and_placeholder_answers_are_left_out(tmp_path):
    path = write_csv(
        tmp_path,
        "Record ID,How soon are you looking to book?,Budget,Treatment Interest\n"
        "1,Select,,Not sure\n",
    )
    (contact,) = records(SpreadsheetSource(path, SPA_MAPPING))
    assert contact.lead.answers == {"treatment": "Not sure"}


def test_hubspot_engagement_columns_become_activities(tmp_path):
    path = write_csv(
        tmp_path,
        '"Record ID","Create Date","Marketing emails opened","Last marketing email open date",'
        '"Number of Pageviews","Last Page Seen","Number of Form Submissions",'
        '"Recent Sales Email Replied Date","Marketing emails clicked","Budget"\n'
        '"123456789012","2025-11-10 09:15","4","2025-11-13 18:02","12",'
        '"https://spa.example/pricing","1","3/15/2024 2:30 PM","0","$300"\n',
    )
    (contact,) = records(SpreadsheetSource(path, SPA_MAPPING))
    activities = {activity.kind: activity for activity in contact.lead.activities}
    assert set(activities) == {
        ActivityKind.EMAIL_OPEN,
        ActivityKind.PAGE_VIEW,
        ActivityKind.FORM_SUBMISSION,
        ActivityKind.REPLY,
    }
    assert activities[ActivityKind.EMAIL_OPEN].count == 4
    assert activities[ActivityKind.EMAIL_OPEN].last_at == datetime(2025, 11, 13, 18, 2, tzinfo=UTC)
    assert activities[ActivityKind.PAGE_VIEW].url == "https://spa.example/pricing"
    assert activities[ActivityKind.REPLY].count == 1
    assert activities[ActivityKind.REPLY].last_at == datetime(2024, 3, 15, 14, 30, tzinfo=UTC)


def test_model_activity_mapping_replaces_default(tmp_path):
    mapping = FieldMapping(
        answers={"budget": ["Budget"]},
        activities={"page_view": {"count": ["Visits"]}},
    )
    path = write_csv(tmp_path, "Record ID,Budget,Visits,Number of Pageviews\n1,$300,5,99\n")
    (contact,) = records(SpreadsheetSource(path, mapping))
    (activity,) = contact.lead.activities
    assert activity.kind is ActivityKind.PAGE_VIEW
    assert activity.count == 5


def test_naive_dates_use_timezone_option(tmp_path):
    path = write_csv(tmp_path, "Record ID,Create Date,Budget\n1,2025-11-14 09:00,$300\n")
    source = SpreadsheetSource(path, SPA_MAPPING, timezone=ZoneInfo("America/Chicago"))
    (contact,) = records(source)
    assert contact.lead.created_at.astimezone(UTC) == datetime(2025, 11, 14, 15, 0, tzinfo=UTC)


def test_unreadable_cells_are_reported_and_row_still_scored(tmp_path):
    path = write_csv(
        tmp_path,
        "Record ID,Create Date,Marketing emails opened,Unsubscribed,Budget\n"
        "1,someday,lots,maybe,$300\n",
    )
    source = SpreadsheetSource(path, SPA_MAPPING)
    (contact,) = records(source)
    assert isinstance(contact, Contact)
    assert contact.lead.created_at is None
    assert contact.lead.activities == ()
    assert contact.lead.answers == {"budget": "$300"}
    issues = {issue.column: issue for issue in source.issues}
    assert set(issues) == {"Create Date", "Marketing emails opened", "Unsubscribed"}
    assert issues["Create Date"].row == 1
    assert issues["Create Date"].value == "someday"


def test_flags_and_missing_id_fallback(tmp_path):
    path = write_csv(
        tmp_path,
        "Name,Budget,Unsubscribed from all email,Do Not Contact\n"
        "Test Lead,$300,Yes,\nBo,$100,No,true\n",
    )
    first, second = records(SpreadsheetSource(path, SPA_MAPPING))
    assert first.lead.id == "row-1"
    assert first.lead.unsubscribed is True
    assert first.lead.do_not_contact is False
    assert second.lead.do_not_contact is True


def test_blank_and_overlong_rows_skipped(tmp_path):
    path = write_csv(
        tmp_path,
        "Record ID,Budget,Source\n1,$300,Google\n,,\n3,$1,000,Google\n4,$200,Ads\n",
        bom=False,
    )
    results = records(SpreadsheetSource(path, SPA_MAPPING))
    assert [type(r).__name__ for r in results] == [
        "Contact",
        "SkippedRecord",
        "SkippedRecord",
        "Contact",
    ]
    blank, shifted = results[1], results[2]
    assert blank.row == 2
    assert blank.reason == "row is blank"
    assert shifted.row == 3
    assert "unquoted delimiter" in shifted.reason
    assert shifted.value == "Google"
    assert results[3].source_row == 4


def test_short_row_is_padded(tmp_path):
    path = write_csv(tmp_path, "Record ID,Budget,Source\n1,$300\n")
    (contact,) = records(SpreadsheetSource(path, SPA_MAPPING))
    assert contact.lead.answers == {"budget": "$300"}
    assert contact.lead.attributes == {}


def test_post_outcome_columns_are_never_read(tmp_path):
    mapping = FieldMapping(
        answers={"budget": ["Budget"]},
        tags=["Tags"],
        post_outcome=["Tags"],
    )
    path = write_csv(tmp_path, "Record ID,Budget,Tags\n1,$300,Will revert after reading\n")
    source = SpreadsheetSource(path, mapping)
    (contact,) = records(source)
    assert contact.lead.tags == frozenset()
    assert source.plan.ignored_post_outcome == ("Tags",)


def test_file_without_any_mapped_answer_is_rejected(tmp_path):
    path = write_csv(tmp_path, "Record ID,Favourite colour\n1,blue\n")
    with pytest.raises(InputFileError) as caught:
        SpreadsheetSource(path, SPA_MAPPING)
    message = str(caught.value)
    assert "timeline: 'How soon are you looking to book?'" in message
    assert "Columns in the file: 'Record ID', 'Favourite colour'" in message
    assert "[mapping.answers]" in message
    assert str(path) in message


def test_file_with_attributes_but_no_answers_is_rejected(tmp_path):
    path = write_csv(tmp_path, "Record ID,Source\n1,Facebook\n")
    with pytest.raises(InputFileError) as caught:
        SpreadsheetSource(path, SPA_MAPPING)
    message = str(caught.value)
    assert str(path) in message
    assert "none of the model's answer columns" in message
    assert "budget: 'Budget'" in message
    assert "Columns in the file: 'Record ID', 'Source'" in message
    assert "[mapping.answers]" in message


def test_allow_missing_answers_reads_file_without_answers(tmp_path):
    path = write_csv(tmp_path, "Record ID,Source\n1,Facebook\n")
    source = SpreadsheetSource(path, SPA_MAPPING, allow_missing_answers=True)
    (contact,) = records(source)
    assert contact.lead.answers == {}
    assert contact.lead.attributes == {"source": "Facebook"}


def test_partly_missing_columns_pass_unless_strict(tmp_path):
    path = write_csv(tmp_path, "Record ID,Budget\n1,$300\n")
    source = SpreadsheetSource(path, SPA_MAPPING)
    assert {item.fact for item in source.plan.missing} == {"timeline", "treatment", "source"}
    with pytest.raises(InputFileError, match="treatment: tried"):
        SpreadsheetSource(path, SPA_MAPPING, strict=True)


def test_strict_ignores_missing_engagement_columns(tmp_path):
    mapping = FieldMapping(
        answers={"budget": ["Budget"]},
        activities={"outreach": {"count": ["Number of times contacted"]}},
    )
    path = write_csv(tmp_path, "Record ID,Budget\n1,$300\n")
    source = SpreadsheetSource(path, mapping, strict=True)
    assert [item.fact for item in source.plan.missing] == ["activities.outreach"]


def test_xlsx_rows_become_contacts_with_string_ids(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Contacts"
    sheet.append(["Record ID", "Create Date", "Budget", "Number of Pageviews"])
    sheet.append([123456789012, datetime(2025, 11, 14, 9, 0), 500, 3])
    path = tmp_path / "export.xlsx"
    workbook.save(path)
    (contact,) = records(SpreadsheetSource(path, SPA_MAPPING))
    assert contact.lead.id == "123456789012"
    assert contact.lead.created_at == datetime(2025, 11, 14, 9, 0, tzinfo=UTC)
    assert contact.lead.answers == {"budget": "500"}
    assert contact.lead.activities[0].count == 3


def test_excel_scientific_id_is_reported(tmp_path):
    path = write_csv(tmp_path, "Record ID,Budget\n1.23457E+11,$300\n123456789012,$300\n")
    source = SpreadsheetSource(path, SPA_MAPPING)
    first, second = records(source)
    assert first.lead.id == "1.23457E+11"
    assert second.lead.id == "123456789012"
    (issue,) = source.issues
    assert issue.row == 1
    assert issue.column == "Record ID"
    assert "scientific notation" in issue.reason

"""Real GoHighLevel and HubSpot export header rows, read with the default model."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import Contact
from connectors.errors import InputFileError
from connectors.spreadsheet import SpreadsheetSource
from jobs.modelfile import load_model
from scoring.lead import ActivityKind

# GoHighLevel contacts export with two custom fields shown (Manage Fields).
GHL_HEADER = [
    "Contact Id", "First Name", "Last Name", "Name", "Phone", "Email", "Created",
    "Last Activity", "Tags", "When would you like to start?", "Your investment preference?",
]  # fmt: skip
# HubSpot default "All contacts" view.
HUBSPOT_DEFAULT_HEADER = [
    "Record ID", "First Name", "Last Name", "Email", "Phone Number", "Contact owner",
    "Primary Associated Company ID", "Last Activity Date", "Lead Status", "Create Date",
    "Additional email addresses", "Associated Company",
]  # fmt: skip
# A slice of HubSpot's "all properties" export: the engagement and source columns.
HUBSPOT_ALL_PROPERTIES_HEADER = [
    "Record ID", "First Name", "Last Name", "Create Date", "Email",
    "First marketing email open date", "Last marketing email click date",
    "Last marketing email open date", "Last Page Seen", "Marketing emails clicked",
    "Marketing emails delivered", "Marketing emails opened", "Number of Form Submissions",
    "Number of Pageviews", "Original Source", "Recent Conversion Date",
    "Recent Sales Email Replied Date", "Time Last Seen", "Unsubscribed from all email",
]  # fmt: skip


def write_export(tmp_path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path / "export.csv"
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    return path


@pytest.fixture(scope="module")
def mapping():
    return load_model(None).mapping


def test_ghl_contacts_export(tmp_path, mapping):
    row = [
        "DPSJbZBmUDYq50sF7fwE", "Ann", "Lee", "Ann Lee", "+15125550101", "ann@example.com",
        "2025-11-14T14:30:58.000Z", "", "facebook lead, botox interest",
        "This Week (Ready to begin)", "Standard — £400-800 per session",
    ]  # fmt: skip
    (contact,) = SpreadsheetSource(
        write_export(tmp_path, GHL_HEADER, [row]), mapping
    ).iter_records()
    assert isinstance(contact, Contact)
    assert contact.lead.id == "DPSJbZBmUDYq50sF7fwE"
    assert contact.lead.created_at == datetime(2025, 11, 14, 14, 30, 58, tzinfo=UTC)
    assert contact.lead.tags == {"facebook lead", "botox interest"}
    assert contact.lead.answers["timeline"] == "This Week (Ready to begin)"
    assert contact.lead.answers["budget"] == "Standard — £400-800 per session"
    assert contact.name == "Ann Lee"
    assert contact.phone == "+15125550101"


def test_hubspot_all_properties_export(tmp_path, mapping):
    row = [
        "123456789012", "ANN", "LEE", "2025-11-10 09:15", "ann@example.com",
        "2025-11-10 10:00", "2025-11-12 08:00", "2025-11-13 18:02",
        "https://spa.example.com/pricing", "2", "6", "4", "1", "12", "Paid Social",
        "2025-11-10 09:15", "3/15/2026 2:30 PM", "2025-11-13 18:10", "false",
    ]  # fmt: skip
    path = write_export(tmp_path, HUBSPOT_ALL_PROPERTIES_HEADER, [row])
    # The export has no form answer columns, so it is read on engagement alone.
    source = SpreadsheetSource(path, mapping, allow_missing_answers=True)
    (contact,) = source.iter_records()
    lead = contact.lead
    assert lead.id == "123456789012"
    assert lead.created_at == datetime(2025, 11, 10, 9, 15, tzinfo=UTC)
    assert lead.attributes == {"lead_source": "Paid Social"}
    assert lead.unsubscribed is False
    kinds = {activity.kind: activity for activity in lead.activities}
    assert kinds[ActivityKind.EMAIL_SENT].count == 6
    assert kinds[ActivityKind.EMAIL_OPEN].count == 4
    assert kinds[ActivityKind.EMAIL_OPEN].first_at == datetime(2025, 11, 10, 10, 0, tzinfo=UTC)
    assert kinds[ActivityKind.EMAIL_CLICK].last_at == datetime(2025, 11, 12, 8, 0, tzinfo=UTC)
    assert kinds[ActivityKind.PAGE_VIEW].url == "https://spa.example.com/pricing"
    assert kinds[ActivityKind.PAGE_VIEW].last_at == datetime(2025, 11, 13, 18, 10, tzinfo=UTC)
    assert kinds[ActivityKind.FORM_SUBMISSION].count == 1
    assert kinds[ActivityKind.REPLY].last_at == datetime(2026, 3, 15, 14, 30, tzinfo=UTC)
    assert contact.name == "ANN LEE"


def test_hubspot_default_view_has_nothing_to_score(tmp_path, mapping):
    row = ["123456789012", "Ann", "Lee", "ann@example.com", "0452382284", "", "", "", "New",
           "2025-11-10 09:15", "", ""]  # fmt: skip
    path = write_export(tmp_path, HUBSPOT_DEFAULT_HEADER, [row])
    with pytest.raises(InputFileError) as caught:
        SpreadsheetSource(path, mapping)
    message = str(caught.value)
    assert "timeline: 'timeline'" in message
    assert "'Lead Status'" in message
    assert "--model" in message

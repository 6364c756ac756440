"""Parsing cells into dates, counts, flags, answers and tags."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from connectors.spreadsheet.values import (
    CellValueError,
    answer_text,
    parse_count,
    parse_datetime,
    parse_flag,
    split_tags,
)

EASTERN = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2025-11-14T14:30:58.000Z", datetime(2025, 11, 14, 14, 30, 58, tzinfo=UTC)),
        ("2025-11-14 14:30", datetime(2025, 11, 14, 14, 30, tzinfo=UTC)),
        ("2024-01-15 10:00:00", datetime(2024, 1, 15, 10, 0, tzinfo=UTC)),
        ("2024-01-15", datetime(2024, 1, 15, tzinfo=UTC)),
        ("3/15/2024 2:30 PM", datetime(2024, 3, 15, 14, 30, tzinfo=UTC)),
        ("03/15/2024 14:30", datetime(2024, 3, 15, 14, 30, tzinfo=UTC)),
        ("3/15/2024", datetime(2024, 3, 15, tzinfo=UTC)),
        ("15/03/2024", datetime(2024, 3, 15, tzinfo=UTC)),
        (
            "2024-03-15T09:00:00+02:00",
            datetime(2024, 3, 15, 9, 0, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("1710513000000", datetime(2024, 3, 15, 14, 30, tzinfo=UTC)),
        ("1710513000", datetime(2024, 3, 15, 14, 30, tzinfo=UTC)),
        (datetime(2024, 3, 15, 14, 30), datetime(2024, 3, 15, 14, 30, tzinfo=UTC)),
        (date(2024, 3, 15), datetime(2024, 3, 15, tzinfo=UTC)),
        ("", None),
        (None, None),
    ],
    ids=[
        "ghl-iso-millis-z",
        "hubspot-ui-minutes",
        "iso-seconds",
        "date-only",
        "us-12h",
        "us-24h",
        "us-date-only",
        "day-first-when-unambiguous",
        "explicit-offset",
        "epoch-millis",
        "epoch-seconds",
        "workbook-datetime",
        "workbook-date",
        "blank",
        "none",
    ],
)
def test_parse_datetime_formats(cell, expected):
    assert parse_datetime(cell) == expected


def test_naive_date_uses_given_timezone():
    parsed = parse_datetime("2025-11-14 09:00", EASTERN)
    assert parsed.tzinfo is EASTERN
    assert parsed.astimezone(UTC) == datetime(2025, 11, 14, 14, 0, tzinfo=UTC)


def test_aware_date_keeps_its_offset():
    parsed = parse_datetime("2025-11-14T14:30:58Z", EASTERN)
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("cell", ["yesterday", "13/13/2024", "2024-02-30"], ids=str)
def test_parse_datetime_rejects_non_dates(cell):
    with pytest.raises(CellValueError, match="not a date"):
        parse_datetime(cell)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("3", 3),
        ("3.0", 3),
        ("1,204", 1204),
        (7, 7),
        (2.0, 2),
        ("", None),
        (None, None),
        (" ", None),
    ],
    ids=["text", "text-float", "thousands", "int", "float", "blank", "none", "space"],
)
def test_parse_count(cell, expected):
    assert parse_count(cell) == expected


@pytest.mark.parametrize("cell", ["many", "2.5", "-1", True], ids=str)
def test_parse_count_rejects(cell):
    with pytest.raises(CellValueError, match="not a count"):
        parse_count(cell)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("Yes", True),
        ("TRUE", True),
        ("1", True),
        ("x", True),
        ("No", False),
        ("false", False),
        ("0", False),
        ("", None),
        (True, True),
    ],
    ids=["yes", "true", "one", "x", "no", "false", "zero", "blank", "bool"],
)
def test_parse_flag(cell, expected):
    assert parse_flag(cell) is expected


def test_parse_flag_rejects_other_text():
    with pytest.raises(CellValueError, match="not a yes/no"):
        parse_flag("maybe")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("This Week", "This Week"), ("  Not sure ", "Not sure"), ("Select", None), ("", None)],
    ids=["answer", "not-sure-is-an-answer", "select-placeholder", "blank"],
)
def test_answer_text(cell, expected):
    assert answer_text(cell) == expected


def test_split_tags_on_separator():
    tags = split_tags("_customer (rtt integrated), 70. product purchase: foundation £49, ,vip", ",")
    assert tags == {"_customer (rtt integrated)", "70. product purchase: foundation £49", "vip"}
    assert split_tags("a;b", ";") == {"a", "b"}
    assert split_tags(None, ",") == frozenset()

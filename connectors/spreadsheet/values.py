"""Turn spreadsheet cells into typed lead facts: dates, counts, yes/no flags, tags.

Each parser returns the value, or raises `CellValueError` with a reason a
person can act on. The caller records the cell and goes on with the row.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, tzinfo

from connectors.spreadsheet.table import Cell, cell_text

# US-style dates as HubSpot and GoHighLevel UI exports and Excel write them.
_US_DATE_FORMATS = (
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y",
    "%m/%d/%y %I:%M %p",
    "%m/%d/%y %H:%M",
    "%m/%d/%y",
)
# The same with day first, tried only when the first number cannot be a month.
_DAY_FIRST_FORMATS = tuple(fmt.replace("%m/%d", "%d/%m") for fmt in _US_DATE_FORMATS)
_EPOCH_DIGITS = re.compile(r"^\d{10}(\d{3})?$")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")

# Form placeholders that mean "the lead chose nothing" (X Education's forms
# write "Select"; many web forms submit their first option's label).
PLACEHOLDERS = frozenset(
    {"select", "-- select --", "--select--", "- select -", "please select", "choose one"}
)

_TRUE_WORDS = frozenset({"true", "yes", "y", "1", "x", "checked", "opted out", "on"})
_FALSE_WORDS = frozenset({"false", "no", "n", "0", "unchecked", "off", "none"})


class CellValueError(ValueError):
    """A cell's text cannot be read as the type its column needs."""


def parse_datetime(cell: Cell, default_tz: tzinfo = UTC) -> datetime | None:
    """Parse a date or timestamp cell; naive values are taken to be in `default_tz`.

    Accepts ISO 8601 (`2025-11-14T14:30:58.000Z`, `2024-01-15 10:00:00`,
    `2024-01-15 10:00`), US dates (`3/15/2024 2:30 PM`), day-first dates when
    the first number is over 12, epoch seconds or milliseconds, and workbook
    date cells. Returns None for a blank cell.
    """
    if cell is None or cell == "":
        return None
    if isinstance(cell, datetime):
        return _aware(cell, default_tz)
    if isinstance(cell, date):
        return datetime.combine(cell, time(), default_tz)
    text = cell_text(cell)
    if not text:
        return None
    if _EPOCH_DIGITS.match(text):
        seconds = int(text) / (1000 if len(text) == 13 else 1)
        return datetime.fromtimestamp(seconds, UTC)
    try:
        return _aware(datetime.fromisoformat(text), default_tz)
    except ValueError:
        pass
    for fmt in (*_US_DATE_FORMATS, *_DAY_FIRST_FORMATS):
        try:
            return _aware(datetime.strptime(text, fmt), default_tz)
        except ValueError:
            continue
    raise CellValueError(
        f"not a date: expected a form such as 2025-11-14T14:30:58Z, 2025-11-14 14:30 "
        f"or 11/14/2025 2:30 PM, got {text!r}"
    )


def _aware(value: datetime, default_tz: tzinfo) -> datetime:
    return value.replace(tzinfo=default_tz) if value.tzinfo is None else value


def parse_count(cell: Cell) -> int | None:
    """Parse an event counter (`3`, `3.0`, `1,204`); None for a blank cell."""
    if cell is None or cell == "":
        return None
    if isinstance(cell, str) and cell.isdigit():
        return int(cell)
    if isinstance(cell, bool):
        raise CellValueError(f"not a count: expected a whole number, got {cell!r}")
    if isinstance(cell, int):
        value = cell
    elif isinstance(cell, float) and cell.is_integer():
        value = int(cell)
    else:
        text = cell_text(cell).replace(",", "").replace(" ", "")
        if not text:
            return None
        if not _NUMBER.match(text) or float(text) != int(float(text)):
            raise CellValueError(f"not a count: expected a whole number, got {cell_text(cell)!r}")
        value = int(float(text))
    if value < 0:
        raise CellValueError(f"not a count: expected zero or more, got {value}")
    return value


def parse_flag(cell: Cell) -> bool | None:
    """Parse a yes/no cell (`Yes`, `true`, `1`, `x`; `No`, `false`, `0`); None when blank."""
    if cell is None:
        return None
    if isinstance(cell, bool):
        return cell
    text = cell_text(cell).lower()
    if not text:
        return None
    if text in _TRUE_WORDS:
        return True
    if text in _FALSE_WORDS:
        return False
    raise CellValueError(f"not a yes/no value: expected Yes or No, got {cell_text(cell)!r}")


def answer_text(cell: Cell) -> str | None:
    """Return an answer cell as text, or None when blank or a form placeholder."""
    text = cell_text(cell)
    if not text or text.lower() in PLACEHOLDERS:
        return None
    return text


def split_tags(cell: Cell, separator: str) -> frozenset[str]:
    """Split a tags cell (`"vip, botox interest"`) into tags, dropping blanks."""
    text = cell_text(cell)
    if not text:
        return frozenset()
    return frozenset(tag.strip() for tag in text.split(separator) if tag.strip())

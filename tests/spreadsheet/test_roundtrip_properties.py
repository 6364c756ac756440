"""Property tests: whatever the cells contain, a written copy reads back the same."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.spreadsheet import read_table, write_scored
from connectors.spreadsheet.table import CsvDialect, Table
from connectors.spreadsheet.values import parse_datetime

HEADER = ("Record ID", "First Name", "Notes", "Tags")
# Any text a CRM cell may hold except NUL, which marks a file as binary.
cell_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=30,
)
rows = st.lists(st.tuples(*(cell_text for _ in HEADER)), min_size=1, max_size=8)
dialects = st.builds(
    CsvDialect,
    delimiter=st.sampled_from([",", ";", "\t"]),
    bom=st.booleans(),
    line_terminator=st.sampled_from(["\r\n", "\n"]),
    quote_all=st.booleans(),
)


@settings(max_examples=150, deadline=None)
@given(rows=rows, dialect=dialects)
def test_csv_copy_reads_back_unchanged(rows, dialect):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scored.csv"
        table = Table(path=path, format="csv", header=HEADER, rows=list(rows), dialect=dialect)
        scores = [{"score": 50, "fit": 1, "intent": 2, "tier": "warm", "reasons": "r"}] * len(rows)
        write_scored(table, scores, path)

        again = read_table(path)
        assert again.header == (*HEADER, "score", "fit", "intent", "tier", "reasons")
        assert again.dialect.delimiter == dialect.delimiter
        assert [row[: len(HEADER)] for row in again.rows] == [tuple(row) for row in rows]


@settings(max_examples=200, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2099, 12, 31)))
def test_export_date_formats_parse_back(moment):
    moment = moment.replace(second=0, microsecond=0, tzinfo=UTC)
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    texts = [
        moment.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        moment.strftime("%Y-%m-%d %H:%M"),
        f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment.minute:02d} {half}",
    ]
    for text in texts:
        assert parse_datetime(text) == moment, text

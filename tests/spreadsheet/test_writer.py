"""Writing the scored copy: rows unchanged, score columns added, CSV and XLSX."""

from __future__ import annotations

import codecs
from datetime import datetime

from openpyxl import Workbook, load_workbook

from connectors.spreadsheet import read_table, write_scored
from connectors.spreadsheet.writer import output_format

SCORES = {
    "score": 88,
    "fit": 70,
    "intent": 95,
    "tier": "hot",
    "reasons": 'timeline "This Week" → +30',
}


def test_csv_copy_keeps_rows_and_dialect(tmp_path):
    source = tmp_path / "in.csv"
    source.write_bytes(
        codecs.BOM_UTF8
        + b'"Record ID";"Notes";"Tags"\r\n"1";"two\r\nlines";"a, b"\r\n"2";"";""\r\n'
    )
    table = read_table(source)
    output = tmp_path / "out" / "scored.csv"
    write_scored(table, [SCORES, None], output)

    data = output.read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    assert data.decode("utf-8-sig").splitlines()[0] == (
        '"Record ID";"Notes";"Tags";"score";"fit";"intent";"tier";"reasons"'
    )
    again = read_table(output)
    assert again.dialect.delimiter == ";"
    assert again.rows[0][:3] == ("1", "two\r\nlines", "a, b")
    assert again.rows[0][3:] == ("88", "70", "95", "hot", 'timeline "This Week" → +30')
    assert again.rows[1] == ("2", "", "", "", "", "", "", "")


def test_rescoring_a_scored_file_overwrites_score_columns(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("Record ID,score,fit,intent,tier,reasons\n1,10,0,0,cold,old\n")
    write_scored(read_table(source), [SCORES], tmp_path / "out.csv")
    again = read_table(tmp_path / "out.csv")
    assert again.header == ("Record ID", "score", "fit", "intent", "tier", "reasons")
    assert again.rows[0] == ("1", "88", "70", "95", "hot", 'timeline "This Week" → +30')


def test_clashing_column_name_gets_prefix(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("Record ID,Score,tier\n1,A+,gold\n")
    write_scored(read_table(source), [SCORES], tmp_path / "out.csv")
    again = read_table(tmp_path / "out.csv")
    assert again.header == (
        "Record ID",
        "Score",
        "tier",
        "score",
        "fit",
        "intent",
        "leadscore_tier",
        "reasons",
    )
    assert again.rows[0][:3] == ("1", "A+", "gold")


def test_overlong_row_cells_are_kept_before_score_columns(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("Record ID,Budget\n1,$1,000\n2,$300\n")
    write_scored(read_table(source), [None, SCORES], tmp_path / "out.csv")
    again = read_table(tmp_path / "out.csv")
    assert again.header[:3] == ("Record ID", "Budget", "")
    assert again.rows[0][:3] == ("1", "$1", "000")
    assert again.rows[1][:4] == ("2", "$300", "", "88")


def test_latin1_input_is_written_as_utf8_with_bom(tmp_path):
    source = tmp_path / "in.csv"
    source.write_bytes("Name\nRenée\n".encode("latin-1"))
    write_scored(read_table(source), [SCORES], tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_bytes().startswith(codecs.BOM_UTF8)
    assert read_table(tmp_path / "out.csv").rows[0][0] == "Renée"


def test_xlsx_round_trip_keeps_types_and_sheet_name(tmp_path):
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Leads"
    sheet.append(["Record ID", "Created", "Visits", "Notes"])
    sheet.append([123456789012, datetime(2025, 11, 14, 9, 30), 3, "two\nlines"])
    sheet.append(["abc", None, None, None])
    source = tmp_path / "in.xlsx"
    workbook.save(source)

    table = read_table(source)
    output = tmp_path / "out.xlsx"
    write_scored(table, [SCORES, None], output)

    result = load_workbook(output, read_only=True)
    assert result.sheetnames == ["Leads"]
    rows = list(result["Leads"].iter_rows(values_only=True))
    assert rows[0] == ("Record ID", "Created", "Visits", "Notes", *SCORES)
    assert rows[1][:3] == (123456789012, datetime(2025, 11, 14, 9, 30), 3)
    assert rows[1][4:] == (88, 70, 95, "hot", 'timeline "This Week" → +30')
    assert rows[2][0] == "abc"
    assert all(cell is None for cell in rows[2][1:])
    result.close()


def test_csv_input_written_as_xlsx_by_extension(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("Record ID,Budget\n1,$300\n")
    table = read_table(source)
    output = tmp_path / "out.xlsx"
    assert output_format(output, table) == "xlsx"
    write_scored(table, [SCORES], output)
    again = read_table(output)
    assert again.format == "xlsx"
    assert again.rows[0][:3] == ("1", "$300", 88)


def test_control_characters_are_dropped_in_xlsx(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("Record ID,Notes\n1,bell\x07 rang\n")
    write_scored(read_table(source), [SCORES], tmp_path / "out.xlsx")
    assert read_table(tmp_path / "out.xlsx").rows[0][1] == "bell rang"


def test_in_place_write_replaces_input_atomically(tmp_path):
    source = tmp_path / "leads.csv"
    source.write_text("Record ID\n1\n")
    table = read_table(source)
    write_scored(table, [SCORES], source)
    assert read_table(source).header == ("Record ID", *SCORES)
    assert [p.name for p in tmp_path.iterdir()] == ["leads.csv"]


def test_lone_carriage_return_in_lf_file_is_quoted(tmp_path):
    source = tmp_path / "in.csv"
    source.write_bytes(b'Record ID,Notes\n1,"a\rb"\n2,plain\n')
    table = read_table(source)
    assert table.dialect.line_terminator == "\n"
    write_scored(table, [SCORES, SCORES], tmp_path / "out.csv")
    data = (tmp_path / "out.csv").read_bytes()
    assert b'"a\rb"' in data
    assert b"\r\n" not in data
    again = read_table(tmp_path / "out.csv")
    assert [row[:2] for row in again.rows] == [("1", "a\rb"), ("2", "plain")]

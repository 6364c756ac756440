"""`leadscore score` end to end: real files in, scored files out, through the Typer app."""

from __future__ import annotations

import codecs
import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from connectors.spreadsheet import read_table
from jobs.cli import app
from tests.spreadsheet.logging_state import keep_logging_state  # noqa: F401

pytestmark = pytest.mark.usefixtures("keep_logging_state")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "leads.csv"
X_EDUCATION_MODEL = ROOT / "examples" / "x-education" / "model.toml"
NOW = "2026-12-01T12:00:00Z"
SCORE_COLUMNS = ["score", "fit", "intent", "tier", "reasons"]
TIERS = {"hot", "warm", "cold", "disqualified"}

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(arg) for arg in args])


def data_dir() -> Path:
    configured = os.environ.get("LEADSCORE_DATA_DIR")
    return Path(configured) if configured else ROOT.parent / "shared" / "data"


@pytest.fixture
def leads(tmp_path: Path) -> Path:
    copy = tmp_path / "leads.csv"
    shutil.copyfile(EXAMPLE, copy)
    return copy


def by_email(path: Path) -> dict[str, dict[str, object]]:
    table = read_table(path)
    return {
        row[table.header.index("EMAIL")]: dict(zip(table.header, row, strict=False))
        for row in table.rows
    }


def test_example_scores_every_row_unchanged(leads):
    result = run("score", leads, "--now", NOW)
    assert result.exit_code == 0, result.output

    output = leads.with_name("leads-scored.csv")
    source, scored = read_table(leads), read_table(output)
    assert scored.header == source.header + tuple(SCORE_COLUMNS)
    assert len(scored.rows) == len(source.rows) == 200
    width = len(source.header)
    for before, after in zip(source.rows, scored.rows, strict=True):
        assert after[:width] == before
        score, fit, intent, tier, reasons = after[width:]
        assert 1 <= int(score) <= 100
        assert 0 <= int(fit) <= 100
        assert 0 <= int(intent) <= 100
        assert tier in TIERS
        assert reasons
    assert output.read_bytes().startswith(codecs.BOM_UTF8)
    assert scored.dialect.quote_all is True
    assert scored.dialect.line_terminator == "\r\n"


def test_example_summary_lists_tiers_unparsed_and_hot(leads):
    result = run("score", leads, "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "Scored 200 of 200 rows" in result.stdout
    assert "Leads per tier" in result.stdout
    unparsed = result.stdout.split("Unparsed answers by column", 1)[1]
    assert "Budget" in unparsed
    assert "'reasonable'" in unparsed
    assert "Top hot leads" in result.stdout


def test_example_disqualifies_test_and_unsubscribed_leads(leads):
    assert run("score", leads, "--now", NOW).exit_code == 0
    rows = by_email(leads.with_name("leads-scored.csv"))
    test_lead = rows["test@example.com"]
    assert test_lead["tier"] == "disqualified"
    assert "spam_or_test" in test_lead["reasons"]
    (unsubscribed,) = [row for row in rows.values() if row["Unsubscribed"] == "Yes"]
    assert unsubscribed["tier"] == "disqualified"


def test_scores_are_deterministic_for_fixed_now(leads, tmp_path):
    assert run("score", leads, "--now", NOW, "-o", tmp_path / "a.csv").exit_code == 0
    assert run("score", leads, "--now", NOW, "-o", tmp_path / "b.csv").exit_code == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_existing_output_needs_force(leads):
    output = leads.with_name("leads-scored.csv")
    output.write_text("keep me")
    result = run("score", leads, "--now", NOW)
    assert result.exit_code == 2
    assert "already exists" in result.stderr
    assert "--force" in result.stderr
    assert output.read_text() == "keep me"

    forced = run("score", leads, "--now", NOW, "--force")
    assert forced.exit_code == 0, forced.output
    assert read_table(output).header[-1] == "reasons"


def test_input_is_never_overwritten_without_in_place(leads):
    before = leads.read_bytes()
    result = run("score", leads, "-o", leads, "--force")
    assert result.exit_code == 2
    assert "--in-place" in result.stderr
    assert leads.read_bytes() == before


def test_in_place_rewrites_input(leads):
    result = run("score", leads, "--now", NOW, "--in-place")
    assert result.exit_code == 0, result.output
    assert read_table(leads).header[-5:] == tuple(SCORE_COLUMNS)
    assert not leads.with_name("leads-scored.csv").exists()


def test_output_directory_is_created(leads, tmp_path):
    output = tmp_path / "out" / "nested" / "scored.csv"
    result = run("score", leads, "--now", NOW, "-o", output)
    assert result.exit_code == 0, result.output
    assert len(read_table(output).rows) == 200


@pytest.mark.parametrize(
    "name", ["scored.json", "scored.xls", "scored"], ids=["json", "xls", "none"]
)
def test_unknown_output_extension_exits_2(leads, tmp_path, name):
    output = tmp_path / name
    result = run("score", leads, "--now", NOW, "-o", output)
    assert result.exit_code == 2, result.output
    assert str(output) in result.stderr
    assert ".csv, .tsv, .txt or .xlsx" in result.stderr
    assert not output.exists()


def test_tsv_output_is_tab_separated(leads, tmp_path):
    output = tmp_path / "scored.tsv"
    result = run("score", leads, "--now", NOW, "-o", output)
    assert result.exit_code == 0, result.output
    header = output.read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.split("\t")[-5:] == ['"score"', '"fit"', '"intent"', '"tier"', '"reasons"']


def test_csv_to_xlsx_by_output_extension(leads, tmp_path):
    output = tmp_path / "scored.xlsx"
    result = run("score", leads, "--now", NOW, "-o", output)
    assert result.exit_code == 0, result.output
    table = read_table(output)
    assert table.format == "xlsx"
    assert len(table.rows) == 200
    assert table.header[-5:] == tuple(SCORE_COLUMNS)


def make_xlsx(path: Path, sheet: str = "Leads") -> Path:
    workbook = Workbook()
    notes = workbook.active
    notes.title = "Read me"
    notes.append(["This workbook holds leads on the second sheet"])
    leads = workbook.create_sheet(sheet)
    leads.append(["Record ID", "How soon are you looking to book?", "Budget", "Treatment Interest"])
    leads.append([123456789012, "This week", "$1,000-$2,500", "Botox"])
    leads.append([123456789013, "Just researching", "Under $100", "Hydrafacial"])
    workbook.save(path)
    return path


def test_xlsx_named_sheet_to_xlsx(tmp_path):
    source = make_xlsx(tmp_path / "export.xlsx")
    result = run("score", source, "--sheet", "Leads", "--now", NOW)
    assert result.exit_code == 0, result.output
    output = tmp_path / "export-scored.xlsx"
    table = read_table(output)
    assert table.sheet == "Leads"
    assert [row[0] for row in table.rows] == [123456789012, 123456789013]
    scores = [row[4] for row in table.rows]
    assert scores[0] > scores[1]
    assert table.rows[0][7] in TIERS


def test_unknown_sheet_exits_2_listing_sheets(tmp_path):
    source = make_xlsx(tmp_path / "export.xlsx")
    result = run("score", source, "--sheet", "Contacts")
    assert result.exit_code == 2
    assert "'Read me', 'Leads'" in result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "PNG image"),
        (b"Record ID,Favourite colour\n1,blue\n", "Columns in the file: 'Record ID'"),
        (b"Record ID,Budget\r\n", "has a header row but no data rows"),
    ],
    ids=["empty", "png-renamed-csv", "no-mapped-column", "header-only"],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, content, expected):
    source = tmp_path / "leads.csv"
    source.write_bytes(content)
    result = run("score", source)
    assert result.exit_code == 2
    assert expected in result.stderr
    assert str(source) in result.stderr
    assert not (tmp_path / "leads-scored.csv").exists()


def test_missing_input_exits_2(tmp_path):
    result = run("score", tmp_path / "missing.csv")
    assert result.exit_code == 2
    assert "not found" in result.stderr


def drop_columns(source: Path, target: Path, names: set[str]) -> Path:
    """Copy a CSV without the named columns."""
    table = read_table(source)
    keep = [index for index, name in enumerate(table.header) if name not in names]
    with target.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow([table.header[index] for index in keep])
        for row in table.rows:
            writer.writerow([row[index] for index in keep])
    return target


ANSWER_COLUMNS = {
    "Treatment Interest",
    "How soon are you looking to book?",
    "Budget",
    "Have you had this treatment before?",
    "How many sessions are you considering?",
}


def test_file_without_answer_columns_exits_2(tmp_path):
    source = drop_columns(EXAMPLE, tmp_path / "no-answers.csv", ANSWER_COLUMNS)
    result = run("score", source, "--now", NOW)
    assert result.exit_code == 2, result.output
    assert str(source) in result.stderr
    assert "none of the model's answer columns" in result.stderr
    assert "timeline: 'timeline'" in result.stderr
    assert "'Age Range'" in result.stderr
    assert "--allow-missing-answers" in result.stderr
    assert not (tmp_path / "no-answers-scored.csv").exists()


def test_allow_missing_answers_scores_without_answers(tmp_path):
    source = drop_columns(EXAMPLE, tmp_path / "no-answers.csv", ANSWER_COLUMNS)
    result = run("score", source, "--now", NOW, "--allow-missing-answers")
    assert result.exit_code == 0, result.output
    assert "Scored 200 of 200 rows" in result.stdout
    assert "Columns not found" in result.stdout


def test_strict_rejects_partly_missing_columns(tmp_path):
    source = tmp_path / "leads.csv"
    source.write_text("Record ID,Budget\n1,$500\n")
    assert run("score", source, "--now", NOW).exit_code == 0
    result = run("score", source, "--strict", "-o", tmp_path / "strict.csv")
    assert result.exit_code == 2
    assert "timeline: tried" in result.stderr


def test_strict_passes_example_listing_engagement_note(leads):
    result = run("score", leads, "--now", NOW, "--strict")
    assert result.exit_code == 0, result.output
    assert "Engagement columns not found: email_bounce, outreach" in result.stdout


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--now", "yesterday", "not an ISO 8601 time"),
        ("--timezone", "Mars/Olympus", "not a known IANA time zone"),
    ],
    ids=["now", "timezone"],
)
def test_invalid_option_exits_2(leads, option, value, expected):
    result = run("score", leads, option, value)
    assert result.exit_code == 2
    assert expected in result.stderr


def test_invalid_model_exits_2_naming_model(leads, tmp_path):
    model = tmp_path / "model.toml"
    model.write_text('name = "broken"\nversion = 1\n[tiers]\nhot = "high"\n')
    result = run("score", leads, "--model", model)
    assert result.exit_code == 2
    assert "invalid model" in result.stderr
    assert str(model) in result.stderr


def test_unusable_rows_are_reported_and_rest_scored(tmp_path):
    source = tmp_path / "leads.csv"
    source.write_text(
        "Record ID,How soon are you looking to book?,Budget\n"
        "1,This week,$1000\n"
        ",,\n"
        "3,This week,$1,000\n"
        "4,Just exploring,$100\n"
    )
    result = run("score", source, "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "Scored 2 of 4 rows" in result.stdout
    assert "data row 2: row is blank" in result.stdout
    assert "data row 3: row has 4 cells" in result.stdout

    scored = read_table(tmp_path / "leads-scored.csv")
    assert len(scored.rows) == 4
    assert scored.rows[2][:4] == ("3", "This week", "$1", "000")
    assert scored.rows[2][4:] == ("", "", "", "", "")
    assert scored.rows[0][4] != ""
    assert scored.rows[3][4] != ""


def test_summary_lists_unreadable_cells_with_reason(tmp_path):
    source = tmp_path / "leads.csv"
    source.write_text(
        "Record ID,How soon are you looking to book?,Create Date\n"
        "1.23457E+11,This week,someday\n"
        "2,This week,2026-11-30 10:00\n"
    )
    result = run("score", source, "--now", NOW)
    assert result.exit_code == 0, result.output
    unreadable = result.stdout.split("Cells that could not be read", 1)[1]
    assert "Record ID" in unreadable
    assert "scientific" in unreadable
    assert "Create Date" in unreadable
    assert "'someday'" in unreadable


def test_unreadable_cells_list_first_data_rows(tmp_path):
    source = tmp_path / "leads.csv"
    dates = ["someday", "2026-11-30 10:00", "soon", "later", "never", "tbd", "asap", "eventually"]
    source.write_text(
        "Record ID,How soon are you looking to book?,Create Date\n"
        + "".join(f"{number},This week,{date}\n" for number, date in enumerate(dates, start=1))
    )
    result = runner.invoke(app, ["score", str(source), "--now", NOW], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    unreadable = result.stdout.split("Cells that could not be read", 1)[1]
    assert "data rows" in unreadable
    assert "1, 3, 4, 5, 6, … (+2 more)" in unreadable


def test_windows_1252_file_is_scored(tmp_path):
    source = tmp_path / "leads.csv"
    source.write_bytes(
        "Record ID;Name;How soon are you looking to book?;Budget\n"
        "1;Renée Lefèvre;This week;€500\n".encode("cp1252")
    )
    result = run("score", source, "--now", NOW)
    assert result.exit_code == 0, result.output
    scored = read_table(tmp_path / "leads-scored.csv")
    assert scored.dialect.delimiter == ";"
    assert scored.rows[0][1] == "Renée Lefèvre"
    assert scored.rows[0][3] == "€500"
    assert "not UTF-8" in result.stdout


def x_education_file() -> Path:
    path = data_dir() / "x-education-leads" / "Leads.csv"
    if not path.exists():
        pytest.skip(f"X Education leads not found at {path}; set LEADSCORE_DATA_DIR")
    return path


@pytest.mark.slow
def test_x_education_every_row_scored_or_reported(tmp_path):
    source = x_education_file()
    output = tmp_path / "x-education-scored.csv"
    result = run("score", source, "--model", X_EDUCATION_MODEL, "--now", NOW, "-o", output)
    assert result.exit_code == 0, result.output

    table = read_table(source)
    scored = read_table(output)
    assert len(scored.rows) == len(table.rows) == 9240
    reported = scored_count = 0
    for before, after in zip(table.rows, scored.rows, strict=True):
        assert after[: len(table.header)] == before
        if after[-5]:
            scored_count += 1
        else:
            reported += 1
    assert scored_count + reported == 9240
    assert f"Scored {scored_count} of 9240 rows" in result.stdout
    assert "'Lead Quality'" in result.stdout
    assert "'Tags'" in result.stdout


def test_entry_point_runs_as_subprocess(leads, tmp_path):
    leadscore = Path(sys.executable).parent / "leadscore"
    if not leadscore.exists():
        pytest.skip("the leadscore console script is not installed in this environment")
    output = tmp_path / "out" / "leads-scored.csv"
    completed = subprocess.run(
        [str(leadscore), "score", str(leads), "-o", str(output), "--now", NOW],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Scored 200 of 200 rows" in completed.stdout
    assert len(read_table(output).rows) == 200


def test_progress_bar_on_terminal_only(leads, tmp_path, monkeypatch):
    import jobs.cli.score as score_module

    monkeypatch.setattr(score_module, "PROGRESS_MIN_ROWS", 10)
    quiet = run("score", leads, "--now", NOW, "-o", tmp_path / "quiet.csv")
    assert quiet.exit_code == 0, quiet.output
    assert "Scoring" not in quiet.stderr

    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    shown = run("score", leads, "--now", NOW, "-o", tmp_path / "shown.csv")
    assert shown.exit_code == 0, shown.output
    assert "Scoring" in shown.stderr
    assert "200/200" in shown.stderr
    assert "Scoring" not in shown.stdout

"""`leadscore explain`: one lead's full explanation, found by id or row number."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.spreadsheet import read_table
from jobs.cli import app
from tests.spreadsheet.logging_state import keep_logging_state  # noqa: F401

pytestmark = pytest.mark.usefixtures("keep_logging_state")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "leads.csv"
NOW = "2026-12-01T12:00:00Z"

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(arg) for arg in args])


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    path = tmp_path / "leads.csv"
    path.write_text(
        "Record ID,Name,How soon are you looking to book?,Budget,Treatment Interest,Tags\n"
        "1001,Ann Lee,This week,$1000-$2000,Botox,\n"
        "1002,Bo Test,This week,$1000-$2000,Botox,test\n"
        "1003,Cy Moe,Just exploring,whatever works,Botox,\n"
        "1001,Ann Duplicate,Just exploring,$100,Peel,\n"
    )
    return path


def test_explain_by_id_shows_rules_parts_and_tier(small_file):
    result = run("explain", "1001", "--input", small_file, "--now", NOW)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Lead Ann Lee (1001), data row 1" in out
    assert "2 rows have this id (1, 4), showing the first" in out
    assert "Rules that fired" in out
    assert 'timeline "This week"' in out
    assert "+30" in out
    assert "fit" in out
    assert "intent" in out
    assert "Tier: " in out
    assert "cutoff" in out
    assert "Facts read from the row" in out


def test_explain_by_row_number(small_file):
    result = run("explain", "row:3", "--input", small_file, "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "Lead Cy Moe (1003), data row 3" in result.stdout
    assert "Unknown answers" in result.stdout
    assert "'whatever works'" in result.stdout


def test_explain_disqualified_lead_names_rule(small_file):
    result = run("explain", "1002", "--input", small_file, "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "Tier: disqualified (disqualified by spam_or_test)" in result.stdout


def test_explain_score_matches_scored_file(small_file, tmp_path):
    output = tmp_path / "scored.csv"
    assert run("score", small_file, "--now", NOW, "-o", output).exit_code == 0
    first = read_table(output).rows[0]
    result = run("explain", "row:1", "--input", small_file, "--now", NOW)
    assert f"Score {first[6]}/100, fit {first[7]}/100, intent {first[8]}/100" in result.stdout


def test_explain_example_lead_by_id():
    table = read_table(EXAMPLE)
    lead_id = table.rows[22][0]
    result = run("explain", lead_id, "--input", EXAMPLE, "--now", NOW)
    assert result.exit_code == 0, result.output
    assert f"({lead_id}), data row 23" in result.stdout


def test_explain_unknown_id_exits_2(small_file):
    result = run("explain", "9999", "--input", small_file)
    assert result.exit_code == 2
    assert "no lead with id '9999'" in result.stderr
    assert "'Record ID'" in result.stderr


@pytest.mark.parametrize("contact", ["row:0", "row:5", "row:abc"], ids=str)
def test_explain_row_out_of_range_exits_2(small_file, contact):
    result = run("explain", contact, "--input", small_file)
    assert result.exit_code == 2
    assert "use row:1 to row:4" in result.stderr


def test_explain_blank_row_reports_reason(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("Record ID,Budget\n1,$500\n,\n")
    result = run("explain", "row:2", "--input", path)
    assert result.exit_code == 2
    assert "data row 2 cannot be scored: row is blank" in result.stderr


def test_explain_without_input_needs_store():
    result = run("explain", "1001")
    assert result.exit_code == 2
    assert "--input is required" in result.stderr
    assert "state store" in result.stderr


def test_explain_reads_named_xlsx_sheet(tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.title = "Notes"
    sheet = workbook.create_sheet("Leads")
    sheet.append(["Record ID", "How soon are you looking to book?", "Budget"])
    sheet.append([123456789012, "This week", "$900"])
    path = tmp_path / "export.xlsx"
    workbook.save(path)
    result = run("explain", "123456789012", "--input", path, "--sheet", "Leads", "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "Lead 123456789012, data row 1" in result.stdout
    assert 'budget "$900"' in result.stdout


def test_explain_engine_failure_exits_1(small_file, monkeypatch):
    import jobs.spreadsheet_job as job

    def fail(*args, **kwargs):
        raise RuntimeError("engine broke")

    monkeypatch.setattr(job, "score", fail)
    result = run("explain", "1001", "--input", small_file)
    assert result.exit_code == 1
    assert "scoring failed: RuntimeError: engine broke" in result.stderr

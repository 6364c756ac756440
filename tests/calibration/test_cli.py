"""`leadscore calibrate` and `leadscore backtest` end to end on bundled and real files."""

import csv
import os
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobs.cli import app
from scoring.model import parse_model

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "leads-with-outcomes.csv"
DEFAULT_MODEL = ROOT / "scoring" / "models" / "default.toml"
X_EDUCATION_MODEL = ROOT / "examples" / "x-education" / "model.toml"
NOW = "2026-12-01T12:00:00Z"

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(arg) for arg in args])


def _data_dir() -> Path:
    configured = os.environ.get("LEADSCORE_DATA_DIR")
    return Path(configured) if configured else ROOT.parent / "shared" / "data"


class _SvgIds(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        if tag == "svg":
            self.ids.add(dict(attrs).get("id"))


def _svg_ids(path: Path) -> set[str]:
    parser = _SvgIds()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.ids


def _rewrite(path: Path, target: Path, change) -> Path:
    """Copy a CSV, letting `change(index, row)` edit each data row."""
    with path.open(encoding="utf-8-sig", newline="") as source:
        rows = list(csv.DictReader(source))
    for index, row in enumerate(rows, start=1):
        change(index, row)
    with target.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return target


def test_calibrate_example_writes_report_and_candidate(tmp_path):
    report = tmp_path / "calibration.html"
    candidate = tmp_path / "candidate.toml"
    result = _run(
        "calibrate", EXAMPLE, "--outcome", "Booked", "--model", DEFAULT_MODEL,
        "--date-column", "Created", "--hot-per-day", "3", "--now", NOW,
        "--report", report, "--write-model", candidate,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1461 leads with a known outcome" in result.output
    assert "39 rows have a blank outcome" in result.output
    assert "lift hot" in result.output
    assert "capacity hot" in result.output
    assert "Time-ordered check" in result.output
    assert _svg_ids(report) == {"band-chart", "roc-chart", "capture-chart", "rule-chart"}
    text = candidate.read_text(encoding="utf-8")
    assert text.startswith("# Candidate points fitted")
    assert "# Alert the front desk when a score rises to this value or above." in text
    parsed = parse_model(text, source=str(candidate))
    assert parsed.name == "Med spa default"
    assert text != DEFAULT_MODEL.read_text(encoding="utf-8")
    assert f"base_points = {parsed.base_points:g}\n" in text
    assert parsed.base_points != 0
    assert f"Base points {parsed.base_points:+g}: every lead starts" in result.output
    assert "Base points" in report.read_text(encoding="utf-8")


def test_backtest_example_compares_two_models(tmp_path):
    candidate = tmp_path / "candidate.toml"
    calibrated = _run(
        "calibrate", EXAMPLE, "--outcome", "Booked", "--model", DEFAULT_MODEL, "--now", NOW,
        "--write-model", candidate,
    )  # fmt: skip
    assert calibrated.exit_code == 0, calibrated.output
    report = tmp_path / "backtest.html"
    result = _run(
        "backtest", EXAMPLE, "--model", candidate, "--baseline", DEFAULT_MODEL,
        "--outcome", "Booked", "--date-column", "Created", "--now", NOW, "--report", report,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Tier migration" in result.output
    assert "candidate.toml" in result.output
    assert "leads change tier" in result.output
    html = report.read_text(encoding="utf-8")
    assert 'id="migration-table"' in html
    assert _svg_ids(report) == {"tier-rate-chart"}


def test_calibrate_missing_outcome_column_lists_columns():
    result = _run("calibrate", EXAMPLE, "--outcome", "Showed Up", "--now", NOW)
    assert result.exit_code == 2
    assert "the --outcome column 'Showed Up' is not in the file" in result.output
    assert "'Booked'" in result.output
    assert "'How soon are you looking to book?'" in result.output


def test_calibrate_missing_date_column_is_named():
    result = _run("calibrate", EXAMPLE, "--outcome", "Booked", "--date-column", "Signup")
    assert result.exit_code == 2
    assert "the --date-column column 'Signup' is not in the file" in result.output


def test_calibrate_unknown_outcomes_named_with_rows(tmp_path):
    def mark(index, row):
        if index in (3, 8, 20):
            row["Booked"] = "Pending"
        if index == 11:
            row["Booked"] = "maybe later"

    leads = _rewrite(EXAMPLE, tmp_path / "leads.csv", mark)
    result = _run("calibrate", leads, "--outcome", "Booked", "--now", NOW)
    assert result.exit_code == 2
    assert "'Pending': 3 rows (data rows 3, 8, 20)" in result.output
    assert "'maybe later': 1 rows (data rows 11)" in result.output


def test_calibrate_single_outcome_is_clear_error(tmp_path):
    def lose(index, row):
        row["Booked"] = "Lost"

    leads = _rewrite(EXAMPLE, tmp_path / "leads.csv", lose)
    result = _run("calibrate", leads, "--outcome", "Booked", "--now", NOW)
    assert result.exit_code == 2
    assert "none of the 1500 leads booked" in result.output
    assert "Traceback" not in result.output


def test_calibrate_thin_data_says_too_thin(tmp_path):
    known = []

    def keep_first(index, row):
        if index > 40:
            row["Booked"] = ""
        elif row["Booked"]:
            known.append(index)

    leads = _rewrite(EXAMPLE, tmp_path / "leads.csv", keep_first)
    result = _run("calibrate", leads, "--outcome", "Booked", "--now", NOW)
    assert result.exit_code == 0, result.output
    assert f"{len(known)} leads with a known outcome" in result.output
    assert "too thin" in result.output


LEAKY_MODEL = """
name = "leaky"
version = "1"

[mapping]
post_outcome = ["Notes"]

[mapping.answers]
timeline = ["How soon are you looking to book?"]
notes = ["Notes"]
{extra}

[[intent.rules]]
id = "timeline"
label = "Timeline"
kind = "answer"
field = "timeline"
match = "prefix"
options = [{{ answer = "This week", points = 30 }}]
"""


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("", "mapping.answers.notes reads 'Notes'"),
        ('booked = ["Booked"]', "mapping.answers.booked reads 'Booked'"),
        (
            '\n[[fit.rules]]\nid = "noted"\nlabel = "Noted"\nkind = "answer"\nfield = "Notes"\n'
            'options = [{ answer = "VIP", points = 5 }]',
            "fit.rules 'noted' reads 'Notes'",
        ),
    ],
    ids=["post-outcome-column", "outcome-column", "rule-field"],
)
def test_calibrate_rejects_model_reading_post_outcome(tmp_path, extra, expected):
    model = tmp_path / "leaky.toml"
    model.write_text(LEAKY_MODEL.format(extra=extra), encoding="utf-8")
    result = _run("calibrate", EXAMPLE, "--outcome", "Booked", "--model", model, "--now", NOW)
    assert result.exit_code == 2
    assert expected in result.output
    assert "leaks the outcome" in result.output


def test_calibrate_write_model_needs_model(tmp_path):
    result = _run(
        "calibrate", EXAMPLE, "--outcome", "Booked", "--write-model", tmp_path / "out.toml"
    )
    assert result.exit_code == 2
    assert "--write-model needs --model" in result.output


@pytest.mark.slow
def test_calibrate_x_education_reaches_published_auc(tmp_path):
    leads = _data_dir() / "x-education-leads" / "Leads.csv"
    if not leads.exists():
        pytest.skip(f"real data not found at {leads}; set LEADSCORE_DATA_DIR")
    candidate = tmp_path / "candidate.toml"
    result = _run(
        "calibrate", leads, "--outcome", "Converted", "--model", X_EDUCATION_MODEL,
        "--write-model", candidate, "--now", NOW,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "9240 leads with a known outcome, 3561 booked" in result.output
    line = next(text for text in result.output.splitlines() if "Held-out ROC AUC" in text)
    fitted = float(line.split("fitted weights ")[1].split(",")[0])
    current = float(line.split("current score ")[1].split(",")[0])
    assert fitted > current
    assert fitted > 0.85


@pytest.mark.parametrize(
    ("option", "value"),
    [("--hot-per-day", "0"), ("--leads-per-day", "0")],
    ids=["hot-per-day", "leads-per-day"],
)
def test_calibrate_rejects_zero_rates(option, value):
    result = _run("calibrate", EXAMPLE, "--outcome", "Booked", option, value, "--now", NOW)
    assert result.exit_code == 2
    assert f"{option} must be above 0, got 0" in result.output

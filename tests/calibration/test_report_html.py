"""The HTML reports: self-contained, with their charts and tables."""

import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from jobs.calibrate import CalibrateOptions, backtest, evaluate
from jobs.report_html import render_backtest, render_calibration
from tests.calibration.builders import synthetic_leads

CHROMIUM = Path("/usr/bin/chromium")


class _Elements(HTMLParser):
    """Collects every start tag with its attributes, and the cells of each table by id."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._wrapper_ids: list[str | None] = []
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        self.tags.append((tag, attributes))
        if tag == "div":
            self._wrapper_ids.append(attributes.get("id"))
        if tag == "table":
            table_id = attributes.get("id") or (
                self._wrapper_ids[-1] if self._wrapper_ids else None
            )
            self._table = self.tables.setdefault(table_id or f"table-{len(self.tables)}", [])
        if tag == "tr" and self._table is not None:
            self._table.append([])
        if tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "div" and self._wrapper_ids:
            self._wrapper_ids.pop()
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self._table[-1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def ids(self, tag):
        return {attributes.get("id") for name, attributes in self.tags if name == tag}

    def count(self, tag, css_class=None):
        return sum(
            1
            for name, attributes in self.tags
            if name == tag and (css_class is None or attributes.get("class") == css_class)
        )


@pytest.fixture(scope="module")
def calibration_html():
    report = evaluate(synthetic_leads(), "Booked", CalibrateOptions(hot_per_day=5))
    return render_calibration(report)


def _parse(text):
    parser = _Elements()
    parser.feed(text)
    return parser


def test_calibration_report_contains_its_charts(calibration_html):
    page = _parse(calibration_html)
    assert page.ids("svg") == {"band-chart", "roc-chart", "capture-chart", "rule-chart"}
    filled_bands = [row for row in page.tables["band-table"][1:] if row[1] != "0"]
    assert page.count("rect", "band") == len(filled_bands)
    assert page.count("polyline", "roc-curve") == 1
    assert page.count("polyline", "bookings-captured") == 1
    assert page.count("circle", "rule-fired") == 4


def test_calibration_report_band_table_lists_ten_bands(calibration_html):
    table = _parse(calibration_html).tables["band-table"]
    assert table[0][:4] == ["band", "leads", "booked", "booking rate"]
    assert [row[0] for row in table[1:]] == [
        "1–9",
        "10–19",
        "20–29",
        "30–39",
        "40–49",
        "50–59",
        "60–69",
        "70–79",
        "80–89",
        "90–100",
    ]
    assert sum(int(row[1]) for row in table[1:]) == 3000


def test_calibration_report_states_policies_and_leakage(calibration_html):
    assert "Wilson lower bound ≥ 1.5× the base rate" in calibration_html
    assert "Capacity policy." in calibration_html
    assert "post_outcome" in calibration_html
    recommendations = _parse(calibration_html).tables["recommendation-table"]
    assert [row[0] for row in recommendations[1:]] == [
        "current: hot",
        "current: warm",
        "lift: hot",
        "lift: warm",
        "capacity: hot",
        "capacity: warm",
    ]


def test_calibration_report_is_self_contained(calibration_html):
    page = _parse(calibration_html)
    assert page.count("script") == 0
    assert page.count("link") == 0
    assert page.count("img") == 0
    assert "https://" not in calibration_html
    assert "@import" not in calibration_html
    without_namespace = calibration_html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http://" not in without_namespace


def test_backtest_report_contains_migration_matrix():
    baseline = synthetic_leads(count=2000)
    candidate = synthetic_leads(count=2000, points=[45.0, 30.0, 5.0, -20.0])
    report = backtest(baseline, candidate, "Booked")
    page = _parse(render_backtest(report))
    matrix = page.tables["migration-table"]
    assert matrix[0] == ["", "candidate hot", "candidate warm", "candidate cold"]
    counts = [int(cell.split()[0]) for row in matrix[1:] for cell in row[1:]]
    assert sum(counts) == 2000
    assert page.ids("svg") == {"tier-rate-chart"}
    assert len(page.tables["changes-table"]) == 1 + min(20, report.changed_count)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
def test_calibration_report_renders_in_chromium(calibration_html, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(calibration_html, encoding="utf-8")
    screenshot = tmp_path / "report.png"
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={screenshot}",
        "--window-size=1200,3000",
        page.as_uri(),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    data = screenshot.read_bytes()
    assert data.startswith(b"\x89PNG")
    assert len(data) > 10_000

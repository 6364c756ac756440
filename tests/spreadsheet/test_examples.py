"""The bundled examples: the committed leads file and the X Education model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from connectors.spreadsheet import SpreadsheetSource, read_table
from jobs.modelfile import load_model

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def load_generator():
    spec = importlib.util.spec_from_file_location("make_leads", EXAMPLES / "make_leads.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_leads_match_generator():
    generator = load_generator()
    expected = generator.render(generator.build_rows())
    assert (EXAMPLES / "leads.csv").read_bytes() == expected


def test_generator_check_flag_detects_stale_file(tmp_path):
    generator = load_generator()
    stale = tmp_path / "leads.csv"
    stale.write_bytes(b"old")
    assert generator.main(["--check", "--output", str(stale)]) == 1
    assert generator.main(["--output", str(stale)]) == 0
    assert generator.main(["--check", "--output", str(stale)]) == 0


def test_example_file_has_export_quirks():
    data = (EXAMPLES / "leads.csv").read_bytes()
    table = read_table(EXAMPLES / "leads.csv")
    assert data.startswith(b"\xef\xbb\xbf")
    assert table.dialect.line_terminator == "\r\n"
    assert table.dialect.quote_all is True
    assert len(table.rows) == 200
    notes = [row[table.header.index("Notes")] for row in table.rows]
    assert any("\n" in note for note in notes)
    header_styles = {name for name in table.header if name != name.title()}
    assert "first name" in header_styles
    assert "EMAIL" in header_styles


def test_example_maps_every_answer_of_default_model():
    source = SpreadsheetSource(EXAMPLES / "leads.csv", load_model(None).mapping)
    missing = {item.fact for item in source.plan.missing}
    assert not missing & {"timeline", "budget", "treatment", "prior_treatment", "commitment"}
    assert {"age", "lead_source"} <= set(source.plan.attributes)


def test_x_education_model_marks_sales_columns_post_outcome():
    model = load_model(EXAMPLES / "x-education" / "model.toml")
    post_outcome = set(model.mapping.post_outcome)
    assert {"Tags", "Lead Quality", "Lead Profile", "Last Activity"} <= post_outcome
    assert {"Asymmetrique Activity Index", "Asymmetrique Profile Score"} <= post_outcome
    assert "Converted" in post_outcome
    assert model.mapping.tags == ()

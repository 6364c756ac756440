"""`leadscore model check`: validate a model file from the command line."""

from pathlib import Path

from typer.testing import CliRunner

from jobs.cli import app

runner = CliRunner()

VALID = """\
name = "Small spa"
version = "3"

[[fit.rules]]
id = "treatment"
label = "Treatment"
kind = "answer"
field = "treatment"
options = [{ answer = "Botox", points = 20 }]

[[intent.rules]]
id = "vip"
label = "VIP"
kind = "tag"
tags = ["vip"]
points = 5

[[intent.rules]]
id = "clicks"
label = "Clicks"
kind = "event"
activity = "email_click"
points = 3
"""


def test_model_check_default_model_passes():
    result = runner.invoke(app, ["model", "check"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: Med spa default 2026-12.1+")
    assert "14 rules (fit 5, intent 9)" in result.output


def test_model_check_valid_file_prints_counts(tmp_path: Path):
    path = tmp_path / "spa.toml"
    path.write_text(VALID, encoding="utf-8")
    result = runner.invoke(app, ["model", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: Small spa 3+")
    assert result.output.rstrip().endswith("3 rules (fit 1, intent 2)")


def test_model_check_invalid_file_lists_every_problem(tmp_path: Path):
    path = tmp_path / "spa.toml"
    path.write_text(
        VALID.replace("points = 20", 'points = "twenty"').replace(
            "points = 3", "points = 3\nwhen = 1"
        ),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["model", "check", str(path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [
        f"ERROR: {path}:9 at fit.rules[0].options[0].points: Input should be a valid number, "
        "got 'twenty'",
        f"ERROR: {path}:24 at intent.rules[1].when: unknown key; check the spelling or remove it",
    ]


def test_model_check_syntax_error_reports_line(tmp_path: Path):
    path = tmp_path / "spa.toml"
    path.write_text(VALID.replace('label = "VIP"', "label = VIP"), encoding="utf-8")
    result = runner.invoke(app, ["model", "check", str(path)])
    assert result.exit_code == 1
    assert f"ERROR: {path}:13 at intent.rules[0].label: invalid TOML: invalid value" in (
        result.output
    )
    assert 'text values need quotes, such as "text"' in result.output


def test_model_check_missing_file_fails(tmp_path: Path):
    path = tmp_path / "nope.toml"
    result = runner.invoke(app, ["model", "check", str(path)])
    assert result.exit_code == 1
    assert f"ERROR: {path}: model file not found" in result.output


def test_model_check_warns_about_unmapped_field(tmp_path: Path):
    path = tmp_path / "spa.toml"
    path.write_text(VALID + '\n[mapping.answers]\ntimeline = ["timeline"]\n', encoding="utf-8")
    result = runner.invoke(app, ["model", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert f"WARNING: {path}:8 at fit.rules[0].field: field 'treatment' is not in" in result.output
    assert "OK: Small spa" in result.output


TIMELINE_RULE = """
[[intent.rules]]
id = "timeline"
label = "Timeline"
kind = "range"
field = "timeline"
parse = "timeline"
bands = [{ max = 8, points = 30 }]
"""


def test_model_check_warns_about_misspelled_mapping_key(tmp_path: Path):
    path = tmp_path / "spa.toml"
    mapping = '\n[mapping.answers]\ntreatment = ["Service"]\ntimelien = ["When?"]\n'
    path.write_text(VALID + TIMELINE_RULE + mapping, encoding="utf-8")
    result = runner.invoke(app, ["model", "check", str(path)])
    assert result.exit_code == 0, result.output
    line = path.read_text().splitlines().index('timelien = ["When?"]') + 1
    assert (
        f"WARNING: {path}:{line} at mapping.answers.timelien: `mapping.answers.timelien` "
        "is read by no rule; did you mean `timeline`?"
    ) in result.output
    assert "OK: Small spa" in result.output


def test_model_check_warns_about_model_without_rules(tmp_path: Path):
    path = tmp_path / "empty.toml"
    path.write_text('name = "Empty"\nversion = "1"\n', encoding="utf-8")
    result = runner.invoke(app, ["model", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert f"WARNING: {path}: the model has no scoring rules" in result.output
    assert "OK: Empty 1+" in result.output
    assert "0 rules (fit 0, intent 0)" in result.output

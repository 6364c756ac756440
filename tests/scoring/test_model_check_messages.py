"""Messages of model validation a user sees from `leadscore model check`.

Covers typos (did-you-mean suggestions), TOML syntax errors explained in plain
words, and warnings for a model that parses but cannot score as intended.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from jobs.modelfile import load_model
from scoring.model import ModelError, parse_model
from tests.scoring.test_model import VALID

ROOT = Path(__file__).resolve().parents[2]


def parse_error(text: str) -> ModelError:
    with pytest.raises(ModelError) as caught:
        parse_model(text, source="model.toml")
    return caught.value


def with_mapping(text: str, answers: str) -> str:
    return text + "\n[mapping.answers]\n" + textwrap.dedent(answers)


def test_misspelled_mapping_key_suggests_rule_field():
    text = with_mapping(
        VALID,
        """\
        treatment = ["Treatment Interest"]
        timelien = ["When would you like to start?"]
        """,
    )
    warnings = parse_model(text).check_warnings()
    by_key = {warning.key: warning.reason for warning in warnings}
    assert "mapping.answers.timelien" in by_key
    assert by_key["mapping.answers.timelien"] == (
        "`mapping.answers.timelien` is read by no rule; did you mean `timeline`?"
    )


def test_warning_for_mapping_key_has_its_line():
    text = with_mapping(VALID, 'treatment = ["T"]\ntimelien = ["W"]\n')
    warnings = parse_model(text).check_warnings(text)
    (warning,) = [item for item in warnings if item.key == "mapping.answers.timelien"]
    assert warning.line == text.splitlines().index('timelien = ["W"]') + 1


def test_unread_mapping_key_without_close_match_is_quiet():
    text = with_mapping(VALID, 'treatment = ["T"]\ntimeline = ["W"]\nreferrer = ["R"]\n')
    assert parse_model(text).check_warnings() == []


@pytest.mark.parametrize(
    "path",
    [
        None,
        ROOT / "examples" / "x-education" / "model.toml",
        ROOT / "examples" / "calibration" / "x-education-fine.toml",
    ],
    ids=["default", "x-education", "x-education-fine"],
)
def test_bundled_models_have_no_warnings(path):
    assert load_model(path).check_warnings() == []


def test_model_without_rules_warns():
    model = parse_model('name = "Empty"\nversion = "1"\n')
    (warning,) = model.check_warnings()
    assert "no scoring rules" in warning.reason
    assert "[[fit.rules]]" in warning.reason


def test_unknown_rule_kind_quotes_value():
    error = parse_error(VALID.replace('kind = "event"', 'kind = "evnt"'))
    assert error.key == "intent.rules[1].kind"
    assert "'evnt'" in error.reason
    assert "event" in error.reason


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        (VALID + "\n[tier]\nhot = 85\n", "tier", "did you mean `tiers`?"),
        (
            VALID.replace('label = "Email clicks"', 'lable = "Email clicks"'),
            "intent.rules[1].lable",
            "did you mean `label`?",
        ),
        (
            VALID.replace("min_price = 200", "min_prize = 200"),
            "treatments.botox.min_prize",
            "did you mean `min_price`?",
        ),
        (
            VALID + "\n[mapping]\nid_column = ['Record ID']\n",
            "mapping.id_column",
            "unknown key",
        ),
    ],
    ids=["top-level-table", "rule-key", "treatment-key", "no-close-match"],
)
def test_unknown_key_suggests_close_match(text, key, expected):
    error = parse_error(text)
    reasons = {problem.key: problem.reason for problem in error.problems}
    assert key in reasons
    assert expected in reasons[key]


def test_unknown_key_without_close_match_has_no_suggestion():
    error = parse_error(VALID + "\n[mapping]\nzzz = ['Record ID']\n")
    assert "did you mean" not in error.reason


@pytest.mark.parametrize(
    ("text", "line", "key", "expected"),
    [
        ('name = "A"\nname = "B"\n', 2, "name", "duplicate key `name`"),
        (
            VALID.replace('id = "clicks"', 'id = "clicks"\nid = "clicks2"'),
            VALID.splitlines().index('id = "clicks"') + 2,
            "intent.rules[1].id",
            "duplicate key `id`",
        ),
        ("[tiers]\nhot = 80\n[tiers]\nwarm = 50\n", 3, "tiers", "table [tiers] is declared twice"),
        ('name = "A\nversion = "1"\n', 1, "name", "unterminated string"),
        ("name = 'A\n", None, None, "unterminated string"),
        ('name = "A"\nlabel = VIP\n', 2, "label", 'text values need quotes, such as "text"'),
    ],
    ids=[
        "duplicate-key",
        "duplicate-key-in-array-table",
        "duplicate-table",
        "unterminated-basic-string",
        "unterminated-literal-string",
        "unquoted-text",
    ],
)
def test_toml_syntax_error_is_explained(text, line, key, expected):
    error = parse_error(text)
    assert error.line == line
    assert error.key == key
    assert expected in error.reason
    assert error.reason.startswith("invalid TOML: ")

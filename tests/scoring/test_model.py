"""Model file validation: every problem names the file, the key, the line and the reason."""

import pickle
import textwrap
from pathlib import Path

import pytest

from jobs.modelfile import load_model
from scoring.model import ModelError, parse_model
from scoring.result import Part

VALID = textwrap.dedent(
    """\
    name = "Test model"
    version = "1.0"

    [groups.engagement]
    cap = 10

    [treatments.botox]
    synonyms = ["Dysport"]
    min_price = 200

    [[fit.rules]]
    id = "treatment"
    label = "Treatment"
    kind = "answer"
    field = "treatment"
    options = [
        { treatment = "botox", points = 20 },
        { answer = "Other", points = 5 },
    ]

    [[intent.rules]]
    id = "timeline"
    label = "Timeline"
    kind = "range"
    field = "timeline"
    parse = "timeline"
    bands = [
        { min = 0, max = 8, points = 30 },
        { min = 8, max = 31, points = 20 },
    ]

    [[intent.rules]]
    id = "clicks"
    label = "Email clicks"
    kind = "event"
    activity = "email_click"
    count = "per_event"
    points = 2
    cap = 6
    group = "engagement"
    """
)


def parse_error(text: str, source: str = "model.toml") -> ModelError:
    with pytest.raises(ModelError) as caught:
        parse_model(text, source)
    return caught.value


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in text")


def test_valid_model_parses():
    model = parse_model(VALID, "model.toml")
    assert model.name == "Test model"
    assert [rule.id for rule in model.rules()] == ["treatment", "timeline", "clicks"]
    assert [rule.part for rule in model.rules()] == [Part.FIT, Part.INTENT, Part.INTENT]


def test_version_carries_content_hash():
    model = parse_model(VALID)
    declared, digest = model.version.split("+")
    assert declared == "1.0"
    assert len(digest) == 6


def test_version_hash_ignores_comments_and_layout():
    reformatted = "# owner's notes\n" + VALID.replace("cap = 10", "cap   =   10   # per lead")
    assert parse_model(reformatted).version == parse_model(VALID).version


def test_version_hash_changes_with_points():
    changed = VALID.replace("points = 30", "points = 29")
    assert parse_model(changed).version != parse_model(VALID).version


def test_declared_version_with_plus_is_rejected():
    error = parse_error(VALID.replace('version = "1.0"', 'version = "1.0+abc"'))
    assert error.key == "version"
    assert error.line == 2


def test_rules_report_max_points():
    maxima = {rule.id: rule.max_points for rule in parse_model(VALID).rules()}
    assert maxima == {"treatment": 20, "timeline": 30, "clicks": 6}


def test_part_max_respects_group_cap():
    text = VALID + textwrap.dedent(
        """
        [[intent.rules]]
        id = "pricing"
        label = "Pricing page"
        kind = "event"
        activity = "page_view"
        url = "*pricing*"
        points = 8
        group = "engagement"
        """
    )
    model = parse_model(text)
    assert model.part_max(Part.INTENT) == 30 + 10
    assert model.part_max(Part.FIT) == 20


def test_part_max_points_overrides_rules():
    text = VALID.replace("[[fit.rules]]", "[fit]\nmax_points = 50\n\n[[fit.rules]]", 1)
    assert parse_model(text).part_max(Part.FIT) == 50


@pytest.mark.parametrize(
    ("old", "new", "key", "needle", "reason"),
    [
        (
            "points = 30",
            'points = "thirty"',
            "intent.rules[0].bands[0].points",
            'points = "thirty"',
            "valid number",
        ),
        (
            'kind = "event"',
            'kind = "event"\nwithin = 5',
            "intent.rules[1].within",
            "within = 5",
            "unknown key",
        ),
        (
            'kind = "answer"',
            'kind = "checkbox"',
            "fit.rules[0].kind",
            'kind = "checkbox"',
            "unknown rule kind 'checkbox'",
        ),
        (
            'field = "treatment"\n',
            "",
            "fit.rules[0].field",
            "[[fit.rules]]",
            "missing",
        ),
        (
            'id = "clicks"',
            'id = "timeline"',
            "intent.rules[1].id",
            ('id = "timeline"', 2),
            "duplicate rule id 'timeline'",
        ),
        (
            "{ min = 8, max = 31, points = 20 }",
            "{ min = 7, max = 31, points = 20 }",
            "intent.rules[0].bands[1]",
            "min = 7",
            "overlaps",
        ),
        (
            "{ min = 8, max = 31, points = 20 }",
            "{ min = 31, max = 8, points = 20 }",
            "intent.rules[0].bands[1]",
            "min = 31",
            "must be below max",
        ),
        (
            "cap = 6\n",
            "",
            "intent.rules[1]",
            ("[[intent.rules]]", 2),
            "needs a `cap`",
        ),
        (
            'group = "engagement"',
            'group = "behaviour"',
            "intent.rules[1].group",
            'group = "behaviour"',
            "group 'behaviour' is not defined",
        ),
        (
            '{ treatment = "botox", points = 20 }',
            '{ treatment = "fillers", points = 20 }',
            "fit.rules[0].options[0].treatment",
            'treatment = "fillers"',
            "not in [treatments]",
        ),
        (
            'group = "engagement"\n',
            'group = "engagement"\n[tiers]\nhot = 40\nwarm = 50\n',
            "tiers",
            "[tiers]",
            "must be below hot cutoff",
        ),
        (
            'name = "Test model"',
            'name = "Test model"\nalert_threshold = 120',
            "alert_threshold",
            "alert_threshold = 120",
            "less than or equal to 100",
        ),
        (
            'name = "Test model"',
            'name = "Test model"\nbase_points = "12"',
            "base_points",
            "base_points = ",
            "valid number, got '12'",
        ),
        (
            'name = "Test model"',
            'name = "Test model"\nbase_points = true',
            "base_points",
            "base_points = ",
            "valid number, got True",
        ),
        (
            'name = "Test model"',
            'name = "Test model"\nbase_points = inf',
            "base_points",
            "base_points = ",
            "finite number",
        ),
        (
            'group = "engagement"\n',
            'group = "engagement"\n[currency]\nrates = { GBP = 0 }\n',
            "currency.rates",
            "rates = {",
            "must be above 0",
        ),
        (
            'activity = "email_click"',
            'activity = "email_clicks"',
            "intent.rules[1].activity",
            'activity = "email_clicks"',
            "email_click",
        ),
    ],
    ids=[
        "wrong-type",
        "unknown-key",
        "unknown-kind",
        "missing-key",
        "duplicate-id",
        "band-overlap",
        "band-reversed",
        "per-event-without-cap",
        "undefined-group",
        "unknown-treatment",
        "tiers-out-of-order",
        "alert-threshold-range",
        "base-points-text",
        "base-points-bool",
        "base-points-infinite",
        "zero-rate",
        "unknown-activity",
    ],
)
def test_invalid_model_reports_key_line_and_reason(old, new, key, needle, reason):
    assert old in VALID
    text = VALID.replace(old, new, 1)
    error = parse_error(text)
    needle, occurrence = needle if isinstance(needle, tuple) else (needle, 1)
    assert error.source == "model.toml"
    assert error.key == key
    assert error.line == line_of(text, needle, occurrence)
    assert reason in error.reason
    assert f"model.toml:{error.line} at {key}" in str(error)


def test_group_mixing_parts_is_rejected():
    text = VALID.replace('field = "treatment"\n', 'field = "treatment"\ngroup = "engagement"\n', 1)
    error = parse_error(text)
    assert error.key == "intent.rules[1].group"
    assert "mixes fit and intent" in error.reason


def test_toml_syntax_error_reports_line():
    text = VALID.replace('label = "Timeline"', 'label = "Timeline', 1)
    error = parse_error(text)
    assert error.line == line_of(text, 'label = "Timeline')
    assert error.reason.startswith("invalid TOML: unterminated string")
    assert error.key == "intent.rules[0].label"


def test_several_problems_are_all_listed():
    text = VALID.replace("points = 30", 'points = "x"').replace("cap = 10", "cap = -1")
    error = parse_error(text)
    keys = {problem.key for problem in error.problems}
    assert keys == {"intent.rules[0].bands[0].points", "groups.engagement.cap"}
    assert str(error).startswith("2 problems in model.toml")


def test_rule_id_must_be_a_simple_name():
    error = parse_error(VALID.replace('id = "clicks"', 'id = "Email Clicks!"'))
    assert error.key == "intent.rules[1].id"


def test_disqualifier_needs_one_condition():
    text = VALID + '\n[[disqualifiers]]\nid = "dnc"\nlabel = "DNC"\n'
    error = parse_error(text)
    assert error.key == "disqualifiers[0]"
    assert "exactly one of" in error.reason


def test_array_of_tables_options_locate_lines():
    text = textwrap.dedent(
        """\
        name = "m"
        version = "1"

        [[fit.rules]]
        id = "a"
        label = "A"
        kind = "answer"
        field = "f"

        [[fit.rules.options]]
        answer = "x"
        points = 1

        [[fit.rules.options]]
        answer = "y"
        points = "two"
        """
    )
    error = parse_error(text)
    assert error.key == "fit.rules[0].options[1].points"
    assert error.line == 16


def test_missing_file_names_path(tmp_path: Path):
    path = tmp_path / "missing.toml"
    with pytest.raises(ModelError) as caught:
        load_model(path)
    assert caught.value.source == str(path)
    assert "not found" in caught.value.reason
    assert str(path) in str(caught.value)


def test_non_utf8_file_is_rejected(tmp_path: Path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "Crème"\n'.encode("latin-1"))
    with pytest.raises(ModelError) as caught:
        load_model(path)
    assert "not UTF-8" in caught.value.reason


def test_directory_is_rejected(tmp_path: Path):
    with pytest.raises(ModelError) as caught:
        load_model(tmp_path)
    assert "directory" in caught.value.reason


def test_file_error_names_file_and_line(tmp_path: Path):
    path = tmp_path / "spa.toml"
    path.write_text(VALID.replace("points = 30", "points = true"), encoding="utf-8")
    with pytest.raises(ModelError) as caught:
        load_model(path)
    assert caught.value.source == str(path)
    assert str(caught.value).startswith(f"{path}:{line_of(VALID, 'points = 30')} at ")


def test_model_copy_with_update_recompiles():
    model = parse_model(VALID)
    stricter = model.model_copy(update={"tiers": {"hot": 90, "warm": 60}})
    assert stricter.tiers.hot == 90
    assert stricter.compiled.tiers.hot == 90
    assert stricter.version.startswith("1.0+")
    assert stricter.version != model.version


def test_model_copy_with_invalid_update_is_rejected():
    model = parse_model(VALID)
    with pytest.raises(ValueError, match="must be below hot cutoff"):
        model.model_copy(update={"tiers": {"hot": 50, "warm": 60}})


def test_model_survives_pickle():
    model = parse_model(VALID)
    restored = pickle.loads(pickle.dumps(model))
    assert restored == model
    assert restored.compiled is not None


def test_models_parsed_twice_are_equal():
    assert parse_model(VALID) == parse_model(VALID)
    assert hash(parse_model(VALID)) == hash(parse_model(VALID))
    assert parse_model(VALID) != parse_model(VALID.replace("points = 30", "points = 29"))


def test_field_warnings_name_unmapped_fields():
    text = VALID.replace('field = "timeline"', 'field = "timline"') + textwrap.dedent(
        """
        [mapping.answers]
        treatment = ["Treatment Interest"]
        timeline = ["When would you like to start?"]
        """
    )
    warnings = parse_model(text).field_warnings()
    assert [warning.key for warning in warnings] == ["intent.rules[0].field"]
    assert "'timline'" in warnings[0].reason


def test_field_warnings_empty_without_mapping():
    assert parse_model(VALID).field_warnings() == []


def test_default_model_reads_only_mapped_fields():
    assert load_model(None).field_warnings() == []


@pytest.mark.parametrize(
    ("extra", "key", "reason", "offset"),
    [
        (
            '[mapping.activities.email_open]\ncnt = ["x"]\n',
            "mapping.activities.email_open.cnt",
            "unknown key",
            3,
        ),
        (
            '[mapping.activities.email_opens]\ncount = ["x"]\n',
            "mapping.activities.email_opens",
            "'email_open'",
            2,
        ),
        ("[mapping.answers]\ntimeline = 5\n", "mapping.answers.timeline", "should be a list", 3),
    ],
    ids=["unknown-key", "unknown-activity", "not-a-list"],
)
def test_invalid_mapping_reports_key_and_line(extra, key, reason, offset):
    text = VALID + "\n" + extra
    error = parse_error(text)
    assert error.key == key
    # `offset` counts from the end of VALID: the blank line, the table header, the key.
    assert error.line == len(VALID.splitlines()) + offset
    assert reason in error.reason


def test_file_with_byte_order_mark_and_crlf_loads(tmp_path: Path):
    path = tmp_path / "notepad.toml"
    path.write_bytes(b"\xef\xbb\xbf" + VALID.replace("\n", "\r\n").encode("utf-8"))
    assert load_model(path).name == "Test model"


def test_crlf_file_error_reports_line(tmp_path: Path):
    path = tmp_path / "notepad.toml"
    text = VALID.replace("points = 30", "points = true")
    path.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    with pytest.raises(ModelError) as caught:
        load_model(path)
    assert caught.value.line == line_of(VALID, "points = 30")


def test_budget_below_treatment_needs_prices():
    text = VALID.replace("min_price = 200\n", "") + textwrap.dedent(
        """
        [[fit.rules]]
        id = "below"
        label = "Below price"
        kind = "budget_below_treatment"
        points = -10
        """
    )
    error = parse_error(text)
    assert error.key == "fit.rules[1].kind"
    assert "min_price" in error.reason

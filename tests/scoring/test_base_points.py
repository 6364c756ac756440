"""Model-level base points: added to the total, kept out of the parts, shown in the explanation."""

import textwrap
from datetime import UTC, datetime

import pytest

from scoring.engine import BASE_POINTS_RULE_ID, score
from scoring.lead import Lead
from scoring.model import parse_model
from scoring.result import Part, ScoreResult, Tier

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)

MODEL = textwrap.dedent(
    """\
    name = "Base points test"
    version = "1"
    {base_line}

    [tiers]
    hot = 80
    warm = 50

    [[fit.rules]]
    id = "budget"
    label = "Budget"
    kind = "answer"
    field = "budget"
    options = [
        {{ answer = "High", points = 20 }},
        {{ answer = "Low", points = -15 }},
    ]

    [[intent.rules]]
    id = "timeline"
    label = "Timeline"
    kind = "answer"
    field = "timeline"
    options = [
        {{ answer = "This week", points = 30 }},
        {{ answer = "Just looking", points = -5 }},
    ]
    """
)


def model_with_base(base_points: float | None):
    base_line = "" if base_points is None else f"base_points = {base_points}"
    return parse_model(MODEL.format(base_line=base_line), source="base.toml")


def scored(base_points: float | None, **answers: str) -> ScoreResult:
    return score(Lead(id="lead-1", answers=answers), model_with_base(base_points), NOW)


def test_base_points_default_to_zero():
    assert model_with_base(None).base_points == 0


@pytest.mark.parametrize(
    ("base_points", "answers", "expected"),
    [
        (12, {"budget": "High", "timeline": "This week"}, 62),
        (12, {}, 12),
        (-10, {"budget": "High", "timeline": "This week"}, 40),
        (12.5, {"budget": "High"}, 33),
        (40, {"budget": "Low", "timeline": "Just looking"}, 20),
    ],
    ids=[
        "adds-to-rules",
        "no-rule-fired",
        "negative",
        "fraction-rounds-half-up",
        "offsets-penalties",
    ],
)
def test_base_points_shift_total(base_points, answers, expected):
    assert scored(base_points, **answers).score == expected


@pytest.mark.parametrize(
    ("base_points", "answers", "expected"),
    [
        (90, {"budget": "High", "timeline": "This week"}, 100),
        (150, {}, 100),
        (-60, {"budget": "High", "timeline": "This week"}, 1),
        (-5, {}, 1),
    ],
    ids=["above-100", "base-alone-above-100", "below-1", "base-alone-below-1"],
)
def test_base_points_total_clamped(base_points, answers, expected):
    assert scored(base_points, **answers).score == expected


@pytest.mark.parametrize("base_points", [-30, 25, 70], ids=["negative", "positive", "large"])
def test_base_points_leave_parts_unchanged(base_points):
    answers = {"budget": "High", "timeline": "Just looking"}
    without = scored(None, **answers)
    with_base = scored(base_points, **answers)
    assert with_base.fit == without.fit
    assert with_base.intent == without.intent
    assert with_base.fit == 100
    assert with_base.intent == 0


def test_base_points_change_tier_through_total():
    answers = {"timeline": "This week"}
    assert scored(None, **answers).tier is Tier.COLD
    assert scored(25, **answers).tier is Tier.WARM


def test_explanation_shows_base_points_line_first():
    result = scored(12, budget="High", timeline="This week")
    base = result.hits[0]
    assert [hit.rule_id for hit in result.hits] == [BASE_POINTS_RULE_ID, "budget", "timeline"]
    assert base.part is Part.BASE
    assert base.points == 12
    assert base.short() == "base points → +12"


def test_explanation_shows_negative_base_points():
    result = scored(-7.5, budget="High")
    assert result.hits[0].short() == "base points → -7.5"


@pytest.mark.parametrize("base_points", [None, 0, 0.0], ids=["absent", "zero", "zero-float"])
def test_explanation_has_no_base_line_when_zero(base_points):
    result = scored(base_points, budget="High")
    assert [hit.rule_id for hit in result.hits] == ["budget"]
    assert "base points" not in result.reasons_text()


def test_full_reasons_text_lists_base_points_last():
    result = scored(40, budget="High", timeline="This week")
    assert result.reasons_text() == (
        'timeline "This week" → +30; budget "High" → +20; base points → +40'
    )


def test_top_reasons_leave_out_base_points():
    result = scored(40, budget="High", timeline="This week")
    assert [hit.rule_id for hit in result.top_reasons(3)] == ["timeline", "budget"]
    assert result.reasons_text(limit=3) == 'timeline "This week" → +30; budget "High" → +20'


def test_base_points_hit_survives_stored_round_trip():
    result = scored(12, budget="High")
    restored = ScoreResult.from_dict(result.to_dict())
    assert restored.hits == result.hits
    assert restored.hits[0].part is Part.BASE


def test_base_points_change_model_version():
    assert model_with_base(12).version != model_with_base(None).version


def test_model_copy_with_base_points_rescores():
    model = model_with_base(None).model_copy(update={"base_points": 30})
    result = score(Lead(id="lead-1", answers={"budget": "High"}), model, NOW)
    assert result.score == 50
    assert result.hits[0].rule_id == BASE_POINTS_RULE_ID

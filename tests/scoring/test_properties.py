"""Properties of the engine under the default model, over generated leads."""

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.modelfile import load_model
from scoring.engine import score
from scoring.lead import Activity, ActivityKind, Lead
from scoring.parsing import UNKNOWN_BY_CHOICE, Quantity, parse_budget, parse_number, parse_timeline

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
MODEL = load_model(None)

# From soonest to latest; each one must never score more than the one before.
TIMELINES_SOONEST_FIRST = [
    "ASAP",
    "This week",
    "Within 2 weeks",
    "This month",
    "Within 1 month",
    "1-3 months",
    "2-3 months",
    "3-6 months",
    "6+ months",
    "Just exploring",
]
BUDGETS = ["$1,000-$2,500", "2k", "Under $500", "£400-800 per session", "$800+", "not sure", "??"]
TREATMENTS = ["Botox", "Cool Lipo", "Hydrafacial", "Tattoo Removal", "Fillers; PRP", "Other"]
TAGS = ["vip", "facebook", "spam", "Test", "returning patient"]

answer_text = st.one_of(st.text(max_size=30), st.sampled_from(BUDGETS + TREATMENTS))
moments = st.floats(min_value=-2, max_value=400).map(lambda days: NOW - timedelta(days=days))
activities = st.builds(
    Activity,
    kind=st.sampled_from(list(ActivityKind)),
    count=st.integers(min_value=0, max_value=50),
    last_at=st.none() | moments,
    first_at=st.none() | moments,
    url=st.none() | st.sampled_from(["/pricing", "https://spa.example/prices?x=1", "/about"]),
)
leads = st.builds(
    Lead,
    id=st.just("lead"),
    created_at=st.none() | moments,
    answers=st.fixed_dictionaries(
        {},
        optional={
            "timeline": st.sampled_from(TIMELINES_SOONEST_FIRST) | answer_text,
            "budget": st.sampled_from(BUDGETS) | answer_text | st.integers(-100, 10_000),
            "treatment": st.sampled_from(TREATMENTS)
            | st.lists(st.sampled_from(TREATMENTS), max_size=3).map(tuple),
            "prior_treatment": answer_text | st.booleans(),
            "commitment": answer_text,
        },
    ),
    tags=st.frozensets(st.sampled_from(TAGS), max_size=3),
    activities=st.lists(activities, max_size=6).map(tuple),
    do_not_contact=st.booleans(),
    unsubscribed=st.booleans(),
)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(leads)
def test_score_always_between_1_and_100(lead):
    result = score(lead, MODEL, NOW)
    assert 1 <= result.score <= 100
    assert 0 <= result.fit <= 100
    assert 0 <= result.intent <= 100


@FAST
@given(leads)
def test_score_is_deterministic(lead):
    first = score(lead, MODEL, NOW)
    again = score(Lead.from_dict(lead.to_dict()), MODEL, NOW)
    assert first == again


@FAST
@given(leads)
def test_explanation_adds_up_to_total(lead):
    result = score(lead, MODEL, NOW)
    raw = sum(hit.points for hit in result.hits)
    assert result.score == min(100, max(1, int(raw + 0.5) if raw >= 0 else 1))


# The default model with base points, compiled once for the property below.
BASE_MODELS = {base: MODEL.model_copy(update={"base_points": base}) for base in (-40, -7.5, 12, 60)}


@FAST
@given(leads, st.sampled_from(sorted(BASE_MODELS)))
def test_base_points_shift_only_total(lead, base_points):
    without = score(lead, MODEL, NOW)
    result = score(lead, BASE_MODELS[base_points], NOW)
    raw = base_points + sum(hit.points for hit in without.hits)
    assert result.score == min(100, max(1, int(raw + 0.5) if raw >= 0 else 1))
    assert result.fit == without.fit
    assert result.intent == without.intent
    assert result.hits[1:] == without.hits
    assert result.hits[0].points == base_points
    assert result.top_reasons(5) == without.top_reasons(5)


@FAST
@given(leads, st.integers(min_value=0, max_value=len(TIMELINES_SOONEST_FIRST) - 2))
def test_sooner_timeline_never_lowers_score(lead, index):
    sooner, later = TIMELINES_SOONEST_FIRST[index], TIMELINES_SOONEST_FIRST[index + 1]
    answers = dict(lead.answers)
    with_sooner = Lead.from_dict({**lead.to_dict(), "answers": {**answers, "timeline": sooner}})
    with_later = Lead.from_dict({**lead.to_dict(), "answers": {**answers, "timeline": later}})
    assert score(with_sooner, MODEL, NOW).score >= score(with_later, MODEL, NOW).score


@FAST
@given(leads, st.floats(min_value=0, max_value=60))
def test_time_passing_never_raises_engagement_points(lead, days):
    later = NOW + timedelta(days=days)
    groups = {rule.id for rule in MODEL.rules() if rule.group == "engagement"}

    def engagement(moment):
        hits = score(lead, MODEL, moment).hits
        return sum(h.points for h in hits if h.rule_id in groups or h.rule_id.startswith("group:"))

    assert engagement(later) <= engagement(NOW) + 1e-9


money_like = st.text(alphabet="0123456789$£€,.-+k ", max_size=20)


@FAST
@given(st.one_of(st.text(max_size=60), money_like))
def test_parsers_never_raise_and_keep_ranges_ordered(text):
    for parsed in (parse_budget(text), parse_timeline(text, NOW), parse_number(text)):
        assert parsed is None or parsed is UNKNOWN_BY_CHOICE or isinstance(parsed, Quantity)
        if isinstance(parsed, Quantity):
            assert 0 <= parsed.low <= parsed.high


@FAST
@given(st.lists(st.text(max_size=15), max_size=4).map(tuple))
def test_range_rule_takes_best_of_multiple_choices(choices):
    lead = Lead(id="multi", answers={"budget": (*choices, "$900")})
    hits = [hit for hit in score(lead, MODEL, NOW).hits if hit.rule_id == "budget"]
    assert [hit.points for hit in hits] == [25]

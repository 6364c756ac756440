"""The engine, rule kind by rule kind, on small models built for each case."""

import textwrap
from datetime import UTC, datetime, timedelta

import pytest

from scoring.engine import score, score_many
from scoring.lead import Activity, ActivityKind, Lead
from scoring.model import parse_model
from scoring.result import Part, Tier

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
K = ActivityKind

HEADER = textwrap.dedent(
    """\
    name = "Engine test"
    version = "1"

    [treatments.botox]
    label = "Botox"
    synonyms = ["Dysport", "Cosmetic Injections"]
    min_price = 200

    [treatments.filler]
    label = "Dermal filler"
    synonyms = ["Fillers"]
    min_price = 650

    [treatments.hydrafacial]
    label = "Hydrafacial"
    min_price = 199
    """
)


def model_with(rules: str, extra: str = ""):
    return parse_model(HEADER + textwrap.dedent(extra) + "\n" + textwrap.dedent(rules))


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def lead(**kwargs) -> Lead:
    kwargs.setdefault("id", "lead-1")
    return Lead(**kwargs)


def points_of(result, rule_id: str) -> float | None:
    for hit in result.hits:
        if hit.rule_id == rule_id:
            return hit.points
    return None


# ---------------------------------------------------------------- answer rules

TREATMENT_RULE = """
[[fit.rules]]
id = "treatment"
label = "Treatment"
kind = "answer"
field = "treatment"
match = "{match}"
mode = "{mode}"
{cap}
options = [
    {{ treatment = "botox", points = 20 }},
    {{ treatment = "filler", points = 15 }},
    {{ answer = "Laser Hair Removal", synonyms = ["Hair Removal Laser"], points = 10 }},
    {{ answer = "This week", points = 7 }},
    {{ answer = "Other", points = 0 }},
]
"""


def treatment_model(match: str = "exact", mode: str = "best", cap: str = ""):
    return model_with(TREATMENT_RULE.format(match=match, mode=mode, cap=cap))


@pytest.mark.parametrize(
    ("match", "answer", "points"),
    [
        ("exact", "Botox", 20),
        ("exact", "BOTOX", 20),
        ("exact", " botox. ", 20),
        ("exact", "Dysport", 20),
        ("exact", "Cosmetic Injections", 20),
        ("exact", "Hair Removal Laser", 10),
        ("exact", "Laser-Hair Removal", 10),
        ("exact", "Botox for forehead lines", None),
        ("exact", "This Week (Ready to begin)", None),
        ("prefix", "This Week (Ready to begin)", 7),
        ("prefix", "Thisweek", 7),
        ("prefix", "This weekend", None),
        ("contains", "Botox for forehead lines", 20),
        ("contains", "I'd like fillers please", 15),
        ("contains", "Botoxing", None),
    ],
    ids=lambda value: str(value),
)
def test_answer_rule_matches_options(match, answer, points):
    model = treatment_model(match=match)
    result = score(lead(answers={"treatment": answer}), model, NOW)
    assert points_of(result, "treatment") == points


@pytest.mark.parametrize(
    ("answer", "points", "evidence"),
    [
        (("Fillers", "Botox"), 20, 'treatment "Botox"'),
        ("Fillers; Botox", 20, 'treatment "Botox"'),
        ("Fillers|Hair Removal Laser", 15, 'treatment "Fillers"'),
        ("Fillers, Botox", 20, 'treatment "Botox"'),
    ],
    ids=["tuple", "semicolon", "pipe", "comma"],
)
def test_answer_rule_best_takes_best_choice(answer, points, evidence):
    result = score(lead(answers={"treatment": answer}), treatment_model(), NOW)
    hit = next(hit for hit in result.hits if hit.rule_id == "treatment")
    assert hit.points == points
    assert hit.evidence == evidence


@pytest.mark.parametrize(
    ("cap", "answer", "points"),
    [
        ("", ("Fillers", "Botox"), 35),
        ("cap = 25", ("Fillers", "Botox"), 25),
        ("cap = 25", ("Botox", "Dysport"), 20),
        ("", "Botox; Fillers; Hair Removal Laser", 45),
    ],
    ids=["uncapped", "capped", "synonyms-count-once", "delimited"],
)
def test_answer_rule_sum_adds_choices(cap, answer, points):
    result = score(lead(answers={"treatment": answer}), treatment_model(mode="sum", cap=cap), NOW)
    assert points_of(result, "treatment") == points


def test_answer_rule_sum_evidence_says_capped():
    model = treatment_model(mode="sum", cap="cap = 25")
    result = score(lead(answers={"treatment": ("Fillers", "Botox")}), model, NOW)
    assert result.hits[0].evidence == 'treatment "Fillers", "Botox" (capped at 25)'


def test_answer_with_unmatched_text_is_reported_unknown():
    result = score(lead(answers={"treatment": "Tattoo Removal"}), treatment_model(), NOW)
    assert result.hits == ()
    assert len(result.unknowns) == 1
    unknown = result.unknowns[0]
    assert (unknown.field, unknown.value) == ("treatment", "Tattoo Removal")
    assert "treatment" in unknown.reason


def test_answer_partly_matched_reports_only_unmatched_choice():
    result = score(lead(answers={"treatment": "Botox; Tattoo Removal"}), treatment_model(), NOW)
    assert points_of(result, "treatment") == 20
    assert [u.value for u in result.unknowns] == ["Tattoo Removal"]


@pytest.mark.parametrize("answer", ["Not sure", "Need guidance", "I don't know"], ids=str)
def test_answer_without_commitment_scores_nothing_silently(answer):
    result = score(lead(answers={"treatment": answer}), treatment_model(), NOW)
    assert result.hits == ()
    assert result.unknowns == ()


@pytest.mark.parametrize(
    "answer", [None, "", "   ", ()], ids=["none", "empty", "spaces", "no-choice"]
)
def test_missing_answer_scores_nothing_and_reports_nothing(answer):
    answers = {} if answer is None else {"treatment": answer}
    result = score(lead(answers=answers), treatment_model(), NOW)
    assert result.hits == ()
    assert result.unknowns == ()


def test_zero_point_option_matches_without_hit_or_unknown():
    result = score(lead(answers={"treatment": "Other"}), treatment_model(), NOW)
    assert result.hits == ()
    assert result.unknowns == ()


@pytest.mark.parametrize(
    ("value", "points"),
    [(True, 10), (False, 2), ("yes", 10), ("No", 2)],
    ids=["true", "false", "yes-text", "no-text"],
)
def test_answer_rule_reads_yes_no_values(value, points):
    model = model_with(
        """
        [[fit.rules]]
        id = "prior"
        label = "Had it before"
        kind = "answer"
        field = "prior"
        options = [{ answer = "Yes", points = 10 }, { answer = "No", points = 2 }]
        """
    )
    assert points_of(score(lead(answers={"prior": value}), model, NOW), "prior") == points


def test_answer_rule_reads_attributes_when_no_answer():
    model = model_with(
        """
        [[fit.rules]]
        id = "area"
        label = "Service area"
        kind = "answer"
        field = "postal_code"
        match = "prefix"
        options = [{ answer = "902", points = 5 }]
        """
    )
    result = score(lead(attributes={"postal_code": "90210"}), model, NOW)
    # "902" is a whole word prefix only when followed by a space; 90210 is one word.
    assert points_of(result, "area") is None
    result = score(lead(attributes={"postal_code": "902 10"}), model, NOW)
    assert points_of(result, "area") == 5


# ----------------------------------------------------------------- range rules

BUDGET_RULE = """
[[fit.rules]]
id = "budget"
label = "Budget"
kind = "range"
field = "budget"
parse = "budget"
{use}
options = [{{ answer = "Package Deal", points = 18 }}]
bands = [
    {{ min = 800, points = 25 }},
    {{ min = 400, max = 800, points = 20 }},
    {{ min = 200, max = 400, points = 12 }},
    {{ min = 0, max = 200, points = -5 }},
]
"""


@pytest.mark.parametrize(
    ("answer", "points"),
    [
        ("$1,000-$2,500", 25),
        ("2k", 25),
        ("$800+", 25),
        ("$800", 25),
        ("$799", 20),
        ("$400-800", 20),
        ("£400-800 per session", 20),
        ("Premium — £800+ per session", 25),
        ("Entry Level — £200-400 per session", 12),
        ("Under $500", 12),
        ("$150", -5),
        ("Package Deal — Best value bundles", 18),
        (900, 25),
        (350.0, 12),
    ],
    ids=str,
)
def test_budget_rule_scores_by_band(answer, points):
    model = model_with(BUDGET_RULE.format(use=""))
    assert points_of(score(lead(answers={"budget": answer}), model, NOW), "budget") == points


@pytest.mark.parametrize(
    ("use", "points"),
    [('use = "low"', 20), ('use = "mid"', 20), ('use = "high"', 25)],
    ids=["low", "mid", "high"],
)
def test_range_rule_use_picks_range_end(use, points):
    model = model_with(BUDGET_RULE.format(use=use))
    result = score(lead(answers={"budget": "$500-$900"}), model, NOW)
    assert points_of(result, "budget") == points


def test_budget_evidence_shows_converted_dollars():
    model = model_with(BUDGET_RULE.format(use=""))
    result = score(lead(answers={"budget": "£400-800 per session"}), model, NOW)
    assert result.hits[0].evidence == 'budget "£400-800 per session" (≈ $508–$1,016)'


def test_budget_rates_come_from_model():
    model = model_with(BUDGET_RULE.format(use=""), extra="[currency]\nrates = { GBP = 0.5 }\n")
    result = score(lead(answers={"budget": "£1000"}), model, NOW)
    assert points_of(result, "budget") == 20


def test_unknown_by_choice_budget_is_not_reported():
    model = model_with(BUDGET_RULE.format(use=""))
    result = score(lead(answers={"budget": "Not sure"}), model, NOW)
    assert result.hits == ()
    assert result.unknowns == ()


def test_unreadable_budget_is_reported_unknown():
    model = model_with(BUDGET_RULE.format(use=""))
    result = score(lead(answers={"budget": "whatever it takes"}), model, NOW)
    assert result.hits == ()
    assert [(u.field, u.value) for u in result.unknowns] == [("budget", "whatever it takes")]
    assert "budget" in result.unknowns[0].reason


def test_value_outside_every_band_scores_nothing():
    model = model_with(
        """
        [[fit.rules]]
        id = "age"
        label = "Age"
        kind = "range"
        field = "age"
        parse = "number"
        bands = [{ min = 25, max = 56, points = 5 }]
        """
    )
    result = score(lead(attributes={"age": "18-22"}), model, NOW)
    assert result.hits == ()
    assert result.unknowns == ()
    assert points_of(score(lead(attributes={"age": "36-45"}), model, NOW), "age") == 5


TIMELINE_RULE = """
[[intent.rules]]
id = "timeline"
label = "Timeline"
kind = "range"
field = "timeline"
parse = "timeline"
options = [{ answer = "Special Event", points = 22 }]
bands = [
    { min = 0, max = 8, points = 30 },
    { min = 8, max = 15, points = 26 },
    { min = 15, max = 32, points = 22 },
    { min = 32, max = 92, points = 12 },
    { min = 92, max = 183, points = 5 },
]
"""


@pytest.mark.parametrize(
    ("answer", "points"),
    [
        ("ASAP", 30),
        ("Immediately", 30),
        ("This week", 30),
        ("Ready now / this week", 30),
        ("Within 2 weeks", 26),
        ("This month", 22),
        ("Within 1 month", 22),
        ("1-3 months", 12),
        ("2-3 months", 12),
        ("3-6 months", 5),
        ("6+ months", None),
        ("Just exploring", None),
        ("Just researching", None),
        ("Special Event (Preparing for occasion)", 22),
        ("2026-12-10", 30),
    ],
    ids=str,
)
def test_timeline_rule_scores_by_band(answer, points):
    model = model_with(TIMELINE_RULE)
    assert points_of(score(lead(answers={"timeline": answer}), model, NOW), "timeline") == points


# ----------------------------------------------------------------- event rules


def event_model(**settings) -> object:
    lines = "\n".join(f"{key} = {value}" for key, value in settings.items())
    return model_with(
        f"""
[[intent.rules]]
id = "event"
label = "Event"
kind = "event"
{lines}
"""
    )


@pytest.mark.parametrize(
    ("settings", "activities", "points"),
    [
        ({"activity": '"email_click"', "points": 5}, [Activity(K.EMAIL_CLICK, last_at=ago(1))], 5),
        (
            {"activity": '"email_click"', "points": 5},
            [Activity(K.EMAIL_OPEN, last_at=ago(1))],
            None,
        ),
        (
            {"activity": '"email_click"', "points": 5},
            [Activity(K.EMAIL_CLICK, count=0, last_at=ago(1))],
            None,
        ),
        (
            {"activity": '"email_click"', "points": 5, "within_days": 7},
            [Activity(K.EMAIL_CLICK, last_at=ago(8))],
            None,
        ),
        (
            {"activity": '"email_click"', "points": 5, "within_days": 7},
            [Activity(K.EMAIL_CLICK, last_at=ago(6.9))],
            5,
        ),
        (
            {"activity": '"email_click"', "points": 8, "half_life_days": 7},
            [Activity(K.EMAIL_CLICK, last_at=ago(7))],
            4,
        ),
        (
            {"activity": '"email_click"', "points": 8, "half_life_days": 7},
            [Activity(K.EMAIL_CLICK, last_at=ago(14))],
            2,
        ),
        (
            {"activity": '"email_click"', "points": 8, "half_life_days": 7},
            [Activity(K.EMAIL_CLICK, last_at=NOW + timedelta(hours=2))],
            8,
        ),
        (
            {"activity": '"email_click"', "points": 3, "count": '"per_event"', "cap": 9},
            [Activity(K.EMAIL_CLICK, count=2, last_at=ago(1))],
            6,
        ),
        (
            {"activity": '"email_click"', "points": 3, "count": '"per_event"', "cap": 9},
            [Activity(K.EMAIL_CLICK, count=5, last_at=ago(1))],
            9,
        ),
        (
            {"activity": '"email_click"', "points": 3, "count": '"per_event"', "cap": 9},
            [
                Activity(K.EMAIL_CLICK, last_at=ago(1)),
                Activity(K.EMAIL_CLICK, last_at=ago(2)),
            ],
            6,
        ),
        (
            {
                "activity": '"email_click"',
                "points": 4,
                "count": '"per_event"',
                "cap": 20,
                "half_life_days": 1,
            },
            [Activity(K.EMAIL_CLICK, last_at=ago(0)), Activity(K.EMAIL_CLICK, last_at=ago(1))],
            6,
        ),
        (
            {"activity": '"email_click"', "points": -2, "count": '"per_event"', "cap": 5},
            [Activity(K.EMAIL_CLICK, count=4, last_at=ago(1))],
            -5,
        ),
        (
            {"activity": '"form_submission"', "points": 5, "min_count": 2},
            [Activity(K.FORM_SUBMISSION, last_at=ago(1))],
            None,
        ),
        (
            {"activity": '"form_submission"', "points": 5, "min_count": 2},
            [Activity(K.FORM_SUBMISSION, count=2, last_at=ago(1))],
            5,
        ),
        (
            {"activity": '"page_view"', "points": 8, "url": '"*pricing*"'},
            [Activity(K.PAGE_VIEW, last_at=ago(1), url="https://spa.example/Pricing")],
            8,
        ),
        (
            {"activity": '"page_view"', "points": 8, "url": '"*pricing*"'},
            [Activity(K.PAGE_VIEW, last_at=ago(1), url="https://spa.example/about")],
            None,
        ),
        (
            {"activity": '"page_view"', "points": 8, "url": '"*pricing*"'},
            [Activity(K.PAGE_VIEW, last_at=ago(1))],
            None,
        ),
        (
            {"activity": '"page_view"', "points": 8, "url": '["*pricing*", "*prices*"]'},
            [Activity(K.PAGE_VIEW, last_at=ago(1), url="/our-prices")],
            8,
        ),
        ({"activity": '"video_view"', "points": 6}, [Activity(K.VIDEO_VIEW)], 6),
        (
            {"activity": '"video_view"', "points": 6, "within_days": 30},
            [Activity(K.VIDEO_VIEW)],
            None,
        ),
    ],
    ids=[
        "once",
        "other-kind",
        "zero-count",
        "outside-window",
        "inside-window",
        "one-half-life",
        "two-half-lives",
        "future-date-not-boosted",
        "per-event",
        "per-event-capped",
        "per-event-separate-events",
        "per-event-each-decays",
        "negative-per-event-capped",
        "below-min-count",
        "min-count",
        "url-match-ignores-case",
        "url-no-match",
        "url-missing",
        "url-list",
        "undated-untimed-rule",
        "undated-timed-rule",
    ],
)
def test_event_rule(settings, activities, points):
    result = score(lead(activities=tuple(activities)), event_model(**settings), NOW)
    assert points_of(result, "event") == points


def test_event_evidence_counts_and_age():
    model = event_model(activity='"email_click"', points=3, count='"per_event"', cap=9)
    result = score(lead(activities=(Activity(K.EMAIL_CLICK, count=3, last_at=ago(2)),)), model, NOW)
    assert result.hits[0].short() == "3 email clicks, last 2 days ago → +9"


def test_page_event_evidence_drops_query_string():
    model = event_model(activity='"page_view"', points=8, url='"*pricing*"')
    activity = Activity(
        K.PAGE_VIEW, count=12, last_at=ago(0.2), url="https://spa.example/pricing?email=a@b.c"
    )
    result = score(lead(activities=(activity,)), model, NOW)
    assert result.hits[0].evidence == "page view of /pricing, last today"
    assert "a@b.c" not in result.hits[0].evidence


# --------------------------------------------------------------- absence rules

NO_OPEN = """
[[intent.rules]]
id = "no_open"
label = "No email opened in 30 days"
kind = "absence"
trigger = ["email_sent"]
expect = ["email_open", "email_click"]
days = 30
window = "recent"
points = -10
"""

NO_REPLY = """
[[intent.rules]]
id = "no_reply"
label = "No reply 14 days after outreach"
kind = "absence"
trigger = "outreach"
expect = "reply"
days = 14
window = "after_trigger"
points = -10
"""


@pytest.mark.parametrize(
    ("created", "activities", "fires"),
    [
        (ago(90), [], False),
        (ago(90), [Activity(K.EMAIL_SENT, count=5, first_at=ago(60), last_at=ago(2))], True),
        (
            ago(90),
            [
                Activity(K.EMAIL_SENT, count=5, first_at=ago(60), last_at=ago(2)),
                Activity(K.EMAIL_OPEN, last_at=ago(10)),
            ],
            False,
        ),
        (
            ago(90),
            [
                Activity(K.EMAIL_SENT, count=5, first_at=ago(60), last_at=ago(2)),
                Activity(K.EMAIL_CLICK, last_at=ago(29)),
            ],
            False,
        ),
        (
            ago(90),
            [
                Activity(K.EMAIL_SENT, count=5, first_at=ago(60), last_at=ago(2)),
                Activity(K.EMAIL_OPEN, last_at=ago(31)),
            ],
            True,
        ),
        (ago(90), [Activity(K.EMAIL_SENT, count=2, first_at=ago(10), last_at=ago(2))], False),
        (ago(10), [Activity(K.EMAIL_SENT, count=2, last_at=ago(2))], False),
        (ago(45), [Activity(K.EMAIL_SENT, count=2, last_at=ago(2))], True),
        (None, [Activity(K.EMAIL_SENT, count=2, last_at=ago(2))], False),
        (None, [Activity(K.EMAIL_SENT, count=2, last_at=ago(40))], True),
        (
            ago(90),
            [
                Activity(K.EMAIL_SENT, count=5, first_at=ago(60), last_at=ago(2)),
                Activity(K.EMAIL_OPEN, count=3),
            ],
            False,
        ),
        (
            ago(90),
            [
                Activity(K.EMAIL_SENT, count=5, first_at=ago(60), last_at=ago(2)),
                Activity(K.EMAIL_OPEN, count=0),
            ],
            True,
        ),
    ],
    ids=[
        "no-emails-sent",
        "sent-for-60-days-never-opened",
        "opened-10-days-ago",
        "clicked-29-days-ago",
        "last-open-31-days-ago",
        "first-send-10-days-ago",
        "new-lead-first-send-unknown",
        "old-lead-first-send-unknown",
        "no-dates-but-recent-send",
        "only-send-40-days-ago",
        "undated-opens-benefit-of-doubt",
        "zero-opens-counter",
    ],
)
def test_no_open_rule_is_fair(created, activities, fires):
    model = model_with(NO_OPEN)
    result = score(lead(created_at=created, activities=tuple(activities)), model, NOW)
    assert (points_of(result, "no_open") == -10) is fires


def test_no_open_evidence():
    model = model_with(NO_OPEN)
    sent = Activity(K.EMAIL_SENT, count=5, first_at=ago(60), last_at=ago(2))
    result = score(lead(activities=(sent,)), model, NOW)
    assert result.hits[0].short() == "5 emails sent, no email open in 30 days → -10"


@pytest.mark.parametrize(
    ("activities", "fires"),
    [
        ([], False),
        ([Activity(K.OUTREACH, last_at=ago(20))], True),
        ([Activity(K.OUTREACH, last_at=ago(10))], False),
        ([Activity(K.OUTREACH, last_at=ago(20)), Activity(K.REPLY, last_at=ago(18))], False),
        ([Activity(K.OUTREACH, last_at=ago(20)), Activity(K.REPLY, last_at=ago(25))], True),
        (
            [
                Activity(K.OUTREACH, count=2, first_at=ago(20), last_at=ago(15)),
                Activity(K.REPLY, last_at=ago(18)),
            ],
            True,
        ),
        (
            [
                Activity(K.OUTREACH, count=2, first_at=ago(20), last_at=ago(3)),
                Activity(K.REPLY, last_at=ago(18)),
            ],
            False,
        ),
        (
            [
                Activity(K.OUTREACH, count=2, first_at=ago(20), last_at=ago(3)),
            ],
            True,
        ),
        ([Activity(K.OUTREACH, last_at=ago(20)), Activity(K.REPLY, count=1)], False),
        ([Activity(K.OUTREACH, count=3)], False),
    ],
    ids=[
        "no-outreach",
        "outreach-20-days-no-reply",
        "outreach-10-days-still-waiting",
        "replied-after-outreach",
        "reply-only-before-outreach",
        "second-outreach-15-days-unanswered",
        "latest-outreach-still-fresh",
        "first-of-two-outreaches-unanswered",
        "undated-reply-benefit-of-doubt",
        "undated-outreach",
    ],
)
def test_no_reply_rule_is_fair(activities, fires):
    model = model_with(NO_REPLY)
    result = score(lead(activities=tuple(activities)), model, NOW)
    assert (points_of(result, "no_reply") == -10) is fires


def test_no_reply_evidence():
    model = model_with(NO_REPLY)
    result = score(lead(activities=(Activity(K.OUTREACH, last_at=ago(20)),)), model, NOW)
    assert result.hits[0].evidence == "outreach 20 days ago, no reply since"


# --------------------------------------------------------------------- tags


@pytest.mark.parametrize(
    ("tags", "points"),
    [
        ({"VIP"}, 5),
        ({"vip"}, 5),
        ({"Returning Patient"}, 5),
        ({"returning-patient"}, 5),
        ({"facebook lead"}, None),
        (set(), None),
    ],
    ids=["upper", "lower", "spaced", "hyphenated", "other-tag", "no-tags"],
)
def test_tag_rule(tags, points):
    model = model_with(
        """
        [[fit.rules]]
        id = "vip"
        label = "VIP or returning"
        kind = "tag"
        tags = ["vip", "returning patient"]
        points = 5
        """
    )
    assert points_of(score(lead(tags=frozenset(tags)), model, NOW), "vip") == points


# ---------------------------------------------------- budget below treatment

BUDGET_BELOW = """
[[fit.rules]]
id = "below"
label = "Budget below price"
kind = "budget_below_treatment"
points = -15
"""


@pytest.mark.parametrize(
    ("budget", "treatment", "fires"),
    [
        ("Under $100", "Botox", True),
        ("$150", "Dysport", True),
        ("$200", "Botox", False),
        ("$300", "Fillers", True),
        ("$300", ("Fillers", "Botox"), False),
        ("$300", "Fillers; Botox", False),
        ("$100-$250", "Botox", False),
        ("$800+", "Dermal filler", False),
        ("£150", "Botox", True),
        ("not sure", "Botox", False),
        ("cheap", "Botox", False),
        ("$50", "Tattoo removal", False),
        (100, "Botox", True),
        ("$50", "Botox for my forehead", True),
    ],
    ids=str,
)
def test_budget_below_treatment_rule(budget, treatment, fires):
    model = model_with(BUDGET_BELOW)
    result = score(lead(answers={"budget": budget, "treatment": treatment}), model, NOW)
    assert (points_of(result, "below") == -15) is fires


def test_budget_below_treatment_evidence():
    model = model_with(BUDGET_BELOW)
    result = score(lead(answers={"budget": "$300", "treatment": "Fillers"}), model, NOW)
    assert result.hits[0].evidence == 'budget "$300" below Dermal filler from $650'


# ------------------------------------------------------------ disqualifiers

DISQUALIFIERS = """
[[intent.rules]]
id = "fast"
label = "Fast"
kind = "tag"
tags = ["fast"]
points = 60

[[disqualifiers]]
id = "dnc"
label = "Do not contact"
flag = "do_not_contact"

[[disqualifiers]]
id = "unsub"
label = "Unsubscribed"
flag = "unsubscribed"

[[disqualifiers]]
id = "spam"
label = "Spam or test"
tags = ["spam", "test"]

[[disqualifiers]]
id = "competitor"
label = "Competitor"
field = "company_type"
match = "prefix"
answers = ["Med spa", "Competitor"]
"""


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, ()),
        ({"do_not_contact": True}, ("dnc",)),
        ({"unsubscribed": True}, ("unsub",)),
        ({"tags": frozenset({"fast", "TEST"})}, ("spam",)),
        ({"attributes": {"company_type": "Med Spa (competitor)"}}, ("competitor",)),
        ({"do_not_contact": True, "tags": frozenset({"spam", "fast"})}, ("dnc", "spam")),
    ],
    ids=["none", "do-not-contact", "unsubscribed", "test-tag", "answer", "several"],
)
def test_disqualifiers(kwargs, expected):
    model = model_with(DISQUALIFIERS)
    kwargs.setdefault("tags", frozenset({"fast"}))
    result = score(lead(**kwargs), model, NOW)
    assert result.disqualified_by == expected
    assert (result.tier is Tier.DISQUALIFIED) is bool(expected)
    assert result.score == 60


# ------------------------------------------------- caps, parts, totals, tiers

ENGAGEMENT = """
[groups.engagement]
cap = 10

[[intent.rules]]
id = "click"
label = "Clicked"
kind = "event"
activity = "email_click"
points = 6
group = "engagement"

[[intent.rules]]
id = "video"
label = "Video"
kind = "event"
activity = "video_view"
points = 8
group = "engagement"

[[intent.rules]]
id = "reply"
label = "Replied"
kind = "event"
activity = "reply"
points = 20
"""


def test_group_cap_adds_explaining_hit():
    model = model_with(ENGAGEMENT)
    activities = (Activity(K.EMAIL_CLICK), Activity(K.VIDEO_VIEW))
    result = score(lead(activities=activities), model, NOW)
    assert [hit.rule_id for hit in result.hits] == ["click", "video", "group:engagement"]
    assert result.hits[-1].points == -4
    assert result.hits[-1].evidence == "engagement points 14 capped at 10"
    assert result.score == 10


def test_group_under_cap_adds_nothing():
    model = model_with(ENGAGEMENT)
    result = score(lead(activities=(Activity(K.VIDEO_VIEW),)), model, NOW)
    assert [hit.rule_id for hit in result.hits] == ["video"]
    assert result.score == 8


def test_parts_are_percent_of_part_maximum():
    model = model_with(ENGAGEMENT + BUDGET_RULE.format(use=""))
    assert model.part_max(Part.INTENT) == 30
    assert model.part_max(Part.FIT) == 25
    result = score(lead(answers={"budget": "$500"}, activities=(Activity(K.REPLY),)), model, NOW)
    assert result.fit == 80
    assert result.intent == 67
    assert result.score == 40


def test_negative_part_points_floor_at_zero():
    model = model_with(BUDGET_RULE.format(use=""))
    result = score(lead(answers={"budget": "$50"}), model, NOW)
    assert result.fit == 0
    assert result.score == 1


@pytest.mark.parametrize(
    ("points", "expected"),
    [(0.4, 1), (1.5, 2), (2.5, 3), (99.5, 100), (250, 100), (-40, 1)],
    ids=["below-one", "half-up", "half-up-even", "just-below-cap", "over-100", "negative"],
)
def test_total_is_rounded_half_up_and_clamped(points, expected):
    model = model_with(
        f"""
        [[intent.rules]]
        id = "t"
        label = "T"
        kind = "tag"
        tags = ["x"]
        points = {points}
        """
    )
    assert score(lead(tags=frozenset({"x"})), model, NOW).score == expected


TIER_MODEL = """
[tiers]
hot = 80
warm = 50
hot_min_fit = 50
warm_min_intent = 20

[[fit.rules]]
id = "fit"
label = "Fit"
kind = "answer"
field = "fit"
options = [{{ answer = "high", points = {fit_high} }}, {{ answer = "low", points = 10 }}]

[[intent.rules]]
id = "intent"
label = "Intent"
kind = "answer"
field = "intent"
options = [{{ answer = "high", points = 50 }}, {{ answer = "low", points = 5 }}]
"""


@pytest.mark.parametrize(
    ("fit", "intent", "tier"),
    [
        ("high", "high", Tier.HOT),
        ("low", "high", Tier.WARM),
        ("high", "low", Tier.COLD),
        ("low", "low", Tier.COLD),
    ],
    ids=["both-high", "fit-gate-blocks-hot", "intent-gate-blocks-warm", "both-low"],
)
def test_tier_cutoffs_and_gates(fit, intent, tier):
    model = model_with("", extra=TIER_MODEL.format(fit_high=50))
    result = score(lead(answers={"fit": fit, "intent": intent}), model, NOW)
    assert result.tier is tier


def test_tier_gate_applies_at_score_above_cutoff():
    model = model_with("", extra=TIER_MODEL.format(fit_high=50))
    # 55 is above the warm cutoff, but an intent part of 10 is below warm_min_intent.
    result = score(lead(answers={"fit": "high", "intent": "low"}), model, NOW)
    assert result.score == 55
    assert result.intent == 10
    assert result.tier is Tier.COLD


def test_result_carries_version_clock_and_order():
    model = model_with(TREATMENT_RULE.format(match="exact", mode="best", cap="") + TIMELINE_RULE)
    result = score(lead(answers={"timeline": "ASAP", "treatment": "Botox"}), model, NOW)
    assert result.model_version == model.version
    assert result.scored_at == NOW
    assert [hit.rule_id for hit in result.hits] == ["treatment", "timeline"]
    assert result.reasons_text() == 'timeline "ASAP" → +30; treatment "Botox" → +20'


def test_score_rejects_naive_clock():
    with pytest.raises(ValueError, match="timezone-aware"):
        score(lead(), treatment_model(), datetime(2026, 12, 4))


def test_score_many_matches_score():
    model = model_with(TREATMENT_RULE.format(match="exact", mode="best", cap="") + TIMELINE_RULE)
    leads = [
        lead(id=str(i), answers={"timeline": timeline, "treatment": "Botox"})
        for i, timeline in enumerate(["ASAP", "1-3 months", "nonsense"])
    ]
    assert score_many(leads, model, NOW) == [score(one, model, NOW) for one in leads]


def test_numeric_budget_uses_default_currency():
    model = model_with(
        BUDGET_RULE.format(use="") + BUDGET_BELOW,
        extra='[currency]\ndefault = "GBP"\nrates = { GBP = 2.0 }\n',
    )
    # 400 pounds at 2 dollars each: $800, enough for a $650 filler.
    result = score(lead(answers={"budget": 400, "treatment": "Fillers"}), model, NOW)
    assert points_of(result, "budget") == 25
    assert points_of(result, "below") is None
    result = score(lead(answers={"budget": 300, "treatment": "Fillers"}), model, NOW)
    assert points_of(result, "below") == -15


def test_numeric_timeline_counts_days():
    model = model_with(TIMELINE_RULE)
    assert points_of(score(lead(answers={"timeline": 10}), model, NOW), "timeline") == 26


@pytest.mark.parametrize(
    ("settings", "activity", "points", "evidence"),
    [
        (
            {"activity": '"email_click"', "points": 3, "count": '"per_event"', "cap": 100},
            Activity(K.EMAIL_CLICK, count=20, first_at=ago(365), last_at=ago(1)),
            60,
            "20 email clicks, last 1 day ago",
        ),
        (
            {
                "activity": '"email_click"',
                "points": 3,
                "count": '"per_event"',
                "cap": 30,
                "within_days": 30,
            },
            Activity(K.EMAIL_CLICK, count=20, first_at=ago(365), last_at=ago(1)),
            6,
            "about 2 email clicks in 30 days, last 1 day ago",
        ),
        (
            {
                "activity": '"email_click"',
                "points": 3,
                "count": '"per_event"',
                "cap": 30,
                "within_days": 30,
            },
            Activity(K.EMAIL_CLICK, count=4, first_at=ago(20), last_at=ago(1)),
            12,
            "4 email clicks, last 1 day ago",
        ),
        (
            {
                "activity": '"email_click"',
                "points": 2,
                "count": '"per_event"',
                "cap": 30,
                "half_life_days": 10,
            },
            Activity(K.EMAIL_CLICK, count=4, first_at=ago(20), last_at=ago(0)),
            4,
            "4 email clicks, last today",
        ),
        (
            {"activity": '"email_click"', "points": 3, "count": '"per_event"', "cap": 30},
            Activity(K.EMAIL_CLICK, count=5, first_at=ago(1), last_at=ago(9)),
            15,
            "5 email clicks, last 9 days ago",
        ),
    ],
    ids=[
        "no-window-counts-all",
        "window-takes-its-share",
        "all-inside-window",
        "decay-at-middle",
        "first-after-last-ignored",
    ],
)
def test_event_rule_spreads_aggregate_between_dates(settings, activity, points, evidence):
    result = score(lead(activities=(activity,)), event_model(**settings), NOW)
    assert points_of(result, "event") == points
    assert result.hits[0].evidence == evidence


def test_min_count_uses_events_inside_window():
    model = event_model(activity='"form_submission"', points=5, min_count=2, within_days=60)
    old_and_new = Activity(K.FORM_SUBMISSION, count=2, first_at=ago(300), last_at=ago(1))
    assert points_of(score(lead(activities=(old_and_new,)), model, NOW), "event") is None
    both_recent = Activity(K.FORM_SUBMISSION, count=2, first_at=ago(30), last_at=ago(1))
    assert points_of(score(lead(activities=(both_recent,)), model, NOW), "event") == 5

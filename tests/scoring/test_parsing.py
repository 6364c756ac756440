"""Answer parsing over the spellings real med spa forms and leads use."""

import math
from datetime import UTC, datetime

import pytest

from scoring.parsing import (
    UNKNOWN_BY_CHOICE,
    Quantity,
    normalize_answer,
    parse_budget,
    parse_number,
    parse_timeline,
    split_multi,
    squash,
)

INF = math.inf
GBP = 1.27
EUR = 1.08


@pytest.mark.parametrize(
    ("text", "low", "high", "currency"),
    [
        ("$1,000-$2,500", 1000, 2500, "USD"),
        ("$1,000 - $2,500", 1000, 2500, "USD"),
        ("2k", 2000, 2000, "USD"),
        ("1-2k", 1000, 2000, "USD"),
        ("between $1k and $2k", 1000, 2000, "USD"),
        ("Under $500", 0, 500, "USD"),
        ("less than 300 dollars", 0, 300, "USD"),
        ("up to $750", 0, 750, "USD"),
        ("$800+", 800, INF, "USD"),
        ("over $1,000", 1000, INF, "USD"),
        ("at least 500", 500, INF, "USD"),
        ("$300", 300, 300, "USD"),
        ("around 500 dollars", 500, 500, "USD"),
        ("500 USD", 500, 500, "USD"),
        ("$10,000", 10000, 10000, "USD"),
        ("£400-800 per session", 400 * GBP, 800 * GBP, "GBP"),
        ("Entry Level — £200-400 per session", 200 * GBP, 400 * GBP, "GBP"),
        ("Standard — £400-800 per session", 400 * GBP, 800 * GBP, "GBP"),
        ("Premium — £800+ per session", 800 * GBP, INF, "GBP"),
        ("€300", 300 * EUR, 300 * EUR, "EUR"),
        ("250 euros", 250 * EUR, 250 * EUR, "EUR"),
        ("none", 0, 0, "USD"),
    ],
    ids=lambda value: str(value) if isinstance(value, str) else None,
)
def test_budget_text_parses_to_dollars(text, low, high, currency):
    parsed = parse_budget(text)
    assert isinstance(parsed, Quantity), parsed
    assert parsed.low == pytest.approx(low)
    assert parsed.high == pytest.approx(high)
    assert parsed.currency == currency


@pytest.mark.parametrize(
    "text",
    [
        "not sure",
        "Not sure yet",
        "Need guidance",
        "I don't know",
        "Prefer not to say",
        "N/A",
        "idk",
    ],
    ids=str,
)
def test_budget_without_commitment_is_unknown_by_choice(text):
    assert parse_budget(text) is UNKNOWN_BY_CHOICE


@pytest.mark.parametrize(
    "text",
    ["Package Deal — Best value bundles", "cheap", "whatever it costs", "", "???"],
    ids=["package-deal", "cheap", "whatever", "empty", "punctuation"],
)
def test_budget_without_amount_is_unreadable(text):
    assert parse_budget(text) is None


def test_budget_period_is_kept_as_note():
    parsed = parse_budget("£400-800 per session")
    assert isinstance(parsed, Quantity)
    assert parsed.note == "per session"


def test_budget_rates_override_defaults():
    parsed = parse_budget("£100", rates=(("GBP", 2.0),))
    assert isinstance(parsed, Quantity)
    assert parsed.low == 200


def test_budget_without_sign_uses_default_currency():
    parsed = parse_budget("400", rates=(("GBP", 1.5),), default_currency="GBP")
    assert isinstance(parsed, Quantity)
    assert parsed.low == 600
    assert parsed.currency == "GBP"


@pytest.mark.parametrize(
    "text",
    ["CA$500", "C$500", "AU$400", "A$400", "500 CAD", "CHF 300"],
    ids=str,
)
def test_budget_in_currency_without_rate_is_unreadable(text):
    assert parse_budget(text) is None


def test_budget_without_sign_in_currency_without_rate_is_unreadable():
    assert parse_budget("500", default_currency="CHF") is None


def test_budget_in_other_currency_with_model_rate():
    parsed = parse_budget("CA$500", rates=(("CAD", 0.7),))
    assert isinstance(parsed, Quantity)
    assert parsed.low == pytest.approx(350)
    assert parsed.currency == "CAD"


@pytest.mark.parametrize("text", ["a $500 budget", "$500 (USD)"], ids=str)
def test_budget_dollar_sign_after_word_is_usd(text):
    parsed = parse_budget(text)
    assert isinstance(parsed, Quantity)
    assert parsed.currency == "USD"


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("ASAP", 0, 1),
        ("Immediately", 0, 1),
        ("Ready now / this week", 0, 1),
        ("right away", 0, 1),
        ("This week", 0, 7),
        ("This Week (Ready to begin)", 0, 7),
        ("this weekend", 0, 7),
        ("next week", 7, 14),
        ("Within 2 weeks", 0, 14),
        ("in 2 weeks", 14, 14),
        ("a few weeks", 0, 21),
        ("This month", 0, 30),
        ("This Month (Planning ahead)", 0, 30),
        ("Within 1 month", 0, 30),
        ("within a month", 0, 30),
        ("next month", 30, 60),
        ("1-3 months", 30, 90),
        ("2-3 months", 60, 90),
        ("3-6 months", 90, 180),
        ("Within 3 months", 0, 90),
        ("Within 6 months", 0, 180),
        ("6+ months", 180, INF),
        ("more than 6 months", 180, INF),
        ("Just exploring", 365, INF),
        ("Just Exploring (Learning options)", 365, INF),
        ("Just researching", 365, INF),
        ("not now", 365, INF),
        ("Special Event", 0, 60),
        ("Special Event (Preparing for occasion)", 0, 60),
        ("next year", 180, 545),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_timeline_text_parses_to_days(text, low, high):
    parsed = parse_timeline(text)
    assert isinstance(parsed, Quantity), parsed
    assert (parsed.low, parsed.high) == (low, high)


@pytest.mark.parametrize("text", ["Not sure", "unsure", "Need guidance", "TBD"], ids=str)
def test_timeline_without_commitment_is_unknown_by_choice(text):
    assert parse_timeline(text) is UNKNOWN_BY_CHOICE


@pytest.mark.parametrize("text", ["purple", "whenever the moon is full", ""], ids=str)
def test_timeline_without_meaning_is_unreadable(text):
    assert parse_timeline(text) is None


@pytest.mark.parametrize(
    ("text", "days"),
    [("2026-12-18", 14), ("12/18/2026", 14), ("2026-11-01", 0)],
    ids=["iso", "us", "past-date"],
)
def test_timeline_date_counts_from_now(text, days):
    now = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    parsed = parse_timeline(text, now)
    assert isinstance(parsed, Quantity)
    assert parsed.high == days


def test_timeline_date_without_clock_is_unreadable():
    assert parse_timeline("2026-12-18") is None


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [("46+", 46, INF), ("18-25", 18, 25), ("under 18", 0, 18), ("34", 34, 34)],
    ids=["open", "range", "below", "single"],
)
def test_number_text_parses_to_range(text, low, high):
    parsed = parse_number(text)
    assert isinstance(parsed, Quantity)
    assert (parsed.low, parsed.high) == (low, high)


@pytest.mark.parametrize(
    ("use", "expected"),
    [("low", 400), ("mid", 600), ("high", 800)],
    ids=["low", "mid", "high"],
)
def test_quantity_value_picks_range_end(use, expected):
    assert Quantity(400, 800).value(use) == expected


def test_quantity_mid_of_open_range_is_low():
    assert Quantity(800, INF).value("mid") == 800


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("CoolSculpting", "Coolsculpting"),
        ("Cool Sculpting", "coolsculpting"),
        ("HydraFacial", "Hydrafacial"),
        ("Botox & Injectables", "botox and injectables"),
        ("Micro-needling", "microneedling"),
        ("Crème", "creme"),
    ],
    ids=["case", "spacing", "camel", "ampersand", "hyphen", "accent"],
)
def test_normalized_answers_compare_equal(left, right):
    assert squash(normalize_answer(left)) == squash(normalize_answer(right))


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("Botox; Fillers", ("Botox", "Fillers")),
        ("Botox|Fillers|PRP", ("Botox", "Fillers", "PRP")),
        ("Botox, Fillers", ("Botox", "Fillers")),
        (
            "Yes, medications (Minoxidil/Finasteride); Yes, other clinics",
            ("Yes, medications (Minoxidil/Finasteride)", "Yes, other clinics"),
        ),
        ("Botox;;", ("Botox",)),
    ],
    ids=["semicolon", "pipe", "comma", "comma-inside-choice", "empty-parts"],
)
def test_multi_select_cell_splits_into_choices(text, parts):
    assert split_multi(text) == parts

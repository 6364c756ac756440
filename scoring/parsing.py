"""Answer parsing: text as leads type it, turned into values rules can compare.

- `normalize_answer` folds case, accents, spacing and punctuation so that
  `"CoolSculpting"`, `"Cool Sculpting"` and `"coolsculpting"` compare equal.
- `split_multi` splits a multi-select cell (`"Botox; Fillers"`).
- `parse_budget` turns budget text into a dollar range (`"£400-800 per session"`).
- `parse_timeline` turns timeline text into a range of days from now (`"1-3 months"`).
- `parse_number` reads a plain number or range (`"46+"`, `"18-25"`).

Each parser returns a `Quantity`, `UNKNOWN_BY_CHOICE` when the lead chose not
to say ("Not sure", "Need guidance"), or `None` when the text cannot be read.
The engine scores nothing for the last two, and reports only the unreadable
text as unknown. Parsers are pure and cached by text, because the same option
labels repeat across thousands of leads.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Final

_CACHE_SIZE: Final = 4096

# Dollars per unit of each currency, at approximate 2024 average exchange
# rates. A model file overrides them in its `[currency.rates]` table.
DEFAULT_USD_RATES: Final[Mapping[str, float]] = MappingProxyType(
    {"USD": 1.0, "GBP": 1.27, "EUR": 1.08}
)

_DAYS_PER_WEEK: Final = 7
_DAYS_PER_MONTH: Final = 30
_DAYS_PER_YEAR: Final = 365
# "Just exploring" has no date: it reads as later than any plan with a date.
_EXPLORING_DAYS: Final = _DAYS_PER_YEAR


class _UnknownByChoice:
    """The lead answered, but chose not to commit ("Not sure", "Need guidance")."""

    _instance: _UnknownByChoice | None = None

    def __new__(cls) -> _UnknownByChoice:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN_BY_CHOICE"

    def __bool__(self) -> bool:
        return False


UNKNOWN_BY_CHOICE: Final = _UnknownByChoice()


@dataclass(frozen=True, slots=True)
class Quantity:
    """A parsed amount or duration as a closed range `low`–`high`.

    `high` is `math.inf` for open-ended answers (`"$800+"`, `"6+ months"`).
    Budgets are in dollars after currency conversion; `currency` is the
    currency the lead wrote and `note` a period such as "per session".
    """

    low: float
    high: float
    currency: str | None = None
    note: str | None = None

    def value(self, use: str) -> float:
        """Return one number for band matching: the `low`, `mid` or `high` end.

        An open-ended range has no middle, so `mid` returns its `low` end.
        """
        if use == "low":
            return self.low
        if use == "high":
            return self.high
        if math.isinf(self.high):
            return self.low
        return (self.low + self.high) / 2


ParseResult = Quantity | _UnknownByChoice | None


# ---------------------------------------------------------------- normalizing

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


@lru_cache(maxsize=_CACHE_SIZE * 4)
def normalize_answer(text: str) -> str:
    """Fold an answer for matching: lower case, ASCII, words split by one space.

    `&` reads as `and`, so `"Botox & Injectables"` equals `"Botox and Injectables"`.
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    folded = folded.lower().replace("&", " and ").replace("+", " plus ")
    return _NON_ALNUM.sub(" ", folded).strip()


def squash(normalized: str) -> str:
    """Drop the spaces of a normalized answer, so `"cool sculpting"` equals `"coolsculpting"`."""
    return normalized.replace(" ", "")


_STRONG_DELIMITERS = re.compile(r"\s*[;|\n]\s*")
_COMMA = re.compile(r"\s*,\s*")


@lru_cache(maxsize=_CACHE_SIZE)
def split_multi(text: str) -> tuple[str, ...]:
    """Split a multi-select cell into its choices, dropping empty parts.

    Semicolons, pipes and new lines separate choices. Commas separate them only
    when none of those is present, because real option labels contain commas
    ("Yes, medications (Minoxidil/Finasteride)"). Callers try the whole text
    as one choice before splitting it.
    """
    pattern = _STRONG_DELIMITERS if _STRONG_DELIMITERS.search(text) else _COMMA
    return tuple(part for part in (p.strip() for p in pattern.split(text)) if part)


# ------------------------------------------------------------ chosen not to say

_NO_COMMITMENT_PHRASES: Final = (
    "not sure",
    "unsure",
    "need guidance",
    "needs guidance",
    "guidance needed",
    "dont know",
    "do not know",
    "no idea",
    "idk",
    "prefer not to say",
    "rather not say",
    "undecided",
    "depends",
    "it depends",
    "tbd",
    "n a",
    "na",
    "flexible",
    "tailored quote",
    "open to suggestions",
    "not decided",
)
_NO_COMMITMENT = re.compile(
    r"^(?:i m |im |i am |i )?(?:" + "|".join(re.escape(p) for p in _NO_COMMITMENT_PHRASES) + r")\b"
)


def is_no_commitment(normalized: str) -> bool:
    """Tell whether a normalized answer declines to commit ("Not sure", "Need guidance")."""
    return bool(_NO_COMMITMENT.search(normalized.replace("don t", "dont")))


# -------------------------------------------------------------------- numbers

# A number with optional thousands separators and a k / thousand suffix.
_NUMBER = re.compile(
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*(?P<k>k\b|thousand\b)?",
    re.IGNORECASE,
)
_RANGE_JOIN = re.compile(r"^\s*(?:-|–|—|to|and|or)\s*$", re.IGNORECASE)
_BELOW_WORDS = re.compile(
    r"\b(?:under|below|less than|up to|upto|max(?:imum)?|no more than|at most|within|<)\s*$",
    re.IGNORECASE,
)
_ABOVE_WORDS = re.compile(
    r"\b(?:over|above|more than|at least|min(?:imum)?|from|starting at|>)\s*$", re.IGNORECASE
)
_PLUS_AFTER = re.compile(r"^\s*(?:\+|plus\b|or more\b|and up\b|and above\b|or above\b)")
_PREFIX_SYMBOLS = re.compile(r"[$£€]\s*$")
_CURRENCY_SIGNS = re.compile(r"[$£€]")


@dataclass(frozen=True, slots=True)
class _Number:
    value: float
    has_k: bool
    start: int
    end: int


def _numbers(text: str) -> list[_Number]:
    found = []
    for match in _NUMBER.finditer(text):
        value = float(match.group("num").replace(",", ""))
        found.append(_Number(value, match.group("k") is not None, match.start(), match.end()))
    return found


def _read_range(text: str) -> tuple[float, float] | None:
    """Read `"1,000-2,500"`, `"2k"`, `"under 500"`, `"800+"`, `"between 1 and 2k"`.

    Returns (low, high) with `math.inf` for an open high end, or None when the
    text contains no number.
    """
    numbers = _numbers(text)
    if not numbers:
        return None
    first = numbers[0]
    low = first.value * (1000 if first.has_k else 1)

    if len(numbers) >= 2:
        second = numbers[1]
        between = _PREFIX_SYMBOLS.sub("", text[first.end : second.start])
        between = _CURRENCY_SIGNS.sub("", between)
        if _RANGE_JOIN.match(between):
            high = second.value * (1000 if second.has_k else 1)
            # "1-2k": the suffix of the second number applies to the first.
            if second.has_k and not first.has_k and first.value * 1000 <= high:
                low = first.value * 1000
            return (min(low, high), max(low, high))

    before = text[: first.start]
    before = _PREFIX_SYMBOLS.sub("", before)
    after = text[first.end :]
    if _PLUS_AFTER.match(after) or _ABOVE_WORDS.search(before):
        return (low, math.inf)
    if _BELOW_WORDS.search(before):
        return (0.0, low)
    return (low, low)


@lru_cache(maxsize=_CACHE_SIZE)
def parse_number(text: str) -> ParseResult:
    """Parse a plain number or range, such as an age band: `"46+"` → 46–inf."""
    normalized = normalize_answer(text)
    if is_no_commitment(normalized):
        return UNKNOWN_BY_CHOICE
    parsed = _read_range(text)
    if parsed is None:
        return None
    return Quantity(parsed[0], parsed[1])


# -------------------------------------------------------------------- budgets

# Checked in order, so "CA$" is Canadian before "$" is read as U.S. dollars.
# Currencies without a rate in the model make the budget unreadable, not dollars.
_CURRENCY_MARKERS: Final = (
    ("GBP", re.compile(r"£|\bgbp\b|\bpounds?\b|\bquid\b", re.IGNORECASE)),
    ("EUR", re.compile(r"€|\beur\b|\beuros?\b", re.IGNORECASE)),
    ("CAD", re.compile(r"\bCA?\$|\bcad\b", re.IGNORECASE)),
    ("AUD", re.compile(r"\bAU?\$|\baud\b", re.IGNORECASE)),
    ("CHF", re.compile(r"\bchf\b|\bfr\.", re.IGNORECASE)),
    ("USD", re.compile(r"\$|\busd\b|\bdollars?\b|\bbucks\b", re.IGNORECASE)),
)
_PERIOD = re.compile(
    r"\b(?:per|a|each|/)\s*(session|treatment|visit|month|area|syringe|unit)\b", re.IGNORECASE
)
_ZERO_BUDGET = re.compile(r"^(?:none|nothing|zero|no budget|free|free only)$")


@lru_cache(maxsize=_CACHE_SIZE)
def parse_budget(
    text: str, rates: tuple[tuple[str, float], ...] = (), default_currency: str = "USD"
) -> ParseResult:
    """Parse budget text into a dollar range.

    `rates` lists (currency, dollars per unit) pairs; currencies not listed
    use `DEFAULT_USD_RATES`. Text without a currency sign is in
    `default_currency`. A currency without a known rate cannot be converted
    and returns None, so the answer is reported instead of guessed.
    """
    normalized = normalize_answer(text)
    if not normalized:
        return None
    if is_no_commitment(normalized):
        return UNKNOWN_BY_CHOICE
    if _ZERO_BUDGET.match(normalized):
        return Quantity(0.0, 0.0, currency=default_currency)

    parsed = _read_range(text)
    if parsed is None:
        return None

    currency = default_currency
    for code, marker in _CURRENCY_MARKERS:
        if marker.search(text):
            currency = code
            break
    rate = dict(rates).get(currency, DEFAULT_USD_RATES.get(currency))
    if rate is None:
        return None

    period = _PERIOD.search(text)
    note = f"per {period.group(1).lower()}" if period else None
    low, high = parsed
    return Quantity(low * rate, high * rate, currency=currency, note=note)


# ------------------------------------------------------------------- timelines

# Phrases are tried in this order, and the first that matches decides. Each
# gives (low, high) days from now. Order matters where phrases nest:
# "next month" before "month", "this week" before "week".
_TIMELINE_PHRASES: Final[tuple[tuple[re.Pattern[str], tuple[float, float], str | None], ...]] = (
    (
        re.compile(r"\b(?:asap|immediately|right away|right now|urgent(?:ly)?|today)\b"),
        (0, 1),
        None,
    ),
    (re.compile(r"\bas soon as (?:possible|i can)\b"), (0, 1), None),
    (re.compile(r"\b(?:ready now|(?<!not )now)\b"), (0, 1), None),
    (re.compile(r"\btomorrow\b"), (0, 2), None),
    (
        re.compile(
            r"\b(?:this week(?:end)?|within (?:a|one|1) week|next few days|in a few days"
            r"|this coming week)\b"
        ),
        (0, 7),
        None,
    ),
    (re.compile(r"\bnext week\b"), (7, 14), None),
    (
        re.compile(r"\b(?:this month|within (?:a|one|1) month|in the next month|next 30 days)\b"),
        (0, 30),
        None,
    ),
    (re.compile(r"\bnext month\b"), (30, 60), None),
    (re.compile(r"\b(?:this year|within (?:a|one|1) year)\b"), (0, 365), None),
    (re.compile(r"\bnext year\b"), (180, 545), None),
    (
        re.compile(
            r"\b(?:just )?(?:exploring|researching|browsing|looking around|curious"
            r"|gathering info(?:rmation)?|learning(?: about)? options|no rush|someday|not ready"
            r"|no plans?|window shopping|not now|not yet)\b"
        ),
        (_EXPLORING_DAYS, math.inf),
        "exploring",
    ),
    # A special event (a wedding, a holiday) means a date soon, but the form
    # does not say when. Models that care give the option its own points.
    (
        re.compile(r"\b(?:special event|wedding|occasion|event|holiday|vacation|party)\b"),
        (0, 60),
        "event",
    ),
)

_UNIT_DAYS: Final = {
    "day": 1,
    "days": 1,
    "week": _DAYS_PER_WEEK,
    "weeks": _DAYS_PER_WEEK,
    "wk": _DAYS_PER_WEEK,
    "wks": _DAYS_PER_WEEK,
    "month": _DAYS_PER_MONTH,
    "months": _DAYS_PER_MONTH,
    "mo": _DAYS_PER_MONTH,
    "mos": _DAYS_PER_MONTH,
    "year": _DAYS_PER_YEAR,
    "years": _DAYS_PER_YEAR,
    "yr": _DAYS_PER_YEAR,
    "yrs": _DAYS_PER_YEAR,
}
_WORD_NUMBERS: Final = {
    "a couple of": "2",
    "a couple": "2",
    "a few": "3",
    "a": "1",
    "an": "1",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "nine": "9",
    "twelve": "12",
    "couple of": "2",
    "couple": "2",
    "few": "3",
}
# Longest phrases first, so "a few" wins over "a".
_WORD_NUMBER = re.compile(r"\b(" + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True)) + r")\b")
_DURATION = re.compile(
    r"(?P<lead>within|in the next|in|after|over|more than|at least|under|less than|up to|by)?\s*"
    r"(?P<low>\d+(?:\.\d+)?)"
    # Normalizing turns "1-3" into "1 3", so a bare space also joins a range.
    r"(?:(?:\s*(?:to|or)\s*|\s+)(?P<high>\d+(?:\.\d+)?))?"
    r"\s*(?P<plus>plus)?\s*"
    r"(?P<unit>days?|weeks?|wks?|months?|mos?|years?|yrs?)\b"
    r"\s*(?P<trail>plus|or more|or later|and up)?"
)
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_US_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")


def _duration_days(normalized: str) -> tuple[float, float] | None:
    text = _WORD_NUMBER.sub(lambda m: _WORD_NUMBERS[m.group(1)], normalized)
    match = _DURATION.search(text)
    if match is None:
        return None
    unit = _UNIT_DAYS[match.group("unit")]
    low = float(match.group("low")) * unit
    high_text = match.group("high")
    lead = match.group("lead")
    if high_text is not None:
        high = float(high_text) * unit
        return (min(low, high), max(low, high))
    if match.group("plus") or match.group("trail") or lead in {"over", "more than", "at least"}:
        return (low, math.inf)
    if lead in {"after"}:
        return (low, math.inf)
    if lead in {"in"}:
        return (low, low)
    # "within 2 weeks", "under 3 months", "2 weeks": any day up to that point.
    return (0.0, low)


def _date_days(text: str, today: date | None) -> tuple[float, float] | None:
    if today is None:
        return None
    for pattern, order in ((_ISO_DATE, "ymd"), (_US_DATE, "mdy")):
        match = pattern.search(text)
        if match is None:
            continue
        parts = [int(group) for group in match.groups()]
        year, month, day = (
            (parts[0], parts[1], parts[2]) if order == "ymd" else (parts[2], parts[0], parts[1])
        )
        try:
            target = date(year, month, day)
        except ValueError:
            return None
        days = max(0, (target - today).days)
        return (float(days), float(days))
    return None


def parse_timeline(text: str, now: datetime | None = None) -> ParseResult:
    """Parse timeline text into a range of days from now.

    `"This week"` → 0–7, `"1-3 months"` → 30–90, `"6+ months"` → 180–inf,
    `"Just exploring"` → 365–inf. A date (`2027-01-15`, `01/15/2027`) counts
    from `now`, and reads as unknown without it.
    """
    return _parse_timeline(text, now.date() if now is not None else None)


@lru_cache(maxsize=_CACHE_SIZE)
def _parse_timeline(text: str, today: date | None) -> ParseResult:
    normalized = normalize_answer(text)
    if not normalized:
        return None
    if is_no_commitment(normalized):
        return UNKNOWN_BY_CHOICE

    dated = _date_days(text, today)
    if dated is not None:
        return Quantity(dated[0], dated[1], note="date")

    # A number of days, weeks or months is more precise than a phrase, so
    # "Within 2 weeks (ready now)" reads as 0-14 days.
    duration = _duration_days(normalized)
    if duration is not None:
        return Quantity(duration[0], duration[1])

    for pattern, (low, high), note in _TIMELINE_PHRASES:
        if pattern.search(normalized):
            return Quantity(float(low), float(high), note=note)
    return None

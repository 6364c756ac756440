"""The scoring engine: `score(lead, model, now)` → `ScoreResult`.

Pure and deterministic: the same lead, model and clock give the same result.
Arithmetic:

- every rule that fires gives points (decayed for engagement rules);
- a group's rules give together at most the group's `cap`;
- total = clamp(round(base points + sum of all points), 1, 100);
- each part = clamp(round(100 × part points / part maximum), 0, 100), where
  the model's base points count in neither part;
- the tier is `disqualified` if any disqualifier matched, else the highest
  tier whose cutoff and part gates the lead passes.

`compile_model` turns a validated model into matchers built once (normalized
options, treatment synonyms, URL patterns), so scoring a lead compiles nothing.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from scoring.lead import Activity, ActivityKind, AnswerValue, Lead
from scoring.parsing import (
    UNKNOWN_BY_CHOICE,
    ParseResult,
    Quantity,
    is_no_commitment,
    normalize_answer,
    parse_budget,
    parse_number,
    parse_timeline,
    split_multi,
    squash,
)
from scoring.result import Part, RuleHit, ScoreResult, Tier, UnknownAnswer

if TYPE_CHECKING:
    from scoring.model import ScoringModel

_SECONDS_PER_DAY = 86400.0
# Rule ids cannot contain ':', so this id never collides with a rule of the model.
BASE_POINTS_RULE_ID = "model:base_points"
# Free-text answers are not cached beyond this many distinct texts per rule.
_MATCH_CACHE_LIMIT = 20000


def score(lead: Lead, model: ScoringModel, now: datetime) -> ScoreResult:
    """Score one lead under `model` at the moment `now` (timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    return model.compiled.score(lead, now)


def score_many(leads: Iterable[Lead], model: ScoringModel, now: datetime) -> list[ScoreResult]:
    """Score many leads at one moment, in order, exactly as `score` does for each."""
    if now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got {now!r}")
    compiled = model.compiled
    return [compiled.score(lead, now) for lead in leads]


# ------------------------------------------------------------------- matching


@dataclass(frozen=True, slots=True)
class _Choice:
    label: str
    points: float
    key: str | None = None


class _OptionMatcher:
    """Lookup from an answer text to the option it matches.

    `exact` compares texts without spaces and punctuation. `prefix` also
    accepts an answer that starts with the option's words; `contains` accepts
    the option's words anywhere in the answer (whole words only, so the
    option `IPL` does not match `multiple`).
    """

    __slots__ = ("_cache", "_exact", "_mode", "_words")

    def __init__(self, entries: Sequence[tuple[str, _Choice]], mode: str) -> None:
        self._mode = mode
        self._exact: dict[str, _Choice] = {}
        self._words: list[tuple[str, _Choice]] = []
        self._cache: dict[str, _Choice | None] = {}
        for text, choice in entries:
            normalized = normalize_answer(text)
            self._exact.setdefault(squash(normalized), choice)
            self._words.append((normalized, choice))

    def find(self, text: str) -> _Choice | None:
        cached = self._cache.get(text, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        found = self._find(text)
        if len(self._cache) < _MATCH_CACHE_LIMIT:
            self._cache[text] = found
        return found

    def _find(self, text: str) -> _Choice | None:
        normalized = normalize_answer(text)
        if not normalized:
            return None
        exact = self._exact.get(squash(normalized))
        if exact is not None or self._mode == "exact":
            return exact
        padded = f" {normalized} "
        for words, choice in self._words:
            if self._mode == "prefix":
                if normalized.startswith(words) and padded[len(words) + 1] == " ":
                    return choice
            elif f" {words} " in padded:
                return choice
        return None


_MISSING = object()


def _answer_texts(value: AnswerValue) -> tuple[str, ...]:
    """Turn an answer into the texts to match: a tuple's items, or one text."""
    if value is None:
        return ()
    if isinstance(value, tuple):
        return tuple(item for item in value if item.strip())
    if isinstance(value, bool):
        return ("yes" if value else "no",)
    if isinstance(value, float) and value.is_integer():
        return (str(int(value)),)
    text = str(value).strip()
    return (text,) if text else ()


def _match_answer(
    matcher: _OptionMatcher, value: AnswerValue
) -> tuple[list[tuple[str, _Choice]], list[str]]:
    """Match an answer to options, returning (text, choice) pairs and the unmatched texts.

    A text is tried whole first, and split into its choices only when the
    whole text matches no option.
    """
    matched: list[tuple[str, _Choice]] = []
    unmatched: list[str] = []
    for text in _answer_texts(value):
        choice = matcher.find(text)
        if choice is not None:
            matched.append((text, choice))
            continue
        parts = split_multi(text)
        if len(parts) <= 1:
            unmatched.append(text)
            continue
        for part in parts:
            choice = matcher.find(part)
            if choice is not None:
                matched.append((part, choice))
            else:
                unmatched.append(part)
    return matched, unmatched


# -------------------------------------------------------------------- context


class _Context:
    """Per-lead scratch space: the hits, unknowns and normalized tags."""

    __slots__ = ("_tags", "lead", "now", "unknowns")

    def __init__(self, lead: Lead, now: datetime) -> None:
        self.lead = lead
        self.now = now
        self.unknowns: dict[tuple[str, str], UnknownAnswer] = {}
        self._tags: dict[str, str] | None = None

    def unknown(self, field: str, value: str, reason: str) -> None:
        self.unknowns.setdefault((field, value), UnknownAnswer(field, value, reason))

    @property
    def tags(self) -> dict[str, str]:
        """The lead's tags, normalized without spaces → as written."""
        if self._tags is None:
            self._tags = {}
            for tag in sorted(self.lead.tags):
                key = squash(normalize_answer(tag))
                if key:
                    self._tags.setdefault(key, tag)
        return self._tags

    def age_days(self, moment: datetime) -> float:
        return max(0.0, (self.now - moment).total_seconds() / _SECONDS_PER_DAY)


def _quote(field: str, text: str) -> str:
    return f'{field} "{text}"'


def _fmt(number: float) -> str:
    return f"{number:g}"


def _days_ago(days: float) -> str:
    whole = int(days)
    if whole == 0:
        return "today"
    return "1 day ago" if whole == 1 else f"{whole} days ago"


# ------------------------------------------------------------------- rules


class _CompiledRule:
    """A rule ready to run: `evaluate` returns (points, evidence) or None."""

    __slots__ = ("group", "id", "label", "part")

    def __init__(self, rule: Any, part: Part) -> None:
        self.id: str = rule.id
        self.label: str = rule.label
        self.group: str | None = rule.group
        self.part = part

    def evaluate(self, ctx: _Context) -> tuple[float, str] | None:
        raise NotImplementedError


def _option_entries(
    options: Sequence[Any], treatments: dict[str, Any]
) -> list[tuple[str, _Choice]]:
    entries: list[tuple[str, _Choice]] = []
    for option in options:
        label = option.answer
        texts: list[str] = []
        if option.answer is not None:
            texts.append(option.answer)
        texts.extend(option.synonyms)
        if option.treatment is not None:
            treatment = treatments[option.treatment]
            label = label or treatment.label or option.treatment
            texts.extend(_treatment_names(option.treatment, treatment))
        choice = _Choice(label=label or texts[0], points=float(option.points), key=option.treatment)
        entries.extend((text, choice) for text in texts)
    return entries


def _treatment_names(key: str, treatment: Any) -> list[str]:
    names = [key.replace("_", " ")]
    if treatment.label:
        names.append(treatment.label)
    names.extend(treatment.synonyms)
    return names


class _AnswerRule(_CompiledRule):
    __slots__ = ("cap", "field", "matcher", "mode")

    def __init__(self, rule: Any, part: Part, treatments: dict[str, Any]) -> None:
        super().__init__(rule, part)
        self.field: str = rule.field
        self.mode: str = rule.mode
        self.cap: float | None = rule.cap
        self.matcher = _OptionMatcher(_option_entries(rule.options, treatments), rule.match)

    def evaluate(self, ctx: _Context) -> tuple[float, str] | None:
        value = ctx.lead.field_value(self.field)
        if value is None:
            return None
        matched, unmatched = _match_answer(self.matcher, value)
        for text in unmatched:
            if not is_no_commitment(normalize_answer(text)):
                ctx.unknown(self.field, text, f"no option of rule {self.id!r} matches")
        if not matched:
            return None
        if self.mode == "best":
            text, choice = max(matched, key=lambda pair: pair[1].points)
            return choice.points, _quote(self.field, text)
        seen: dict[str, tuple[str, _Choice]] = {}
        for text, choice in matched:
            seen.setdefault(choice.label, (text, choice))
        total = sum(choice.points for _, choice in seen.values())
        evidence = f"{self.field} " + ", ".join(f'"{text}"' for text, _ in seen.values())
        if self.cap is not None and total > self.cap:
            total = self.cap
            evidence += f" (capped at {_fmt(self.cap)})"
        return total, evidence


class _RangeRule(_CompiledRule):
    __slots__ = ("bands", "default_currency", "end", "field", "matcher", "parse", "rates")

    def __init__(self, rule: Any, part: Part, model: ScoringModel) -> None:
        super().__init__(rule, part)
        self.field: str = rule.field
        self.parse: str = rule.parse
        self.end: str = rule.value_end
        self.bands = tuple(
            (
                -math.inf if band.min is None else band.min,
                math.inf if band.max is None else band.max,
                float(band.points),
            )
            for band in rule.bands
        )
        treatments = dict(model.treatments)
        entries = _option_entries(rule.options, treatments)
        self.matcher = _OptionMatcher(entries, rule.match) if entries else None
        self.rates = tuple(sorted(model.currency.rates.items()))
        self.default_currency = model.currency.default

    def _parse(self, text: str, now: datetime) -> ParseResult:
        if self.parse == "budget":
            return parse_budget(text, self.rates, self.default_currency)
        if self.parse == "timeline":
            return parse_timeline(text, now)
        return parse_number(text)

    def _band_points(self, value: float) -> float | None:
        for low, high, points in self.bands:
            if low <= value < high:
                return points
        return None

    def evaluate(self, ctx: _Context) -> tuple[float, str] | None:
        value = ctx.lead.field_value(self.field)
        if value is None:
            return None
        best: tuple[float, str] | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            # A bare number is days for a timeline, and an amount in the
            # model's default currency for a budget.
            text = _fmt(value)
            if self.parse == "budget":
                candidates = [(text, self._parse(text, ctx.now))]
            else:
                candidates = [(text, Quantity(float(value), float(value)))]
        else:
            candidates = []
            for text in _answer_texts(value):
                if self.matcher is not None:
                    choice = self.matcher.find(text)
                    if choice is not None:
                        if best is None or choice.points > best[0]:
                            best = (choice.points, _quote(self.field, text))
                        continue
                candidates.append((text, self._parse(text, ctx.now)))
        for text, parsed in candidates:
            if parsed is UNKNOWN_BY_CHOICE:
                continue
            if parsed is None:
                ctx.unknown(self.field, text, f"could not read a {self.parse} from the answer")
                continue
            assert isinstance(parsed, Quantity)
            points = self._band_points(parsed.value(self.end))
            if points is None:
                continue
            if best is None or points > best[0]:
                best = (points, self._evidence(text, parsed))
        return best

    def _evidence(self, text: str, parsed: Quantity) -> str:
        evidence = _quote(self.field, text)
        if self.parse == "budget" and parsed.currency not in (None, "USD"):
            high = "+" if math.isinf(parsed.high) else f"–${parsed.high:,.0f}"
            if parsed.high == parsed.low:
                high = ""
            evidence += f" (≈ ${parsed.low:,.0f}{high})"
        return evidence


_NOUNS: dict[ActivityKind, tuple[str, str]] = {
    ActivityKind.EMAIL_SENT: ("email sent", "emails sent"),
    ActivityKind.EMAIL_OPEN: ("email open", "email opens"),
    ActivityKind.EMAIL_CLICK: ("email click", "email clicks"),
    ActivityKind.EMAIL_BOUNCE: ("email bounce", "email bounces"),
    ActivityKind.REPLY: ("reply", "replies"),
    ActivityKind.PAGE_VIEW: ("page view", "page views"),
    ActivityKind.VIDEO_VIEW: ("video view", "video views"),
    ActivityKind.FORM_SUBMISSION: ("form submission", "form submissions"),
    ActivityKind.BOOKING_PAGE_CLICK: ("booking page click", "booking page clicks"),
    ActivityKind.OUTREACH: ("outreach", "outreach attempts"),
}


def _noun(kind: ActivityKind, count: int | float) -> str:
    singular, plural = _NOUNS[kind]
    return singular if count == 1 else plural


_URL_PATH = re.compile(r"^(?:[a-z][a-z0-9+.-]*://[^/?#]*)?([^?#]*)", re.IGNORECASE)


def _url_path(url: str) -> str:
    """Return the path of a URL for evidence, because query strings may carry personal data."""
    match = _URL_PATH.match(url)
    path = match.group(1) if match else ""
    return path or "/"


class _EventRule(_CompiledRule):
    __slots__ = (
        "cap",
        "half_life",
        "kind",
        "min_count",
        "once",
        "points",
        "urls",
        "within",
        "within_delta",
    )

    def __init__(self, rule: Any, part: Part) -> None:
        super().__init__(rule, part)
        self.kind: ActivityKind = rule.activity
        self.urls = tuple(
            re.compile(fnmatch.translate(pattern), re.IGNORECASE) for pattern in rule.url
        )
        self.within: float | None = rule.within_days
        self.within_delta = timedelta(days=rule.within_days) if rule.within_days else None
        self.once = rule.count == "once"
        self.min_count: int = rule.min_count
        self.points = float(rule.points)
        self.cap: float | None = rule.cap
        self.half_life: float | None = rule.half_life_days

    def _matches_url(self, activity: Activity) -> bool:
        if not self.urls:
            return True
        if activity.url is None:
            return False
        return any(pattern.match(activity.url) for pattern in self.urls)

    def evaluate(self, ctx: _Context) -> tuple[float, str] | None:
        # Undated activities count only for rules with neither `within_days`
        # nor `half_life_days`, because their age is unknown.
        timed = self.within is not None or self.half_life is not None
        count = 0
        estimated = False
        weighted = 0.0
        best_decay = 0.0
        latest: Activity | None = None
        for activity in ctx.lead.activities:
            if activity.kind is not self.kind or activity.count <= 0:
                continue
            if self.urls and not self._matches_url(activity):
                continue
            if activity.last_at is None:
                if timed:
                    continue
                events, decay, last_decay = activity.count, 1.0, 1.0
            else:
                age = ctx.age_days(activity.last_at)
                if self.within is not None and age > self.within:
                    continue
                last_decay = 0.5 ** (age / self.half_life) if self.half_life else 1.0
                first_at = activity.first_at
                if activity.count > 1 and first_at is not None and first_at < activity.last_at:
                    events, decay = self._spread(ctx, activity.count, first_at, activity.last_at)
                    estimated = estimated or events != activity.count
                else:
                    events, decay = activity.count, last_decay
                if latest is None or latest.last_at is None or activity.last_at > latest.last_at:
                    latest = activity
            count += events
            weighted += events * decay
            best_decay = max(best_decay, last_decay)
        if count < self.min_count:
            return None

        if self.once:
            points = self.points * best_decay
        else:
            points = self.points * weighted
            if self.cap is not None:
                points = min(points, self.cap) if points > 0 else max(points, -self.cap)
        points = round(points, 1)
        if points == 0:
            return None
        return points, self._evidence(ctx, count, latest, estimated)

    def _decay(self, age_days: float) -> float:
        return 0.5 ** (age_days / self.half_life) if self.half_life else 1.0

    def _spread(
        self, ctx: _Context, count: int, first_at: datetime, last_at: datetime
    ) -> tuple[int, float]:
        """Estimate how many of an aggregate's events fall inside the window, and their decay.

        The events are taken as spread evenly between `first_at` and
        `last_at`, so of 20 clicks over a year only the window's share
        counts, and all decay as much as the middle one.
        NOTE: an aggregate with `last_at` alone never reaches here. All of its
        events count, and decay as if they happened at `last_at`.
        """
        events = count
        start = first_at
        if self.within_delta is not None:
            cutoff = ctx.now - self.within_delta
            if first_at < cutoff:
                share = (last_at - cutoff) / (last_at - first_at)
                events = max(1, math.ceil(count * share))
                start = cutoff
        middle = start + (last_at - start) / 2
        return events, self._decay(ctx.age_days(middle))

    def _evidence(self, ctx: _Context, count: int, latest: Activity | None, estimated: bool) -> str:
        if self.urls and latest is not None and latest.url:
            # An aggregate's count covers every URL, so a page rule that
            # fires once names the page and not the count.
            if self.once:
                evidence = f"{_noun(self.kind, 1)} of {_url_path(latest.url)}"
            else:
                evidence = f"{count} {_noun(self.kind, count)} of {_url_path(latest.url)}"
        else:
            evidence = f"{count} {_noun(self.kind, count)}"
        if estimated and not (self.urls and self.once):
            evidence = f"about {evidence} in {_fmt(self.within or 0)} days"
        if latest is not None and latest.last_at is not None:
            evidence += f", last {_days_ago(ctx.age_days(latest.last_at))}"
        return evidence


class _AbsenceRule(_CompiledRule):
    __slots__ = ("days", "expect", "expect_kind", "points", "recent", "trigger")

    def __init__(self, rule: Any, part: Part) -> None:
        super().__init__(rule, part)
        self.trigger = frozenset(rule.trigger)
        self.expect = frozenset(rule.expect)
        self.days = float(rule.days)
        self.recent = rule.window == "recent"
        self.points = float(rule.points)
        self.expect_kind: ActivityKind = rule.expect[0]

    def evaluate(self, ctx: _Context) -> tuple[float, str] | None:
        triggers = [a for a in ctx.lead.activities if a.kind in self.trigger and a.count > 0]
        if not triggers:
            return None
        expected = [a for a in ctx.lead.activities if a.kind in self.expect and a.count > 0]
        # An expected event without a date may be recent: give the lead the
        # benefit of the doubt.
        if any(a.last_at is None for a in expected):
            return None
        latest_expected = max((a.last_at for a in expected if a.last_at), default=None)
        trigger_kind = triggers[0].kind
        expect_kind = self.expect_kind
        if self.recent:
            return self._recent(ctx, triggers, latest_expected, trigger_kind, expect_kind)
        return self._after_trigger(ctx, triggers, latest_expected, trigger_kind, expect_kind)

    def _recent(
        self,
        ctx: _Context,
        triggers: list[Activity],
        latest_expected: datetime | None,
        trigger_kind: ActivityKind,
        expect_kind: ActivityKind,
    ) -> tuple[float, str] | None:
        if latest_expected is not None and ctx.age_days(latest_expected) <= self.days:
            return None
        starts = [a.first_at or a.last_at for a in triggers if a.first_at or a.last_at]
        first = min(starts, default=None)
        has_first_at = any(a.first_at is not None for a in triggers)
        old_enough = first is not None and ctx.age_days(first) >= self.days
        # Without the date of the first trigger event, a lead created at
        # least `days` ago has had that long to respond.
        # NOTE: that assumes sends started near the lead's creation.
        if not old_enough and not has_first_at and ctx.lead.created_at is not None:
            old_enough = ctx.age_days(ctx.lead.created_at) >= self.days
        if not old_enough:
            return None
        count = sum(a.count for a in triggers)
        evidence = (
            f"{count} {_noun(trigger_kind, count)}, no {_noun(expect_kind, 1)} "
            f"in {_fmt(self.days)} days"
        )
        return self.points, evidence

    def _after_trigger(
        self,
        ctx: _Context,
        triggers: list[Activity],
        latest_expected: datetime | None,
        trigger_kind: ActivityKind,
        expect_kind: ActivityKind,
    ) -> tuple[float, str] | None:
        # Use the latest trigger event that is at least `days` old. Of an
        # aggregate, only the first and last events have known dates.
        candidates = [
            moment
            for a in triggers
            for moment in (a.first_at, a.last_at)
            if moment is not None and ctx.age_days(moment) >= self.days
        ]
        if not candidates:
            return None
        anchor = max(candidates)
        if latest_expected is not None and latest_expected >= anchor:
            return None
        evidence = (
            f"{_noun(trigger_kind, 1)} {_days_ago(ctx.age_days(anchor))}, "
            f"no {_noun(expect_kind, 1)} since"
        )
        return self.points, evidence


class _TagRule(_CompiledRule):
    __slots__ = ("points", "tags")

    def __init__(self, rule: Any, part: Part) -> None:
        super().__init__(rule, part)
        self.tags = tuple(squash(normalize_answer(tag)) for tag in rule.tags)
        self.points = float(rule.points)

    def evaluate(self, ctx: _Context) -> tuple[float, str] | None:
        if not ctx.lead.tags:
            return None
        lead_tags = ctx.tags
        for tag in self.tags:
            written = lead_tags.get(tag)
            if written is not None:
                return self.points, f'tag "{written}"'
        return None


class _TreatmentFinder:
    """Lookup from an answer to the treatments of the price table it names."""

    def __init__(self, treatments: dict[str, Any]) -> None:
        entries = []
        for key, treatment in treatments.items():
            label = treatment.label or key.replace("_", " ")
            choice = _Choice(label=label, points=0.0, key=key)
            entries.extend((name, choice) for name in _treatment_names(key, treatment))
        self.exact = _OptionMatcher(entries, "exact")
        self.words = _OptionMatcher(entries, "contains")
        self.prices = {key: t.min_price for key, t in treatments.items()}

    def find(self, value: AnswerValue) -> list[_Choice]:
        found: dict[str, _Choice] = {}
        for text in _answer_texts(value):
            parts = (text,) if self.exact.find(text) else (text, *split_multi(text))
            for part in parts:
                choice = self.exact.find(part) or self.words.find(part)
                if choice is not None and choice.key is not None:
                    found.setdefault(choice.key, choice)
        return list(found.values())


class _BudgetBelowRule(_CompiledRule):
    __slots__ = ("default_currency", "field", "finder", "points", "rates", "treatment_field")

    def __init__(self, rule: Any, part: Part, model: ScoringModel, finder: _TreatmentFinder):
        super().__init__(rule, part)
        self.field: str = rule.field
        self.treatment_field: str = rule.treatment_field or model.treatment_field
        self.points = float(rule.points)
        self.finder = finder
        self.rates = tuple(sorted(model.currency.rates.items()))
        self.default_currency = model.currency.default

    def evaluate(self, ctx: _Context) -> tuple[float, str] | None:
        budget_value = ctx.lead.field_value(self.field)
        treatment_value = ctx.lead.field_value(self.treatment_field)
        if budget_value is None or treatment_value is None:
            return None
        texts = _answer_texts(budget_value)
        if not texts:
            return None
        budget_text = texts[0]
        budget = parse_budget(budget_text, self.rates, self.default_currency)
        if not isinstance(budget, Quantity):
            return None
        priced = [
            (self.finder.prices[choice.key], choice)
            for choice in self.finder.find(treatment_value)
            if choice.key is not None and self.finder.prices.get(choice.key) is not None
        ]
        if not priced:
            return None
        price, cheapest = min(priced, key=lambda item: item[0])
        if budget.high >= price:
            return None
        evidence = f"{_quote(self.field, budget_text)} below {cheapest.label} from ${price:,.0f}"
        return self.points, evidence


class _Disqualifier:
    __slots__ = ("field", "flag", "id", "label", "matcher", "tags")

    def __init__(self, rule: Any) -> None:
        self.id: str = rule.id
        self.label: str = rule.label
        self.flag: str | None = rule.flag
        self.tags = tuple(squash(normalize_answer(tag)) for tag in rule.tags)
        self.field: str | None = rule.field
        entries = [(text, _Choice(label=text, points=0.0)) for text in rule.answers]
        self.matcher = _OptionMatcher(entries, rule.match) if entries else None

    def matches(self, ctx: _Context) -> bool:
        lead = ctx.lead
        if self.flag == "do_not_contact":
            return lead.do_not_contact
        if self.flag == "unsubscribed":
            return lead.unsubscribed
        if self.tags:
            return bool(lead.tags) and any(tag in ctx.tags for tag in self.tags)
        if self.field is not None and self.matcher is not None:
            value = lead.field_value(self.field)
            if value is None:
                return False
            matched, _ = _match_answer(self.matcher, value)
            return bool(matched)
        return False


# -------------------------------------------------------------------- model


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _base_points_hit(points: float) -> RuleHit:
    """Build the explanation line of the model's base points: `base points → +12`."""
    return RuleHit(
        rule_id=BASE_POINTS_RULE_ID,
        label="Base points",
        part=Part.BASE,
        points=points,
        evidence="base points",
    )


class CompiledModel:
    """A model with every rule compiled. `score` runs the rules on one lead."""

    def __init__(self, model: ScoringModel) -> None:
        self.version = model.version
        self.tiers = model.tiers
        self.base_points = float(model.base_points)
        self.base_hit = _base_points_hit(self.base_points) if self.base_points else None
        treatments = dict(model.treatments)
        finder = _TreatmentFinder(treatments)
        self.rules: list[_CompiledRule] = []
        for part, section in model.parts():
            for rule in section.rules:
                self.rules.append(_compile_rule(rule, part, model, treatments, finder))
        self.group_caps = {name: group.cap for name, group in model.groups.items()}
        self.part_max = {part: model.part_max(part) for part in (Part.FIT, Part.INTENT)}
        self.disqualifiers = [_Disqualifier(rule) for rule in model.disqualifiers]

    def score(self, lead: Lead, now: datetime) -> ScoreResult:
        ctx = _Context(lead, now)
        hits: list[RuleHit] = []
        group_totals: dict[str, float] = {}
        group_last: dict[str, int] = {}
        for rule in self.rules:
            outcome = rule.evaluate(ctx)
            if outcome is None or outcome[0] == 0:
                continue
            points, evidence = outcome
            hits.append(RuleHit(rule.id, rule.label, rule.part, points, evidence))
            if rule.group is not None:
                group_totals[rule.group] = group_totals.get(rule.group, 0.0) + points
                group_last[rule.group] = len(hits) - 1

        if group_totals:
            hits = self._apply_group_caps(hits, group_totals, group_last)

        fit_points = sum(hit.points for hit in hits if hit.part is Part.FIT)
        intent_points = sum(hit.points for hit in hits if hit.part is Part.INTENT)
        points = self.base_points + fit_points + intent_points
        total = min(100, max(1, _round_half_up(points)))
        if self.base_hit is not None:
            hits.insert(0, self.base_hit)
        fit = self._part_score(fit_points, Part.FIT)
        intent = self._part_score(intent_points, Part.INTENT)
        disqualified_by = tuple(rule.id for rule in self.disqualifiers if rule.matches(ctx))
        tier = Tier.DISQUALIFIED if disqualified_by else self._tier(total, fit, intent)
        return ScoreResult(
            lead_id=lead.id,
            score=total,
            fit=fit,
            intent=intent,
            tier=tier,
            hits=tuple(hits),
            unknowns=tuple(ctx.unknowns.values()),
            disqualified_by=disqualified_by,
            model_version=self.version,
            scored_at=now,
        )

    def _apply_group_caps(
        self, hits: list[RuleHit], totals: dict[str, float], last: dict[str, int]
    ) -> list[RuleHit]:
        """Add one negative hit per group over its cap, right after the group's last hit."""
        extra: dict[int, RuleHit] = {}
        for name, total in totals.items():
            cap = self.group_caps[name]
            if total > cap:
                part = hits[last[name]].part
                extra[last[name]] = RuleHit(
                    rule_id=f"group:{name}",
                    label=f"{name} capped at {_fmt(cap)}",
                    part=part,
                    points=round(cap - total, 1),
                    evidence=f"{name} points {_fmt(round(total, 1))} capped at {_fmt(cap)}",
                )
        if not extra:
            return hits
        capped: list[RuleHit] = []
        for index, hit in enumerate(hits):
            capped.append(hit)
            if index in extra:
                capped.append(extra[index])
        return capped

    def _part_score(self, points: float, part: Part) -> int:
        maximum = self.part_max[part]
        if maximum <= 0:
            return 0
        return min(100, max(0, _round_half_up(100 * points / maximum)))

    def _tier(self, total: int, fit: int, intent: int) -> Tier:
        tiers = self.tiers
        if total >= tiers.hot and fit >= tiers.hot_min_fit and intent >= tiers.hot_min_intent:
            return Tier.HOT
        if total >= tiers.warm and fit >= tiers.warm_min_fit and intent >= tiers.warm_min_intent:
            return Tier.WARM
        return Tier.COLD


def _compile_rule(
    rule: Any,
    part: Part,
    model: ScoringModel,
    treatments: dict[str, Any],
    finder: _TreatmentFinder,
) -> _CompiledRule:
    kind = rule.kind
    if kind == "answer":
        return _AnswerRule(rule, part, treatments)
    if kind == "range":
        return _RangeRule(rule, part, model)
    if kind == "event":
        return _EventRule(rule, part)
    if kind == "absence":
        return _AbsenceRule(rule, part)
    if kind == "tag":
        return _TagRule(rule, part)
    if kind == "budget_below_treatment":
        return _BudgetBelowRule(rule, part, model, finder)
    raise ValueError(f"unknown rule kind {kind!r}")


def compile_model(model: ScoringModel) -> CompiledModel:
    """Build the matchers of every rule once, so scoring compiles nothing per lead."""
    return CompiledModel(model)

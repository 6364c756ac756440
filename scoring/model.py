"""The scoring model file: a TOML document, validated, then compiled for speed.

A model has two parts, `fit` (does the lead match the ideal patient) and
`intent` (are they ready to act now), each a list of rules. Rule kinds:

- `answer`: an answer matches an option → the option's points.
- `range`: budget, timeline or a number, parsed from the answer → points by bands.
- `event`: engagement (email clicks, pricing page views) → points, with decay.
- `absence`: an expected reply or open did not happen → (negative) points.
- `tag`: a contact tag is present → points.
- `budget_below_treatment`: the budget is below the chosen treatment's minimum price.

`[[disqualifiers]]` set the tier to `disqualified` (do-not-contact, spam).
The top-level `base_points` (default 0) is added to every lead's total.
`parse_model` validates the text and raises `ModelError` naming the source,
the key path, the line and the reason. The compiled form (normalized options,
compiled URL patterns) is built once per model, never per lead.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import itertools
import json
import math
import re
import tomllib
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from scoring.lead import ActivityKind
from scoring.mapping import FieldMapping
from scoring.parsing import DEFAULT_USD_RATES, normalize_answer
from scoring.result import Part

_HASH_LENGTH = 6
# Minimum difflib similarity ratio (0-1) for a "did you mean" suggestion:
# `tier` and `tiers` score 0.89, `lable` and `label` 0.8.
_CLOSE_MATCH = 0.75


# --------------------------------------------------------------------- errors


@dataclass(frozen=True, slots=True)
class ModelProblem:
    """One problem in a model file: where it is and what is wrong."""

    key: str | None
    line: int | None
    reason: str

    def describe(self, source: str) -> str:
        where = source
        if self.line is not None:
            where += f":{self.line}"
        if self.key:
            where += f" at {self.key}"
        return f"{where}: {self.reason}"


class ModelError(ValueError):
    """A model file is missing, unreadable or invalid.

    `source`, `key`, `line` and `reason` describe the first problem;
    `problems` lists all of them.
    """

    def __init__(self, source: str, problems: list[ModelProblem]) -> None:
        if not problems:
            raise ValueError("ModelError needs at least one problem")
        self.source = source
        self.problems = tuple(problems)
        first = problems[0]
        self.key = first.key
        self.line = first.line
        self.reason = first.reason
        lines = [problem.describe(source) for problem in problems]
        if len(lines) == 1:
            message = lines[0]
        else:
            message = f"{len(lines)} problems in {source}:\n  " + "\n  ".join(lines)
        super().__init__(message)

    @classmethod
    def single(
        cls, source: str, reason: str, *, key: str | None = None, line: int | None = None
    ) -> ModelError:
        return cls(source, [ModelProblem(key=key, line=line, reason=reason)])


# --------------------------------------------------------------------- schema


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# TOML numbers only: pydantic's lax mode would read `true` or "30" as a number.
Number = Annotated[float, Field(strict=True)]
WholeNumber = Annotated[int, Field(strict=True)]
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]
MatchMode = Literal["exact", "prefix", "contains"]


class Option(_Strict):
    """An answer option and its points.

    The option matches when the answer equals `answer`, one of `synonyms`, or
    one of the synonyms of the treatment named by `treatment`, with case,
    spacing and punctuation ignored.
    """

    answer: str | None = None
    synonyms: tuple[str, ...] = ()
    treatment: str | None = None
    points: Number

    @model_validator(mode="after")
    def _needs_a_text(self) -> Option:
        if self.answer is None and not self.synonyms and self.treatment is None:
            raise ValueError("an option needs `answer`, `synonyms` or `treatment`")
        for text in (self.answer, *self.synonyms):
            if text is not None and not normalize_answer(text):
                raise ValueError(f"option text {text!r} has no letters or digits to match")
        return self


class _RuleBase(_Strict):
    id: RuleId
    label: str = Field(min_length=1)
    group: str | None = None


class AnswerRule(_RuleBase):
    """Points for an answer that matches one of the options.

    `mode = "best"` takes the best option of a multi-select answer; `"sum"`
    adds every matched option up to `cap`. `match = "prefix"` lets the option
    `"This week"` match the label `"This Week (Ready to begin)"`, and
    `"contains"` matches whole words anywhere in the answer. An exact match
    wins, and otherwise the first option in file order that matches, so list
    specific options ("Yes, medications") before general ones ("Yes").
    """

    kind: Literal["answer"]
    field: str = Field(min_length=1)
    match: MatchMode = "exact"
    mode: Literal["best", "sum"] = "best"
    cap: Number | None = Field(default=None, gt=0)
    options: tuple[Option, ...] = Field(min_length=1)


class Band(_Strict):
    """Points for a parsed value `v` with `min <= v < max`. Either end may be left open."""

    min: Number | None = None
    max: Number | None = None
    points: Number

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"band min {self.min:g} must be below max {self.max:g}")
        return self

    def contains(self, value: float) -> bool:
        if self.min is not None and value < self.min:
            return False
        return not (self.max is not None and value >= self.max)


class RangeRule(_RuleBase):
    """Points by bands of a parsed budget (dollars), timeline (days) or number.

    `use` picks the end of a parsed range that is compared with the bands:
    by default the middle of a budget range and the latest day of a timeline
    (`"Within 2 weeks"` counts as 14 days). `options` are checked before
    parsing, for labels that carry no number (`"Package Deal"`).
    """

    kind: Literal["range"]
    field: str = Field(min_length=1)
    parse: Literal["budget", "timeline", "number"]
    use: Literal["low", "mid", "high"] | None = None
    match: MatchMode = "prefix"
    options: tuple[Option, ...] = ()
    bands: tuple[Band, ...] = Field(min_length=1)

    @property
    def value_end(self) -> str:
        if self.use is not None:
            return self.use
        return {"budget": "mid", "timeline": "high", "number": "mid"}[self.parse]


class EventRule(_RuleBase):
    """Points for engagement of one kind.

    `count = "once"` gives `points` when at least `min_count` events match;
    `"per_event"` gives `points` per event up to `cap`. `within_days` ignores
    older events. `half_life_days` halves the points every that many days
    since the event.
    """

    kind: Literal["event"]
    activity: ActivityKind
    url: tuple[str, ...] = Field(default=(), description="Glob patterns, such as *pricing*.")
    within_days: Number | None = Field(default=None, gt=0)
    count: Literal["once", "per_event"] = "once"
    min_count: WholeNumber = Field(default=1, ge=1)
    points: Number
    cap: Number | None = Field(default=None, gt=0)
    half_life_days: Number | None = Field(default=None, gt=0)

    @field_validator("url", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _bounded(self) -> EventRule:
        if self.count == "per_event" and self.points > 0 and self.cap is None:
            raise ValueError("a per_event rule with positive points needs a `cap`")
        return self


class AbsenceRule(_RuleBase):
    """Points when an expected response did not happen.

    `window = "recent"`: some `trigger` event exists, the first one is at
    least `days` old, and no `expect` event happened in the last `days` days
    (no email opened in 30 days while emails were sent).
    `window = "after_trigger"`: a `trigger` event is at least `days` old and
    no `expect` event happened after it (no reply 14 days after outreach).
    """

    kind: Literal["absence"]
    trigger: tuple[ActivityKind, ...] = Field(min_length=1)
    expect: tuple[ActivityKind, ...] = Field(min_length=1)
    days: Number = Field(gt=0)
    window: Literal["recent", "after_trigger"] = "recent"
    points: Number

    @field_validator("trigger", "expect", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value


class TagRule(_RuleBase):
    """Points when the contact carries any of `tags` (compared like answers)."""

    kind: Literal["tag"]
    tags: tuple[str, ...] = Field(min_length=1)
    points: Number


class BudgetBelowTreatmentRule(_RuleBase):
    """Points (negative) when the budget's high end is below the chosen treatment's price.

    With several treatments chosen, the cheapest one counts: the lead can
    still afford that one.
    """

    kind: Literal["budget_below_treatment"]
    field: str = "budget"
    treatment_field: str | None = None
    points: Number


Rule = Annotated[
    AnswerRule | RangeRule | EventRule | AbsenceRule | TagRule | BudgetBelowTreatmentRule,
    Field(discriminator="kind"),
]
RULE_KINDS = ("answer", "range", "event", "absence", "tag", "budget_below_treatment")


class PartSection(_Strict):
    """The rules of one part, and optionally its maximum points.

    Without `max_points` the maximum is what the rules can give at most.
    """

    max_points: Number | None = Field(default=None, gt=0)
    rules: tuple[Rule, ...] = ()


class Disqualifier(_Strict):
    """A condition that makes the lead `disqualified`, whatever the score.

    Exactly one of: `flag` (`do_not_contact`, `unsubscribed`), `tags`, or
    `field` with `answers`.
    """

    id: RuleId
    label: str = Field(min_length=1)
    flag: Literal["do_not_contact", "unsubscribed"] | None = None
    tags: tuple[str, ...] = ()
    field: str | None = None
    answers: tuple[str, ...] = ()
    match: MatchMode = "exact"

    @model_validator(mode="after")
    def _one_condition(self) -> Disqualifier:
        conditions = [self.flag is not None, bool(self.tags), self.field is not None]
        if sum(conditions) != 1:
            raise ValueError("a disqualifier needs exactly one of `flag`, `tags` or `field`")
        if self.field is not None and not self.answers:
            raise ValueError("a disqualifier with `field` needs `answers`")
        if self.answers and self.field is None:
            raise ValueError("`answers` needs `field`")
        return self


class Treatment(_Strict):
    """A treatment the spa offers: its names as leads write them, and its lowest price."""

    label: str | None = None
    synonyms: tuple[str, ...] = ()
    min_price: Number | None = Field(default=None, ge=0, description="Dollars.")


class Group(_Strict):
    """Rules sharing a group give together at most `cap` points."""

    cap: Number = Field(gt=0)


class Tiers(_Strict):
    """Tier cutoffs on the total score, and optional minimum parts (0-100) per tier."""

    hot: WholeNumber = Field(default=80, ge=1, le=100)
    warm: WholeNumber = Field(default=50, ge=1, le=100)
    hot_min_fit: WholeNumber = Field(default=0, ge=0, le=100)
    hot_min_intent: WholeNumber = Field(default=0, ge=0, le=100)
    warm_min_fit: WholeNumber = Field(default=0, ge=0, le=100)
    warm_min_intent: WholeNumber = Field(default=0, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Tiers:
        if self.warm >= self.hot:
            raise ValueError(f"warm cutoff {self.warm} must be below hot cutoff {self.hot}")
        return self


class Currency(_Strict):
    """The currency of amounts without a sign, and dollars per unit of others."""

    default: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    rates: Mapping[str, Number] = Field(default_factory=lambda: dict(DEFAULT_USD_RATES))

    @field_validator("rates")
    @classmethod
    def _valid_rates(cls, value: Mapping[str, float]) -> Mapping[str, float]:
        for code, rate in value.items():
            if not re.fullmatch(r"[A-Z]{3}", code):
                raise ValueError(f"currency code {code!r} must be three capital letters")
            if not rate > 0:
                raise ValueError(f"rate for {code} must be above 0, got {rate}")
        return {**DEFAULT_USD_RATES, **value}


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """A rule as calibration and reports see it."""

    id: str
    label: str
    part: Part
    kind: str
    group: str | None
    max_points: float


class ScoringModel(_Strict):
    """A validated scoring model. Build it with `parse_model`."""

    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    description: str = ""
    alert_threshold: WholeNumber = Field(default=75, ge=1, le=100)
    # Added to every lead's total before it is kept within 1-100. It belongs to
    # neither part, so it moves the total and leaves fit and intent as they are.
    base_points: Number = Field(default=0.0, allow_inf_nan=False)
    treatment_field: str = "treatment"
    tiers: Tiers = Tiers()
    currency: Currency = Currency()
    mapping: FieldMapping = FieldMapping()
    treatments: Mapping[str, Treatment] = Field(default_factory=dict)
    groups: Mapping[str, Group] = Field(default_factory=dict)
    fit: PartSection = PartSection()
    intent: PartSection = PartSection()
    disqualifiers: tuple[Disqualifier, ...] = ()

    _compiled: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _cross_check_and_compile(self) -> ScoringModel:
        problems = list(_check_references(self))
        if problems:
            # parse_model turns this back into one ModelProblem per entry.
            raise ValueError(_PROBLEMS_MARKER + json.dumps(problems))
        # Imported here because the engine imports this module.
        from scoring.engine import compile_model

        self._compiled = compile_model(self)
        return self

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False):
        """Copy the model. With `update`, validate and compile the copy again.

        Pydantic's own copy skips validation, so the copy would keep the old
        compiled rules and cutoffs. Unless `update` sets `version`, the copy's
        content hash is recomputed from its fields.
        """
        if not update:
            return super().model_copy(deep=deep)
        data = {**self.model_dump(mode="json"), **update}
        if "version" not in update:
            declared = self.version.split("+", 1)[0]
            data["version"] = f"{declared}+{content_hash({**data, 'version': declared})}"
        return type(self).model_validate(data)

    def __eq__(self, other: object) -> bool:
        # Pydantic also compares private attributes, and two compilations of
        # one model are different objects. Models are equal when their fields are.
        if not isinstance(other, ScoringModel):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((self.name, self.version))

    def parts(self) -> Iterator[tuple[Part, PartSection]]:
        yield Part.FIT, self.fit
        yield Part.INTENT, self.intent

    def rules(self) -> list[RuleInfo]:
        """List every scoring rule (not disqualifiers) in file order, fit first."""
        infos = []
        for part, section in self.parts():
            for rule in section.rules:
                infos.append(
                    RuleInfo(
                        id=rule.id,
                        label=rule.label,
                        part=part,
                        kind=rule.kind,
                        group=rule.group,
                        max_points=rule_max_points(rule),
                    )
                )
        return infos

    def field_warnings(self) -> list[ModelProblem]:
        """List rules that read a field no `[mapping]` entry fills.

        Connectors fill only the answers and attributes the mapping names, so
        such a rule never fires (often a typo). Returns nothing when the
        mapping names no answers or attributes at all, because then the
        caller fills the fields by their own keys.
        """
        mapped = set(self.mapping.answers) | set(self.mapping.attributes)
        if not mapped:
            return []
        warnings = []
        for key, field in self._fields_read():
            if field not in mapped:
                reason = (
                    f"field {field!r} is not in [mapping.answers] or [mapping.attributes], "
                    "so this rule never fires; add it there or fix the spelling"
                )
                warnings.append(ModelProblem(key=key, line=None, reason=reason))
        return warnings

    def check_warnings(self, text: str | None = None) -> list[ModelProblem]:
        """List every warning that `leadscore model check` prints for this model.

        Adds to `field_warnings` the mapping keys that no rule reads but that
        are close to a field a rule reads and no mapping fills (a typo such as
        `timelien`), and a model without scoring rules. With the model's TOML
        `text`, each warning gets the line of its key.
        """
        warnings = self.field_warnings()
        warnings += self._unread_mapping_keys()
        if not self.fit.rules and not self.intent.rules:
            reason = (
                "the model has no scoring rules under [[fit.rules]] or [[intent.rules]], "
                "so every lead gets the same score; add rules or start from the built-in model"
            )
            warnings.append(ModelProblem(key=None, line=None, reason=reason))
        if text is None:
            return warnings
        return [
            ModelProblem(
                key=warning.key,
                line=_locate_key(text, _split_key(warning.key)) if warning.key else None,
                reason=warning.reason,
            )
            for warning in warnings
        ]

    def _unread_mapping_keys(self) -> list[ModelProblem]:
        read = {field for _, field in self._fields_read()}
        mapped = set(self.mapping.answers) | set(self.mapping.attributes)
        # Only fields that a rule reads and no mapping fills are suggested, so a
        # key kept for reports or calibration (lead_source) raises no warning.
        unfilled = sorted(read - mapped)
        warnings = []
        for section, entries in (
            ("answers", self.mapping.answers),
            ("attributes", self.mapping.attributes),
        ):
            for key in entries:
                if key in read:
                    continue
                close = difflib.get_close_matches(key, unfilled, n=1, cutoff=_CLOSE_MATCH)
                if not close:
                    continue
                path = f"mapping.{section}.{key}"
                reason = f"`{path}` is read by no rule; did you mean `{close[0]}`?"
                warnings.append(ModelProblem(key=path, line=None, reason=reason))
        return warnings

    def _fields_read(self) -> Iterator[tuple[str, str]]:
        for part, section in self.parts():
            for index, rule in enumerate(section.rules):
                path = f"{part.value}.rules[{index}]"
                if isinstance(rule, AnswerRule | RangeRule | BudgetBelowTreatmentRule):
                    yield f"{path}.field", rule.field
                if isinstance(rule, BudgetBelowTreatmentRule):
                    yield f"{path}.treatment_field", rule.treatment_field or self.treatment_field
        for index, disqualifier in enumerate(self.disqualifiers):
            if disqualifier.field is not None:
                yield f"disqualifiers[{index}].field", disqualifier.field

    def part_max(self, part: Part) -> float:
        """Return the points that make a part 100: `max_points`, or what its rules give at most."""
        section = self.fit if part is Part.FIT else self.intent
        if section.max_points is not None:
            return section.max_points
        by_group: dict[str, float] = {}
        total = 0.0
        for rule in section.rules:
            best = rule_max_points(rule)
            if rule.group is None:
                total += best
            else:
                by_group[rule.group] = by_group.get(rule.group, 0.0) + best
        for name, points in by_group.items():
            total += min(points, self.groups[name].cap)
        return total

    @property
    def compiled(self) -> Any:
        """The precompiled form the engine runs (`scoring.engine.CompiledModel`)."""
        return self._compiled


def rule_max_points(rule: Any) -> float:
    """Return the most positive points one rule can give (0 for penalty rules)."""
    if isinstance(rule, AnswerRule):
        positive = [option.points for option in rule.options if option.points > 0]
        if not positive:
            return 0.0
        if rule.mode == "best":
            return max(positive)
        total = sum(positive)
        return min(total, rule.cap) if rule.cap is not None else total
    if isinstance(rule, RangeRule):
        candidates = [band.points for band in rule.bands] + [o.points for o in rule.options]
        return max(0.0, *candidates)
    if isinstance(rule, EventRule):
        if rule.points <= 0:
            return 0.0
        return rule.points if rule.count == "once" else float(rule.cap or 0.0)
    return max(0.0, float(rule.points))


# ------------------------------------------------------------ cross-checks

_PROBLEMS_MARKER = "model problems: "


def _check_references(model: ScoringModel) -> Iterator[tuple[str, str]]:
    """Yield (key path, reason) for problems a single field cannot see."""
    seen: dict[str, str] = {}
    group_parts: dict[str, tuple[Part, str]] = {}
    for part, section in model.parts():
        for index, rule in enumerate(section.rules):
            path = f"{part.value}.rules[{index}]"
            if rule.id in seen:
                yield f"{path}.id", f"duplicate rule id {rule.id!r}, first used at {seen[rule.id]}"
            else:
                seen[rule.id] = path
            if rule.group is not None:
                if rule.group not in model.groups:
                    yield (
                        f"{path}.group",
                        f"group {rule.group!r} is not defined; add [groups.{rule.group}] "
                        "with a cap",
                    )
                elif rule.group in group_parts and group_parts[rule.group][0] is not part:
                    _first_part, first_path = group_parts[rule.group]
                    yield (
                        f"{path}.group",
                        f"group {rule.group!r} mixes fit and intent rules "
                        f"(first used by {first_path}); a group belongs to one part",
                    )
                else:
                    group_parts.setdefault(rule.group, (part, path))
            yield from _check_rule(model, rule, path)
    for index, disqualifier in enumerate(model.disqualifiers):
        path = f"disqualifiers[{index}]"
        if disqualifier.id in seen:
            yield (
                f"{path}.id",
                f"duplicate rule id {disqualifier.id!r}, first used at {seen[disqualifier.id]}",
            )
        else:
            seen[disqualifier.id] = path
    for key, treatment in model.treatments.items():
        for synonym in treatment.synonyms:
            if not normalize_answer(synonym):
                yield f"treatments.{key}.synonyms", f"synonym {synonym!r} has no letters or digits"


def _check_rule(model: ScoringModel, rule: Any, path: str) -> Iterator[tuple[str, str]]:
    options = getattr(rule, "options", ())
    for index, option in enumerate(options):
        if option.treatment is not None and option.treatment not in model.treatments:
            yield (
                f"{path}.options[{index}].treatment",
                f"treatment {option.treatment!r} is not in [treatments]",
            )
    if isinstance(rule, RangeRule):
        ordered = sorted(
            enumerate(rule.bands),
            key=lambda item: -math.inf if item[1].min is None else item[1].min,
        )
        for (_, lower), (index, upper) in itertools.pairwise(ordered):
            lower_max = math.inf if lower.max is None else lower.max
            upper_min = -math.inf if upper.min is None else upper.min
            if upper_min < lower_max:
                yield (
                    f"{path}.bands[{index}]",
                    f"band {_band_text(upper)} overlaps band {_band_text(lower)}",
                )
    priced = any(treatment.min_price is not None for treatment in model.treatments.values())
    if isinstance(rule, BudgetBelowTreatmentRule) and not priced:
        yield (
            f"{path}.kind",
            "budget_below_treatment needs [treatments] entries with a min_price",
        )


def _band_text(band: Band) -> str:
    low = "-inf" if band.min is None else f"{band.min:g}"
    high = "inf" if band.max is None else f"{band.max:g}"
    return f"[{low}, {high})"


# ------------------------------------------------------------------- parsing


def parse_model(text: str, source: str = "<model>") -> ScoringModel:
    """Parse and validate a model from TOML text.

    Raises `ModelError` naming `source`, the key path, the line and the
    reason. The version becomes the declared version plus a short hash of the
    content (`"2026-12.1+3f2a9c"`), so any change to a rule changes it.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _toml_error_line(str(exc))
        key, reason = _explain_toml_error(str(exc), text, line)
        raise ModelError.single(source, f"invalid TOML: {reason}", key=key, line=line) from exc

    declared = data.get("version")
    if isinstance(declared, str) and declared:
        if "+" in declared:
            raise ModelError.single(
                source,
                f"version {declared!r} must not contain '+'; the content hash is added after it",
                key="version",
                line=_locate_key(text, ("version",)),
            )
        data["version"] = f"{declared}+{content_hash(data)}"

    try:
        return ScoringModel.model_validate(data)
    except ValidationError as exc:
        raise ModelError(source, _problems_from(exc, text)) from exc


def content_hash(data: Mapping[str, Any]) -> str:
    """Return a short hash of the model's content, ignoring layout and comments."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:_HASH_LENGTH]


def _toml_error_line(message: str) -> int | None:
    match = re.search(r"at line (\d+)", message)
    return int(match.group(1)) if match else None


def _explain_toml_error(message: str, text: str, line: int | None) -> tuple[str | None, str]:
    """Return the key and a plain reason for a `tomllib` error message.

    `tomllib` (Python 3.11) names neither the key of a duplicate nor the
    cause of a missing closing quote, so both are worked out here.
    """
    reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
    key = _key_at_line(text, line) if line is not None else None
    table = re.fullmatch(r"Cannot declare (\(.*\)) twice", reason)
    if table is not None:
        names = ".".join(str(name) for name in ast.literal_eval(table.group(1)))
        return names, f"table [{names}] is declared twice; merge the two sections into one"
    if reason == "Cannot overwrite a value" and key is not None:
        name = key.rsplit(".", 1)[-1]
        return key, (
            f"duplicate key `{name}`: it is already set earlier in the same table; "
            "keep only one of them"
        )
    unterminated = (
        reason == "Unterminated string"
        or reason.startswith('Expected "\'"')
        or (reason == "Illegal character '\\n'" and key is not None)
    )
    if unterminated:
        return key, "unterminated string: a closing quote is missing before the end of the line"
    if reason == "Invalid value" and key is not None:
        return key, (
            'invalid value: text values need quotes, such as "text"; numbers, true, '
            "false, [lists] and { inline tables } need none"
        )
    return key, reason


def _key_at_line(text: str, line: int) -> str | None:
    """Return the full key path of the `key = value` on 1-based `line`, if it has one."""
    counters: dict[tuple[str | int, ...], int] = {}
    current: tuple[str | int, ...] = ()
    for number, content in enumerate(text.splitlines(), start=1):
        code = _strip_comment(content)
        header = _TABLE_HEADER.match(code)
        if header is not None:
            current = _header_path(header, counters)
        if number < line:
            continue
        key_match = _KEY_LINE.match(code) if header is None else None
        if key_match is None:
            return None
        return _format_key((*current, *_header_parts(key_match.group(1))))
    return None


def _problems_from(exc: ValidationError, text: str) -> list[ModelProblem]:
    errors = exc.errors()
    # A failed item also fails its container, because "options" is too short
    # once the bad item is dropped. Only the deeper error names the cause.
    locations = [tuple(error["loc"]) for error in errors]
    problems = []
    for error in errors:
        loc = tuple(error["loc"])
        if any(len(other) > len(loc) and other[: len(loc)] == loc for other in locations):
            continue
        message = error["msg"]
        if _PROBLEMS_MARKER in message:
            payload = message.split(_PROBLEMS_MARKER, 1)[1]
            for key, reason in json.loads(payload):
                parts = _split_key(key)
                problems.append(ModelProblem(key, _locate_key(text, parts), reason))
            continue
        parts = _clean_loc(error["loc"])
        if error["type"] == "union_tag_invalid":
            # Pydantic places a bad discriminator on the rule; the fix is on its `kind` line.
            parts = (*parts, "kind")
        key = _format_key(parts)
        reason = _reason_text(error)
        problems.append(ModelProblem(key or None, _locate_key(text, parts), reason))
    return problems


def _clean_loc(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """Drop the union tags pydantic adds to a location (`rules.2.answer.points`)."""
    cleaned: list[str | int] = []
    for index, item in enumerate(loc):
        if (
            isinstance(item, str)
            and item in RULE_KINDS
            and index > 0
            and isinstance(loc[index - 1], int)
        ):
            continue
        if isinstance(item, str) and ("[" in item or item.startswith("function-")):
            continue
        cleaned.append(item)
    return tuple(cleaned)


def _format_key(parts: tuple[str | int, ...]) -> str:
    key = ""
    for part in parts:
        if isinstance(part, int):
            key += f"[{part}]"
        else:
            key += f".{part}" if key else str(part)
    return key


def _split_key(key: str) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    for token in re.finditer(r"([^.\[\]]+)|\[(\d+)\]", key):
        if token.group(2) is not None:
            parts.append(int(token.group(2)))
        else:
            parts.append(token.group(1))
    return tuple(parts)


def _reason_text(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if kind == "extra_forbidden":
        parts = _clean_loc(error["loc"])
        close = difflib.get_close_matches(
            str(parts[-1]), _allowed_keys(parts[:-1]), n=1, cutoff=_CLOSE_MATCH
        )
        if close:
            return f"unknown key; did you mean `{close[0]}`?"
        return "unknown key; check the spelling or remove it"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        tag = str(error.get("ctx", {}).get("tag", error.get("input")))
        close = difflib.get_close_matches(tag, RULE_KINDS, n=1, cutoff=_CLOSE_MATCH)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        return f"unknown rule kind {tag!r}{hint} Use one of: {', '.join(RULE_KINDS)}"
    if kind in {"tuple_type", "list_type"}:
        return f'should be a list, such as ["a", "b"], got {error.get("input")!r}'
    if kind == "union_tag_not_found":
        return f"rule needs a `kind` ({', '.join(RULE_KINDS)})"
    value = error.get("input")
    if kind not in {"missing"} and not isinstance(value, dict | list):
        return f"{message}, got {value!r}"
    return message


def _allowed_keys(parts: tuple[str | int, ...]) -> list[str]:
    """Return the keys the model schema allows in the table at `parts`.

    Inside a rule, whose kind picks its schema, the keys of every rule kind
    are allowed candidates. Returns an empty list for an unknown location.
    """
    candidates: list[Any] = [ScoringModel]
    for part in parts:
        candidates = [child for tp in candidates for child in _child_types(tp, part)]
    keys: set[str] = set()
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            keys.update(candidate.model_fields)
    return sorted(keys)


def _child_types(annotation: Any, part: str | int) -> list[Any]:
    children = []
    for tp in _unwrap_type(annotation):
        origin = get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if isinstance(part, str) and part in tp.model_fields:
                children += _unwrap_type(tp.model_fields[part].annotation)
        elif origin in (tuple, list) and isinstance(part, int):
            children += _unwrap_type(get_args(tp)[0])
        elif origin in (dict, Mapping) and isinstance(part, str):
            children += _unwrap_type(get_args(tp)[1])
    return children


def _unwrap_type(annotation: Any) -> list[Any]:
    """Return the concrete types inside `Annotated[...]`, `X | None` and unions."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap_type(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [tp for arg in get_args(annotation) for tp in _unwrap_type(arg)]
    return [annotation]


# ------------------------------------------------------------ line locating

_TABLE_HEADER = re.compile(r"^\s*\[\[\s*([^\]]+?)\s*\]\]|^\s*\[\s*([^\]]+?)\s*\]")
_KEY_LINE = re.compile(r"^\s*([A-Za-z0-9_\-\"'. ]+?)\s*=")


def _header_parts(header: str) -> list[str]:
    return [part.strip().strip("\"'") for part in header.split(".")]


def _locate_key(text: str, parts: tuple[str | int, ...]) -> int | None:
    """Return the line (1-based) that best matches a key path, or None.

    Walks table headers, counting `[[array]]` entries, `key = value` lines
    and the `{ ... }` entries of multi-line inline arrays. When the exact key
    has no line of its own, the line of its closest parent wins.
    """
    positions: dict[tuple[str | int, ...], int] = {}
    counters: dict[tuple[str | int, ...], int] = {}
    current: tuple[str | int, ...] = ()
    inline_array: tuple[str | int, ...] | None = None
    inline_index = -1
    for number, line in enumerate(text.splitlines(), start=1):
        code = _strip_comment(line)
        if not code.strip():
            continue
        if inline_array is not None:
            for entry in re.finditer(r"\{([^}]*)\}?", code):
                inline_index += 1
                entry_path = (*inline_array, inline_index)
                positions.setdefault(entry_path, number)
                for inner in re.finditer(r"([A-Za-z0-9_]+)\s*=", entry.group(1)):
                    positions.setdefault((*entry_path, inner.group(1)), number)
            if code.strip().endswith("]"):
                inline_array = None
            continue
        header = _TABLE_HEADER.match(code)
        if header is not None:
            current = _header_path(header, counters)
            positions.setdefault(current, number)
            if isinstance(current[-1], int):
                positions.setdefault(current[:-1], number)
            continue
        key_match = _KEY_LINE.match(code)
        if key_match is None:
            continue
        key_path = (*current, *_header_parts(key_match.group(1)))
        positions.setdefault(key_path, number)
        value = code[key_match.end() :].strip()
        if value.startswith("[") and value.count("[") > value.count("]"):
            inline_array = key_path
            inline_index = -1

    for length in range(len(parts), 0, -1):
        found = positions.get(tuple(parts[:length]))
        if found is not None:
            return found
    return None


def _strip_comment(line: str) -> str:
    # NOTE: a '#' inside a quoted string also starts a "comment" here. That can
    # only cost a line number in an error message, never a parsed value.
    return line.split("#", 1)[0]


def _header_path(
    header: re.Match[str], counters: dict[tuple[str | int, ...], int]
) -> tuple[str | int, ...]:
    """Resolve a table header to a key path, counting `[[array]]` entries in `counters`."""
    is_array = header.group(1) is not None
    names = _header_parts(header.group(1) or header.group(2))
    path: list[str | int] = []
    for position, name in enumerate(names):
        path.append(name)
        key = tuple(path)
        if is_array and position == len(names) - 1:
            counters[key] = counters.get(key, -1) + 1
            path.append(counters[key])
        elif key in counters:
            # A parent that is an array of tables: its latest entry is open.
            path.append(counters[key])
    return tuple(path)

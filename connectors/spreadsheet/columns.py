"""Resolve a model's field mapping against a spreadsheet header.

A `ColumnPlan` maps each lead fact to the index of the column that carries it. It is built
once per file, so the per-row work is plain indexing. Engagement columns of
HubSpot's "all properties" contacts export are recognised without any model
entry. A model that maps an engagement kind itself replaces the default for
that kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from connectors.errors import InputFileError
from scoring.lead import ActivityKind
from scoring.mapping import (
    ACTIVITY_PARTS,
    CONTACT_FACTS,
    ActivitySource,
    FieldMapping,
    find_source,
    normalize_source_name,
)

# Engagement columns of a HubSpot contacts export with all properties (UI
# labels, as the export writes them), used when the model does not map the kind.
DEFAULT_ACTIVITY_COLUMNS: Mapping[ActivityKind, ActivitySource] = {
    ActivityKind.EMAIL_SENT: ActivitySource(
        count=("Marketing emails delivered",),
        last_at=("Last marketing email send date",),
        first_at=("First marketing email send date",),
        detail=("Last marketing email name",),
    ),
    ActivityKind.EMAIL_OPEN: ActivitySource(
        count=("Marketing emails opened",),
        last_at=("Last marketing email open date", "Recent Sales Email Opened Date"),
        first_at=("First marketing email open date",),
    ),
    ActivityKind.EMAIL_CLICK: ActivitySource(
        count=("Marketing emails clicked",),
        last_at=("Last marketing email click date", "Recent Sales Email Clicked Date"),
        first_at=("First marketing email click date",),
    ),
    ActivityKind.EMAIL_BOUNCE: ActivitySource(count=("Marketing emails bounced",)),
    ActivityKind.REPLY: ActivitySource(
        count=("Marketing emails replied",),
        last_at=("Recent Sales Email Replied Date", "Last marketing email reply date"),
        first_at=("First marketing email reply date",),
    ),
    ActivityKind.PAGE_VIEW: ActivitySource(
        count=("Number of Pageviews",),
        last_at=("Time Last Seen",),
        first_at=("Time First Seen",),
        url=("Last Page Seen",),
    ),
    ActivityKind.FORM_SUBMISSION: ActivitySource(
        count=("Number of Form Submissions",),
        last_at=("Recent Conversion Date",),
        first_at=("First Conversion Date",),
        detail=("Recent Conversion",),
    ),
    ActivityKind.OUTREACH: ActivitySource(
        count=("Number of times contacted", "Number of Sales Activities"),
        last_at=("Last Contacted",),
    ),
}


class MissingAnswerColumnsError(InputFileError):
    """The model maps form answers and the file has none of their columns."""


@dataclass(frozen=True, slots=True)
class MissingColumn:
    """A mapped fact with no matching column: its key and the names that were tried."""

    fact: str
    tried: tuple[str, ...]


@dataclass(slots=True)
class ColumnPlan:
    """Column index of every lead fact found in one header."""

    header: tuple[str, ...]
    contact: dict[str, int] = field(default_factory=dict)
    answers: dict[str, int] = field(default_factory=dict)
    attributes: dict[str, int] = field(default_factory=dict)
    activities: dict[ActivityKind, dict[str, int]] = field(default_factory=dict)
    missing: list[MissingColumn] = field(default_factory=list)
    ignored_post_outcome: tuple[str, ...] = ()

    def column_of(self, fact: str) -> str | None:
        """Return the header name read for an answer or attribute key, if any."""
        index = self.answers.get(fact, self.attributes.get(fact))
        return self.header[index] if index is not None else None


def plan_columns(
    header: Sequence[str],
    mapping: FieldMapping,
    *,
    path: str,
    strict: bool = False,
    allow_missing_answers: bool = False,
) -> ColumnPlan:
    """Match the mapping's source names to `header` and return the column plan.

    Columns listed in `mapping.post_outcome` are never read into a fact,
    because they were filled in after the outcome was known. Raises
    `MissingAnswerColumnsError` when the model maps answers and none of them
    is in the file, unless `allow_missing_answers=True`. Raises
    `InputFileError` when the model maps answers or attributes and none of
    them is in the file, or, with `strict=True`, when any mapped answer or
    attribute is missing. Missing engagement columns never raise.
    """
    post_outcome = {normalize_source_name(name) for name in mapping.post_outcome}
    usable = [name for name in header if normalize_source_name(name) not in post_outcome]
    position = {}
    for index, name in enumerate(header):
        position.setdefault(name, index)
    plan = ColumnPlan(
        header=tuple(header),
        ignored_post_outcome=tuple(name for name in header if name and name not in usable),
    )

    def locate(names: Sequence[str]) -> int | None:
        found = find_source(names, usable)
        return position[found] if found is not None else None

    for fact in CONTACT_FACTS:
        index = locate(getattr(mapping, fact))
        if index is not None:
            plan.contact[fact] = index

    for target, entries in ((plan.answers, mapping.answers), (plan.attributes, mapping.attributes)):
        for key, names in entries.items():
            index = locate(names)
            if index is None:
                plan.missing.append(MissingColumn(fact=key, tried=tuple(names)))
            else:
                target[key] = index

    sources = {**DEFAULT_ACTIVITY_COLUMNS, **mapping.activities}
    for kind, source in sources.items():
        found = {}
        for part in ACTIVITY_PARTS:
            index = locate(getattr(source, part))
            if index is not None:
                found[part] = index
        if found:
            plan.activities[ActivityKind(kind)] = found
        elif kind in mapping.activities:
            tried = tuple(name for part in ACTIVITY_PARTS for name in getattr(source, part))
            plan.missing.append(MissingColumn(fact=f"activities.{kind}", tried=tried))

    _check_fit(plan, mapping, path=path, strict=strict, allow_missing_answers=allow_missing_answers)
    return plan


def _check_fit(
    plan: ColumnPlan,
    mapping: FieldMapping,
    *,
    path: str,
    strict: bool,
    allow_missing_answers: bool,
) -> None:
    if mapping.answers and not plan.answers and not strict and not allow_missing_answers:
        raise MissingAnswerColumnsError(_no_answers_message(plan, mapping, path), path=path)
    mapped = len(mapping.answers) + len(mapping.attributes)
    found = len(plan.answers) + len(plan.attributes)
    # Which engagement columns an export has depends on the CRM plan and the
    # export options, so their absence is reported as a note and never stops a run.
    missing = [item for item in plan.missing if not item.fact.startswith("activities.")]
    if not missing:
        return
    if strict or (mapped and not found and not allow_missing_answers):
        lines = [f"{path}: the model's mapping names columns that are not in the file:"]
        lines += [
            f"  - {item.fact}: tried " + ", ".join(repr(name) for name in item.tried)
            for item in missing
        ]
        lines.append("Columns in the file: " + ", ".join(repr(name) for name in plan.header))
        lines.append(
            "Fix: add the file's column name to the fact's list under [mapping] in the "
            "model file (names match ignoring case, spaces and punctuation), or pass a "
            "model made for this export with --model."
        )
        raise InputFileError("\n".join(lines), path=path)


def _no_answers_message(plan: ColumnPlan, mapping: FieldMapping, path: str) -> str:
    lines = [
        f"{path}: none of the model's answer columns is in the file, so every lead "
        "would be scored without its form answers.",
        "Answer keys and the column names each one matches:",
    ]
    lines += [
        f"  - {key}: " + ", ".join(repr(name) for name in names)
        for key, names in mapping.answers.items()
    ]
    lines.append("Columns in the file: " + ", ".join(repr(name) for name in plan.header))
    lines.append(
        "Fix: add the file's column name to the key's list under [mapping.answers] in "
        "the model file (names match ignoring case, spaces and punctuation), or pass a "
        "model made for this export with --model."
    )
    return "\n".join(lines)

"""Data types every connector exchanges with the jobs, and the protocols it satisfies.

A connector turns source records (CRM JSON or spreadsheet rows) into `Contact`
objects, each wrapping a scoring `Lead` plus the person's contact details, and
turns score updates back into source writes. Connectors know the field mapping
of a model but nothing of its scoring rules.

Two protocols:

* `LeadSource`: anything that yields contacts (spreadsheets, CRMs).
* `CrmConnector`: a CRM account the worker keeps in sync: incremental and full
  pulls, score write-back, pipeline stages, alert tasks, booking outcomes,
  setup and health checks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Protocol, runtime_checkable

from scoring.lead import Lead
from scoring.result import Tier


class ActivityMode(StrEnum):
    """How to combine a contact's activities with what the store already has."""

    # `lead.activities` is the full current picture (HubSpot counters): replace.
    SNAPSHOT = "snapshot"
    # `lead.activities` contains only events new since the last pull (GoHighLevel
    # messages): add them to the stored events, dropping exact duplicates.
    EVENTS = "events"


@dataclass(frozen=True, slots=True)
class WrittenScore:
    """Score values currently stored in a CRM record's worker-owned fields."""

    score: int | None = None
    fit: int | None = None
    intent: int | None = None
    tier: Tier | None = None
    scored_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Contact:
    """One person as a source records them: scoring facts plus contact details.

    `facts_complete=False` means only `lead.id` and `lead.activities` are
    meaningful (an engagement-only update); answers, tags and attributes must
    come from the state store. `answers_partial=True` means answers and
    attributes absent from `lead` may still hold, because the source read
    only some of the records they come from (GoHighLevel form submissions
    inside the pull window), so the store's values of those are kept.
    `stored_stage` is the pipeline stage the store recorded for the lead's
    deal or opportunity, which the sync sets before `move_stage`.
    `source_row` is the 1-based data row for spreadsheets, for error messages.
    """

    lead: Lead
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    owner_id: str | None = None
    record_url: str | None = None
    modified_at: datetime | None = None
    written: WrittenScore | None = None
    activity_mode: ActivityMode = ActivityMode.SNAPSHOT
    facts_complete: bool = True
    answers_partial: bool = False
    stored_stage: str | None = None
    source_row: int | None = None
    raw: Mapping[str, object] = field(default_factory=dict, repr=False, compare=False)

    @property
    def id(self) -> str:
        return self.lead.id


@dataclass(frozen=True, slots=True)
class SkippedRecord:
    """A record that could not be turned into a contact, with the reason.

    Sources yield these in place of a contact, so one bad record never stops a
    batch. `record_id` is the CRM id when known; `row` is the spreadsheet row.
    """

    reason: str
    record_id: str | None = None
    row: int | None = None
    field: str | None = None
    value: str | None = None


@dataclass(frozen=True, slots=True)
class ContactPage:
    """One page of a pull.

    `resume_token` is an opaque string that, passed back to the same pull,
    continues after this page (the backfill stores it to survive a crash).
    `high_watermark` is the latest modification time on the page, for the
    incremental sync cursor.
    """

    records: Sequence[Contact | SkippedRecord]
    resume_token: str | None = None
    high_watermark: datetime | None = None


@dataclass(frozen=True, slots=True)
class ScoreWrite:
    """Absolute score values to write to one CRM record (never increments)."""

    contact_id: str
    score: int
    fit: int
    intent: int
    tier: Tier
    reasons: str
    scored_at: datetime


@dataclass(frozen=True, slots=True)
class WriteReport:
    """Result of a batch write: ids written, ids that failed with reasons.

    `modified_at` maps each written record id to the modification time the
    CRM gave it, so the sync can recognise the echo of its own write in the
    next pull.
    """

    written: tuple[str, ...] = ()
    failed: Mapping[str, str] = field(default_factory=dict)
    modified_at: Mapping[str, datetime] = field(default_factory=dict)
    calls: int = 0


class StageAction(StrEnum):
    CREATED = "created"  # a deal or opportunity was created in the tier's stage
    MOVED = "moved"
    UNCHANGED = "unchanged"  # already in the tier's stage
    KEPT_STAFF_STAGE = "kept_staff_stage"  # staff moved it (won, lost, booked): left alone
    NOT_CONFIGURED = "not_configured"  # no pipeline configured for this tier


@dataclass(frozen=True, slots=True)
class StageResult:
    contact_id: str
    action: StageAction
    stage: str | None = None
    record_id: str | None = None  # deal or opportunity id
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class HotLeadAlert:
    """Details staff need to act on a hot lead, shared by every alert channel."""

    account: str
    contact_id: str
    score: int
    tier: Tier
    reasons: tuple[str, ...]  # the top reasons, each in RuleHit.short() form
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    treatment: str | None = None
    inquired_at: datetime | None = None
    record_url: str | None = None
    owner_id: str | None = None
    previous_score: int | None = None


class OutcomeKind(StrEnum):
    BOOKED = "booked"  # an appointment or consult was booked
    SHOWED = "showed"
    NO_SHOW = "no_show"
    WON = "won"  # deal or opportunity won, or lifecycle reached customer
    LOST = "lost"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A booking outcome read from the CRM, with its date, for calibration."""

    contact_id: str
    kind: OutcomeKind
    occurred_at: datetime
    source: str  # e.g. "deal_stage:closedwon", "appointment:showed"
    record_id: str | None = None

    @property
    def booked(self) -> bool:
        return self.kind in (OutcomeKind.BOOKED, OutcomeKind.SHOWED, OutcomeKind.WON)


@dataclass(frozen=True, slots=True)
class SetupReport:
    """Outcome of `setup`: fields created, fields that already existed, and problems to fix."""

    created: tuple[str, ...] = ()
    existing: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of `leadscore doctor`: a check, pass or fail, and the fix."""

    name: str
    ok: bool
    detail: str = ""
    fix: str = ""
    # False for a feature that works without this check: a failure is a warning
    # and does not fail doctor.
    required: bool = True
    # The check did not run because an earlier check failed or nothing needs it.
    # `detail` gives the reason.
    skipped: bool = False

    @property
    def failed(self) -> bool:
        """Return True when this result fails doctor's exit code."""
        return not self.ok and self.required and not self.skipped


@runtime_checkable
class LeadSource(Protocol):
    """Anything that yields contacts: a spreadsheet or a CRM account."""

    def iter_records(self) -> Iterator[Contact | SkippedRecord]: ...


@runtime_checkable
class CrmConnector(LeadSource, Protocol):
    """One CRM account kept in sync by the worker.

    Every method raises only `connectors.errors.ConnectorError` subclasses.
    """

    crm: ClassVar[str]  # "hubspot" or "gohighlevel"
    account_id: str  # HubSpot portal id or GoHighLevel location id

    def pull_changed(self, since: datetime | None) -> Iterator[ContactPage]:
        """Yield contacts changed (or with new engagement) since `since`.

        The connector widens the window by its own overlap for search
        indexing lag, so the same contact may come again; `None` means from
        the beginning.
        """
        ...

    def pull_all(self, resume_token: str | None = None) -> Iterator[ContactPage]:
        """Yield every contact, page by page, continuing after `resume_token`."""
        ...

    def fetch_contact(self, contact_id: str) -> Contact:
        """Read one contact by id (webhooks, `explain`, engagement-only updates)."""
        ...

    def write_scores(self, writes: Sequence[ScoreWrite]) -> WriteReport:
        """Write absolute score values in the CRM's batch shape; report partial failures."""
        ...

    def move_stage(self, contact: Contact, tier: Tier) -> StageResult:
        """Put the contact's deal or opportunity in the tier's stage, unless staff moved it."""
        ...

    def create_alert(self, alert: HotLeadAlert, idempotency_key: str) -> str:
        """Raise the alert in the CRM (a task or a tag); the same key never creates two."""
        ...

    def pull_outcomes(self, since: datetime | None) -> Iterator[Outcome]:
        """Yield booking outcomes that happened since `since`."""
        ...

    def setup(self, *, apply: bool = True) -> SetupReport:
        """Create the worker's custom fields if missing (idempotent); `apply=False` only reports."""
        ...

    def check(self) -> list[CheckResult]:
        """Check credentials, scopes, connectivity and field mapping, for `doctor`."""
        ...

    def close(self) -> None: ...

"""An in-memory CRM connector and a small scoring function for the sync tests.

The fake keeps contacts, the worker's score fields, pipeline stages and a
modification clock like a CRM does. Every write bumps the record's
modification time, so the next incremental pull returns the echo of the
worker's own writes, as HubSpot and GoHighLevel do.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from connectors.base import (
    CheckResult,
    Contact,
    ContactPage,
    HotLeadAlert,
    Outcome,
    ScoreWrite,
    SetupReport,
    SkippedRecord,
    StageAction,
    StageResult,
    WriteReport,
    WrittenScore,
)
from connectors.errors import RateLimitedError, SkippableRecordError, TransientError
from scoring.lead import Activity, ActivityKind, Lead
from scoring.result import Part, RuleHit, ScoreResult, Tier

START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
STAFF_STAGES = frozenset({"booked", "lost"})


@dataclass
class FakeRecord:
    lead: Lead
    email: str | None = None
    modified_at: datetime = START
    written: ScoreWrite | None = None
    stage: str | None = None


@dataclass
class FakeCrm:
    """A stateful stand-in for one CRM account, implementing `CrmConnector`."""

    crm: ClassVar[str] = "hubspot"
    account_id: str = "1234"
    page_size: int = 2
    overlap: timedelta = timedelta(minutes=1)
    records: dict[str, FakeRecord] = field(default_factory=dict)
    clock: datetime = START
    write_calls: list[list[ScoreWrite]] = field(default_factory=list)
    stage_calls: list[tuple[str, Tier]] = field(default_factory=list)
    fetch_calls: list[str] = field(default_factory=list)
    fail_write_ids: set[str] = field(default_factory=set)
    rate_limit_after: float | None = None
    outcomes: list[Outcome] = field(default_factory=list)

    # -- test helpers --------------------------------------------------------

    def tick(self, seconds: int = 1) -> datetime:
        self.clock += timedelta(seconds=seconds)
        return self.clock

    def upsert(self, lead: Lead, *, email: str | None = None) -> None:
        """Create or change a contact as a person would in the CRM."""
        record = self.records.get(lead.id)
        if record is None:
            self.records[lead.id] = FakeRecord(lead=lead, email=email, modified_at=self.tick())
        else:
            record.lead = lead
            record.modified_at = self.tick()

    def add_activity(self, contact_id: str, activity: Activity) -> None:
        record = self.records[contact_id]
        record.lead = replace(record.lead, activities=(*record.lead.activities, activity))
        record.modified_at = self.tick()

    def _contact(self, record: FakeRecord) -> Contact:
        written = record.written
        return Contact(
            lead=record.lead,
            email=record.email,
            modified_at=record.modified_at,
            written=WrittenScore(
                score=written.score, fit=written.fit, intent=written.intent, tier=written.tier
            )
            if written
            else None,
        )

    def _check_rate_limit(self) -> None:
        if self.rate_limit_after is not None:
            raise RateLimitedError(
                "daily limit reached", crm=self.crm, status=429, retry_after=self.rate_limit_after
            )

    # -- CrmConnector --------------------------------------------------------

    def iter_records(self) -> Iterator[Contact | SkippedRecord]:
        for page in self.pull_all():
            yield from page.records

    def pull_changed(self, since: datetime | None) -> Iterator[ContactPage]:
        self._check_rate_limit()
        floor = since - self.overlap if since is not None else None
        changed = sorted(
            (r for r in self.records.values() if floor is None or r.modified_at >= floor),
            key=lambda r: (r.modified_at, r.lead.id),
        )
        for start in range(0, len(changed), self.page_size):
            chunk = changed[start : start + self.page_size]
            yield ContactPage(
                records=[self._contact(r) for r in chunk],
                high_watermark=max(r.modified_at for r in chunk),
            )

    def pull_all(self, resume_token: str | None = None) -> Iterator[ContactPage]:
        ordered = sorted(self.records)
        start = int(resume_token) if resume_token else 0
        while start < len(ordered):
            chunk = ordered[start : start + self.page_size]
            start += len(chunk)
            yield ContactPage(
                records=[self._contact(self.records[i]) for i in chunk],
                resume_token=str(start) if start < len(ordered) else None,
            )

    def fetch_contact(self, contact_id: str) -> Contact:
        self.fetch_calls.append(contact_id)
        record = self.records.get(contact_id)
        if record is None:
            raise SkippableRecordError(f"contact {contact_id} not found", record_id=contact_id)
        return self._contact(record)

    def write_scores(self, writes: Sequence[ScoreWrite]) -> WriteReport:
        self._check_rate_limit()
        if len(writes) > 100:
            raise TransientError("batch larger than 100")
        self.write_calls.append(list(writes))
        written, failed, modified = [], {}, {}
        for write in writes:
            if write.contact_id in self.fail_write_ids:
                failed[write.contact_id] = "HTTP 400: property value invalid"
                continue
            record = self.records[write.contact_id]
            record.written = write
            record.modified_at = self.tick()
            written.append(write.contact_id)
            modified[write.contact_id] = record.modified_at
        return WriteReport(written=tuple(written), failed=failed, modified_at=modified, calls=1)

    def move_stage(self, contact: Contact, tier: Tier) -> StageResult:
        self.stage_calls.append((contact.id, tier))
        record = self.records[contact.id]
        if record.stage in STAFF_STAGES:
            return StageResult(contact.id, StageAction.KEPT_STAFF_STAGE, stage=record.stage)
        wanted = f"stage-{tier.value}"
        if record.stage == wanted:
            return StageResult(contact.id, StageAction.UNCHANGED, stage=wanted)
        action = StageAction.CREATED if record.stage is None else StageAction.MOVED
        record.stage = wanted
        return StageResult(contact.id, action, stage=wanted)

    def create_alert(self, alert: HotLeadAlert, idempotency_key: str) -> str:
        return idempotency_key

    def pull_outcomes(self, since: datetime | None) -> Iterator[Outcome]:
        return iter([o for o in self.outcomes if since is None or o.occurred_at >= since])

    def setup(self, *, apply: bool = True) -> SetupReport:
        return SetupReport(existing=("leadscore_score",))

    def check(self) -> list[CheckResult]:
        return [CheckResult("connectivity", True, "reached the fake CRM")]

    def close(self) -> None:
        pass

    # -- views for assertions --------------------------------------------------

    @property
    def written_rows(self) -> int:
        return sum(len(call) for call in self.write_calls)


def simple_score(lead: Lead, now: datetime) -> ScoreResult:
    """Score a lead from its timeline, budget and email opens (a stand-in for the engine).

    Opens older than 30 days at `now` count nothing, so time alone can change a score.
    """
    hits: list[RuleHit] = []
    timeline = lead.answers.get("timeline")
    if timeline == "This week":
        hits.append(RuleHit("timeline", "Timeline", Part.INTENT, 40, 'timeline "This week"'))
    budget = lead.answers.get("budget")
    if budget == "$1,000+":
        hits.append(RuleHit("budget", "Budget", Part.FIT, 25, 'budget "$1,000+"'))
    opens = [
        a
        for a in lead.activities
        if a.kind is ActivityKind.EMAIL_OPEN and a.last_at and now - a.last_at < timedelta(30)
    ]
    open_count = sum(a.count for a in opens)
    if open_count:
        hits.append(
            RuleHit(
                "opens",
                "Email opens",
                Part.INTENT,
                min(open_count * 10, 40),
                f"{open_count} email opens in 30 days",
            )
        )
    total = min(100, max(1, 20 + int(sum(h.points for h in hits))))
    tier = Tier.COLD
    if total >= 80:
        tier = Tier.HOT
    elif total >= 50:
        tier = Tier.WARM
    return ScoreResult(
        lead_id=lead.id,
        score=total,
        fit=min(100, 50 + sum(int(h.points) for h in hits if h.part is Part.FIT)),
        intent=min(100, sum(int(h.points) for h in hits if h.part is Part.INTENT)),
        tier=tier,
        hits=tuple(hits),
        model_version="test-1",
        scored_at=now,
    )

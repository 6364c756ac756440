"""The outcome of scoring one lead: the total, its fit and intent parts, the
tier, and the explanation (every rule that fired, with points and evidence)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Tier(StrEnum):
    """Tiers in order of urgency; `DISQUALIFIED` is set by disqualifier rules only."""

    HOT = "hot"
    WARM = "warm"
    COLD = "cold"
    DISQUALIFIED = "disqualified"

    @property
    def rank(self) -> int:
        """Return 3 for hot down to 0 for disqualified, so tiers compare by urgency."""
        return {"hot": 3, "warm": 2, "cold": 1, "disqualified": 0}[self.value]


class Part(StrEnum):
    """The two parts of a score: does the lead match the ideal patient, and are they ready now.

    `BASE` marks only the hit of the model's base points, which count in the
    total but in neither part.
    """

    FIT = "fit"
    INTENT = "intent"
    BASE = "base"


@dataclass(frozen=True, slots=True)
class RuleHit:
    """One rule that fired: its id and label, the points it gave, and the evidence.

    `evidence` is what the lead said or did, quoted for a person to read, for
    example `timeline "This week"` or `3 email clicks in 14 days`.
    """

    rule_id: str
    label: str
    part: Part
    points: float
    evidence: str

    def short(self) -> str:
        """Return the one-line form used in CRM fields: `timeline "This week" → +30`."""
        return f"{self.evidence} → {_signed(self.points)}"


@dataclass(frozen=True, slots=True)
class UnknownAnswer:
    """An answer the engine could not interpret; it scores nothing and is reported."""

    field: str
    value: str
    reason: str


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """Score of one lead at one moment under one model version.

    `score` is 1–100; `fit` and `intent` are 0–100 each. `hits` lists every
    rule that fired, in the order of the model file, after the model's base
    points when they are not zero. `disqualified_by` names
    the disqualifier rules that matched (the tier is then `DISQUALIFIED`).
    """

    lead_id: str
    score: int
    fit: int
    intent: int
    tier: Tier
    hits: tuple[RuleHit, ...] = ()
    unknowns: tuple[UnknownAnswer, ...] = ()
    disqualified_by: tuple[str, ...] = ()
    model_version: str = ""
    scored_at: datetime | None = None
    extra: Mapping[str, object] = field(default_factory=dict)

    def top_reasons(self, limit: int = 3) -> tuple[RuleHit, ...]:
        """Return the rule hits with the largest absolute points, largest first.

        The base points hit is left out: every lead gets the same base
        points, so they distinguish no lead from another.
        """
        rules = [hit for hit in self.hits if hit.part is not Part.BASE]
        ranked = sorted(rules, key=lambda hit: (-abs(hit.points), hit.rule_id))
        return tuple(ranked[:limit])

    def reasons_text(self, limit: int | None = None, max_chars: int | None = None) -> str:
        """Return the explanation in short form, one rule per `; `, largest points first.

        Without `limit`, every hit is listed and the base points come last.
        `max_chars` cuts the text at a rule boundary so it fits a CRM text field.
        """
        hits = self.top_reasons(limit if limit is not None else len(self.hits))
        if limit is None:
            hits += tuple(hit for hit in self.hits if hit.part is Part.BASE)
        parts: list[str] = []
        if self.disqualified_by:
            parts.append("disqualified: " + ", ".join(self.disqualified_by))
        parts.extend(hit.short() for hit in hits)
        text = "; ".join(parts)
        if max_chars is not None and len(text) > max_chars:
            kept: list[str] = []
            for part in parts:
                candidate = "; ".join([*kept, part])
                if len(candidate) + len("; …") > max_chars:
                    break
                kept.append(part)
            text = "; ".join([*kept, "…"]) if kept else text[: max_chars - 1] + "…"
        return text

    def to_dict(self) -> dict:
        """Return the result as JSON-ready data (for the audit trail in the state store)."""
        return {
            "lead_id": self.lead_id,
            "score": self.score,
            "fit": self.fit,
            "intent": self.intent,
            "tier": self.tier.value,
            "hits": [
                {
                    "rule_id": h.rule_id,
                    "label": h.label,
                    "part": h.part.value,
                    "points": h.points,
                    "evidence": h.evidence,
                }
                for h in self.hits
            ],
            "unknowns": [
                {"field": u.field, "value": u.value, "reason": u.reason} for u in self.unknowns
            ],
            "disqualified_by": list(self.disqualified_by),
            "model_version": self.model_version,
            "scored_at": self.scored_at.isoformat() if self.scored_at else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> ScoreResult:
        """Build a result from the output of `to_dict`."""
        scored_at = data.get("scored_at")
        return cls(
            lead_id=data["lead_id"],
            score=int(data["score"]),
            fit=int(data["fit"]),
            intent=int(data["intent"]),
            tier=Tier(data["tier"]),
            hits=tuple(
                RuleHit(
                    rule_id=h["rule_id"],
                    label=h["label"],
                    part=Part(h["part"]),
                    points=h["points"],
                    evidence=h["evidence"],
                )
                for h in data.get("hits") or ()
            ),
            unknowns=tuple(
                UnknownAnswer(field=u["field"], value=u["value"], reason=u["reason"])
                for u in data.get("unknowns") or ()
            ),
            disqualified_by=tuple(data.get("disqualified_by") or ()),
            model_version=data.get("model_version", ""),
            scored_at=datetime.fromisoformat(scored_at) if scored_at else None,
        )


def _signed(points: float) -> str:
    value = int(points) if float(points).is_integer() else round(points, 1)
    return f"+{value}" if points > 0 else str(value)

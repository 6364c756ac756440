"""Alert content: the hot lead, how to reach them, why they scored, where to look.

Alerts show the lead's phone and email unmasked, because staff call them from
the alert. Logs never carry these messages.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from connectors.base import Contact, HotLeadAlert
from scoring.lead import ActivityKind
from scoring.result import ScoreResult, Tier

TOP_REASONS = 3
DEFAULT_TREATMENT_FIELD = "treatment"


@dataclass(frozen=True, slots=True)
class AlertNotice:
    """One message to send: a single hot lead, or a digest of several, hottest first.

    `alert_ids[i]` is the outbox id of `leads[i]`; `alert_id` is the id of this
    notice in the outbox (the digest's own id for a digest).
    """

    alert_id: int
    account: str
    leads: tuple[HotLeadAlert, ...]
    alert_ids: tuple[int, ...]
    is_digest: bool = False

    @property
    def lead_count(self) -> int:
        return len(self.leads)


def build_hot_lead_alert(
    *, account: str, contact: Contact, previous: ScoreResult | None, current: ScoreResult, model
) -> HotLeadAlert:
    """Build the alert content from a scored contact and the model's treatment question."""
    treatment_field = getattr(model, "treatment_field", None) or DEFAULT_TREATMENT_FIELD
    treatment = contact.lead.field_value(treatment_field)
    if isinstance(treatment, tuple):
        treatment = ", ".join(treatment)
    return HotLeadAlert(
        account=account,
        contact_id=contact.id,
        score=current.score,
        tier=current.tier,
        reasons=tuple(hit.short() for hit in current.top_reasons(TOP_REASONS)),
        name=contact.name,
        email=contact.email,
        phone=contact.phone,
        treatment=str(treatment) if treatment not in (None, "") else None,
        inquired_at=inquiry_time(contact),
        record_url=contact.record_url,
        owner_id=contact.owner_id,
        previous_score=previous.score if previous is not None else None,
    )


def inquiry_time(contact: Contact) -> datetime | None:
    """Return the latest form submission time, else the contact's creation time."""
    submissions = [
        activity.last_at
        for activity in contact.lead.activities_of([ActivityKind.FORM_SUBMISSION])
        if activity.last_at is not None
    ]
    if submissions:
        return max(submissions)
    return contact.lead.created_at


def alert_to_json(alert: HotLeadAlert) -> dict:
    """Return the alert as JSON-ready data for the outbox row."""
    return {
        "account": alert.account,
        "contact_id": alert.contact_id,
        "score": alert.score,
        "tier": alert.tier.value,
        "reasons": list(alert.reasons),
        "name": alert.name,
        "email": alert.email,
        "phone": alert.phone,
        "treatment": alert.treatment,
        "inquired_at": alert.inquired_at.isoformat() if alert.inquired_at else None,
        "record_url": alert.record_url,
        "owner_id": alert.owner_id,
        "previous_score": alert.previous_score,
    }


def alert_from_json(data: Mapping) -> HotLeadAlert:
    """Build an alert from the output of `alert_to_json`."""
    inquired_at = data.get("inquired_at")
    return HotLeadAlert(
        account=data["account"],
        contact_id=data["contact_id"],
        score=int(data["score"]),
        tier=Tier(data["tier"]),
        reasons=tuple(data.get("reasons") or ()),
        name=data.get("name"),
        email=data.get("email"),
        phone=data.get("phone"),
        treatment=data.get("treatment"),
        inquired_at=datetime.fromisoformat(inquired_at) if inquired_at else None,
        record_url=data.get("record_url"),
        owner_id=data.get("owner_id"),
        previous_score=data.get("previous_score"),
    )


def display_name(alert: HotLeadAlert) -> str:
    return alert.name or alert.email or alert.phone or f"Contact {alert.contact_id}"


def format_local_time(moment: datetime | None, zone: ZoneInfo) -> str:
    """Return `Fri Dec 4, 3:05 PM EST` in the spa's time zone, or `unknown`."""
    if moment is None:
        return "unknown"
    local = moment.astimezone(zone)
    hour = local.strftime("%I").lstrip("0") or "12"
    return f"{local:%a %b} {local.day}, {hour}:{local:%M %p} {local.tzname()}"


def _lead_lines(alert: HotLeadAlert, zone: ZoneInfo) -> list[tuple[str, str]]:
    """Return the labelled facts of one lead, in display order."""
    rise = ""
    if alert.previous_score is not None:
        rise = f" (up from {alert.previous_score})"
    lines = [
        ("Score", f"{alert.score} ({alert.tier.value}){rise}"),
        ("Phone", alert.phone or "not given"),
        ("Email", alert.email or "not given"),
        ("Treatment", alert.treatment or "not given"),
        ("Inquired", format_local_time(alert.inquired_at, zone)),
    ]
    if alert.reasons:
        lines.append(("Why", "; ".join(alert.reasons)))
    if alert.record_url:
        lines.append(("CRM record", alert.record_url))
    return lines


def subject(notice: AlertNotice) -> str:
    """Return the one-line summary used as the chat text and the email subject."""
    if notice.is_digest:
        top = notice.leads[0].score if notice.leads else 0
        return f"{notice.lead_count} more hot leads today (top score {top})"
    lead = notice.leads[0]
    treatment = f" for {lead.treatment}" if lead.treatment else ""
    return f"Hot lead: {display_name(lead)}{treatment}, score {lead.score}"


def render_text(notice: AlertNotice, zone: ZoneInfo) -> str:
    """Return the plain-text body (email text part, and the chat fallback)."""
    blocks: list[str] = [subject(notice)]
    if notice.is_digest:
        blocks.append(
            "These leads crossed the alert threshold after today's alert limit was reached. "
            "Hottest first."
        )
    for lead in notice.leads:
        lines = [display_name(lead)] if notice.is_digest else []
        lines.extend(f"{label}: {value}" for label, value in _lead_lines(lead, zone))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def render_html(notice: AlertNotice, zone: ZoneInfo) -> str:
    """Return the HTML body of the alert email."""
    parts = [f"<h2>{html.escape(subject(notice))}</h2>"]
    for lead in notice.leads:
        if notice.is_digest:
            parts.append(f"<h3>{html.escape(display_name(lead))}</h3>")
        rows = []
        for label, value in _lead_lines(lead, zone):
            cell = html.escape(value)
            if label == "CRM record":
                cell = f'<a href="{html.escape(value, quote=True)}">Open in CRM</a>'
            elif label == "Phone" and lead.phone:
                cell = f'<a href="tel:{html.escape(lead.phone, quote=True)}">{cell}</a>'
            elif label == "Email" and lead.email:
                cell = f'<a href="mailto:{html.escape(lead.email, quote=True)}">{cell}</a>'
            rows.append(f'<tr><th align="left">{html.escape(label)}</th><td>{cell}</td></tr>')
        parts.append("<table>" + "".join(rows) + "</table>")
    return "<html><body>" + "\n".join(parts) + "</body></html>"


def render_chat_payload(notice: AlertNotice, zone: ZoneInfo) -> dict:
    """Return the Slack-compatible webhook body: `text` plus Block Kit `blocks`.

    Slack, Mattermost and most incoming-webhook chat tools read `text`; Slack
    renders `blocks` as well. Each lead is one section with fields.
    """
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "text": subject(notice)[:150]}}
    ]
    for lead in notice.leads:
        fields = [
            {"type": "mrkdwn", "text": f"*{label}*\n{_escape_mrkdwn(value)}"}
            for label, value in _lead_lines(lead, zone)
            if label not in ("Why", "CRM record")
        ]
        title = f"*{_escape_mrkdwn(display_name(lead))}*"
        if lead.record_url:
            title = f"*<{lead.record_url}|{_escape_mrkdwn(display_name(lead))}>*"
        section: dict = {"type": "section", "text": {"type": "mrkdwn", "text": title}}
        # Slack allows at most 10 fields in one section.
        section["fields"] = fields[:10]
        blocks.append(section)
        if lead.reasons:
            why = _escape_mrkdwn("Why: " + "; ".join(lead.reasons))
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": why}]})
    # Slack accepts at most 50 blocks in one message; the text keeps every lead.
    return {"text": render_text(notice, zone), "blocks": blocks[:50]}


def _escape_mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def sample_notice(account: str = "sample") -> AlertNotice:
    """Return a made-up alert for `leadscore alerts test`, named so staff see it is a test."""
    lead = HotLeadAlert(
        account=account,
        contact_id="leadscore-test",
        score=88,
        tier=Tier.HOT,
        reasons=(
            'timeline "This week" → +30',
            'budget "$1,000+" → +20',
            "pricing page visit → +10",
        ),
        name="Test Lead (leadscore alerts test)",
        email="test.lead@example.com",
        phone="+1 555 0100",
        treatment="Botox",
        inquired_at=None,
        previous_score=None,
    )
    return AlertNotice(alert_id=0, account=account, leads=(lead,), alert_ids=(0,))


def order_hottest_first(
    leads: Sequence[tuple[int, HotLeadAlert]],
) -> list[tuple[int, HotLeadAlert]]:
    """Return (alert id, alert) pairs by score, highest first, then by arrival (id)."""
    return sorted(leads, key=lambda pair: (-pair[1].score, pair[0]))

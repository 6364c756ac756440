"""Settings of one GoHighLevel location (sub-account) the worker keeps in sync."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from connectors.gohighlevel import constants
from scoring.result import Tier

DEFAULT_TIER_LABELS: dict[Tier, str] = {
    Tier.HOT: "Hot",
    Tier.WARM: "Warm",
    Tier.COLD: "Cold",
    Tier.DISQUALIFIED: "Disqualified",
}


class GoHighLevelConfig(BaseModel):
    """One location's credentials, field keys, pipeline stages and alert settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    location_id: str = Field(min_length=1, description="The location (sub-account) id.")
    token: SecretStr | None = Field(
        default=None,
        description="The location's private integration token (`pit-...`); empty for OAuth.",
    )
    oauth_client_id: str | None = Field(default=None, description="OAuth app client id.")
    oauth_client_secret: SecretStr | None = Field(
        default=None, description="OAuth app client secret."
    )
    token_store_path: Path | None = Field(
        default=None,
        description=(
            "JSON file that keeps this location's OAuth tokens. Each refresh rewrites it "
            "atomically before the new access token is used, because a refresh token works once."
        ),
    )
    base_url: str = Field(default=constants.DEFAULT_BASE_URL, description="API base URL.")
    app_url: str = Field(
        default="https://app.gohighlevel.com",
        description="Web app address for contact links in alerts; white-label agencies set theirs.",
    )
    version: str = Field(
        default=constants.VERSION_DEFAULT,
        description="`Version` header for contacts, locations, opportunities, forms, workflows.",
    )
    conversations_version: str = Field(
        default=constants.VERSION_CONVERSATIONS_CALENDARS,
        description="`Version` header for the conversations and calendars endpoints.",
    )
    custom_field_value_key: Literal["field_value", "fieldValue"] = Field(
        default="field_value",
        description=(
            "Key of the value in `customFields` items of a contact update: `field_value` "
            "(v2 spec) or `fieldValue` (v3 spec). The API ignores a key it does not take."
        ),
    )

    score_field: str = Field(default="contact.lead_score", description="Key of the score field.")
    fit_field: str = Field(default="contact.lead_fit", description="Key of the fit part field.")
    intent_field: str = Field(default="contact.lead_intent", description="Key of the intent field.")
    tier_field: str = Field(default="contact.lead_tier", description="Key of the tier field.")
    reasons_field: str = Field(
        default="contact.lead_score_reasons", description="Key of the score explanation field."
    )
    tier_labels: dict[Tier, str] = Field(
        default_factory=lambda: dict(DEFAULT_TIER_LABELS),
        description="Option label written to the tier field for each tier.",
    )
    reasons_max_chars: int = Field(
        default=1000,
        ge=20,
        description="Maximum length, in characters, of the explanation text written.",
    )

    pipeline_id: str | None = Field(
        default=None, description="Pipeline whose stages follow the tier."
    )
    stage_ids: dict[Tier, str] = Field(
        default_factory=dict,
        description="Pipeline stage id for each tier; unlisted tiers stay put.",
    )

    alert_tag: str = Field(
        default="lead-tier-hot",
        description="Tag added to a contact that turns hot; the spa's workflow sends the alert.",
    )
    worker_tags: tuple[str, ...] = Field(
        default=(),
        description="Other tags the worker adds; like the alert tag, never read as lead facts.",
    )
    alert_task: bool = Field(default=False, description="Also create a call task for a hot lead.")
    task_assignee: str | None = Field(
        default=None, description="User id the task goes to; default: the contact's owner."
    )
    task_due_minutes: int = Field(default=15, ge=0, description="Minutes until the task is due.")
    alert_workflow_id: str | None = Field(
        default=None, description="Workflow to enrol a hot lead in, besides the tag."
    )

    calendar_ids: tuple[str, ...] = Field(
        default=(), description="Calendars whose appointments count as bookings; default: all."
    )
    outcome_lookback_days: int = Field(
        default=365, ge=1, description="Days of outcomes read when no earlier pull is recorded."
    )
    overlap_seconds: int = Field(
        default=600,
        ge=0,
        description="Seconds each incremental pull reaches back before the cursor (search lags).",
    )
    history_start: date = Field(
        default=date(2015, 1, 1),
        description="Earliest date a full pull reads form submissions and messages from.",
    )
    pull_forms: bool = Field(default=True, description="Read form submissions as answers.")
    pull_surveys: bool = Field(default=True, description="Read survey submissions as answers.")
    pull_email_engagement: bool = Field(
        default=True, description="Read email opens, clicks, bounces and replies."
    )
    burst_limit: int = Field(
        default=constants.BURST_LIMIT,
        ge=1,
        description="Requests per 10 s this worker may send for the location.",
    )

    @model_validator(mode="after")
    def _check_credentials(self) -> GoHighLevelConfig:
        oauth = (self.oauth_client_id, self.oauth_client_secret, self.token_store_path)
        if self.token is None and not all(oauth):
            raise ValueError(
                f"location {self.location_id}: set a private integration token, or the OAuth "
                "client id, client secret and token store path"
            )
        for tier in self.stage_ids:
            if self.pipeline_id is None:
                raise ValueError(f"stage for tier {tier.value!r} is set but pipeline_id is not")
        return self

    @property
    def uses_oauth(self) -> bool:
        return self.token is None

    @property
    def overlap(self) -> timedelta:
        return timedelta(seconds=self.overlap_seconds)

    @property
    def excluded_tags(self) -> frozenset[str]:
        """Tags the worker itself adds, which never change a lead's facts."""
        return frozenset({self.alert_tag, *self.worker_tags})

    @property
    def score_fields(self) -> dict[str, str]:
        """Each score value's name mapped to the key of its custom field."""
        return {
            "score": self.score_field,
            "fit": self.fit_field,
            "intent": self.intent_field,
            "tier": self.tier_field,
            "reasons": self.reasons_field,
        }

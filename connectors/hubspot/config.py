"""Settings of one HubSpot account for the lead scoring worker."""

from __future__ import annotations

from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors.base import OutcomeKind
from connectors.hubspot.api import DEFAULT_BASE_URL
from scoring.result import Tier


class PipelineMode(StrEnum):
    """The place where a lead's tier appears as a pipeline position."""

    NONE = "none"  # no pipeline moves
    DEAL = "deal"  # one deal per contact in a chosen pipeline, a stage per tier
    LEAD_STATUS = "lead_status"  # the contact's `hs_lead_status` property


class ScoreProperties(BaseModel):
    """Names of the contact properties the worker writes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group: str = Field(default="leadscore", description="Property group of the score properties.")
    group_label: str = Field(default="Lead scoring", description="Label of the property group.")
    score: str = Field(default="leadscore_score", description="Score 1-100 (number).")
    fit: str = Field(default="leadscore_fit", description="Fit part 0-100 (number).")
    intent: str = Field(default="leadscore_intent", description="Intent part 0-100 (number).")
    tier: str = Field(default="leadscore_tier", description="Tier (enumeration).")
    reasons: str = Field(default="leadscore_reasons", description="Top reasons (textarea).")
    scored_at: str = Field(default="leadscore_scored_at", description="Time of scoring (datetime).")


class AlertTaskSettings(BaseModel):
    """Fields of the task created for a hot-lead alert."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_type: str = Field(default="CALL", description="hs_task_type: CALL, EMAIL or TODO.")
    priority: str = Field(default="HIGH", description="hs_task_priority: LOW, MEDIUM or HIGH.")
    due_in_minutes: int = Field(default=15, ge=0, description="Minutes from now to the due time.")
    default_owner_id: str | None = Field(
        default=None, description="Owner id for tasks of contacts that have no owner."
    )


class HubSpotConfig(BaseModel):
    """Everything the HubSpot connector needs to know about one account."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    portal_id: str = Field(description="HubSpot account (portal) id, used in record links.")
    token: SecretStr | None = Field(
        default=None, description="Private app or service key access token."
    )
    base_url: str = Field(default=DEFAULT_BASE_URL, description="API base URL.")
    account_timezone: str = Field(
        default="UTC",
        description="Time zone of the account; the daily API limit resets at its midnight.",
    )

    oauth_client_id: str | None = Field(default=None, description="OAuth app client id.")
    oauth_client_secret: SecretStr | None = Field(default=None, description="OAuth client secret.")
    oauth_refresh_token: SecretStr | None = Field(default=None, description="OAuth refresh token.")
    oauth_refresh_margin_seconds: float = Field(
        default=300, ge=0, description="Refresh the access token this many seconds before expiry."
    )

    burst_limit: int = Field(
        default=100, ge=1, description="Requests per burst interval: 100 (Free/Starter) or 190."
    )
    burst_interval_seconds: float = Field(default=10, gt=0, description="Burst interval length.")
    search_per_second: int = Field(
        default=5, ge=1, description="Search requests per second (HubSpot allows 5)."
    )
    connect_timeout_seconds: float = Field(default=5, gt=0, description="Connect timeout.")
    read_timeout_seconds: float = Field(default=30, gt=0, description="Read timeout.")
    max_attempts: int = Field(
        default=5, ge=1, description="Attempts per request, retries included."
    )
    max_retry_seconds: float = Field(
        default=120, gt=0, description="Total seconds one request may spend on retries."
    )

    properties: ScoreProperties = Field(default_factory=ScoreProperties)
    overlap_seconds: float = Field(
        default=300,
        ge=0,
        description="Seconds subtracted from the sync cursor, for search indexing lag.",
    )

    pipeline_mode: PipelineMode = Field(default=PipelineMode.NONE, description="Pipeline mode.")
    deal_pipeline_id: str = Field(default="default", description="Pipeline of the lead deals.")
    deal_stage_ids: dict[Tier, str] = Field(
        default_factory=dict, description="Deal stage id per tier (deal mode)."
    )
    deal_name_template: str = Field(
        default="{name} (lead)", description="Name of a created deal; {name} is the contact name."
    )
    lead_status_values: dict[Tier, str] = Field(
        default_factory=dict, description="hs_lead_status value per tier (lead_status mode)."
    )
    staff_stage_ids: tuple[str, ...] = Field(
        default=("closedwon", "closedlost"),
        description=(
            "Stages staff set that the worker never leaves. Any stage not mapped to a tier "
            "is treated the same way."
        ),
    )

    outcome_deal_stages: dict[str, OutcomeKind] = Field(
        default_factory=lambda: {"closedwon": OutcomeKind.WON, "closedlost": OutcomeKind.LOST},
        description="Deal stage id -> outcome it means (e.g. a 'consult booked' stage -> booked).",
    )
    outcome_lifecycle_stages: dict[str, OutcomeKind] = Field(
        default_factory=lambda: {"customer": OutcomeKind.WON},
        description="Lifecycle stage -> outcome, dated by hs_lifecyclestage_<stage>_date.",
    )

    alert: AlertTaskSettings = Field(default_factory=AlertTaskSettings)

    @field_validator("account_timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as America/New_York"
            ) from exc
        return value

    @model_validator(mode="after")
    def _check_credentials(self) -> HubSpotConfig:
        oauth = (self.oauth_client_id, self.oauth_client_secret, self.oauth_refresh_token)
        if self.token is None and not all(oauth):
            raise ValueError(
                "no HubSpot credentials: set LEADSCORE_HUBSPOT_TOKEN (private app or service key), "
                "or all of the OAuth client id, client secret and refresh token"
            )
        if self.pipeline_mode is PipelineMode.DEAL and not self.deal_stage_ids:
            raise ValueError("pipeline mode 'deal' needs deal_stage_ids (a stage id per tier)")
        if self.pipeline_mode is PipelineMode.LEAD_STATUS and not self.lead_status_values:
            raise ValueError("pipeline mode 'lead_status' needs lead_status_values per tier")
        return self

    @property
    def uses_oauth(self) -> bool:
        return self.token is None

"""Settings of the webhook receiver, read from `LEADSCORE_WEBHOOK_*` variables.

The receiver is off unless `LEADSCORE_WEBHOOK_ENABLED=true`. Each CRM route
accepts requests only when its verification key is set: the HubSpot client
secret, the GoHighLevel Ed25519 public key, or a generic token for the account.
"""

from __future__ import annotations

import base64
import binascii

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORT = 8787
# HubSpot sends at most 100 events in one request, each well under 1 KB, and
# GoHighLevel sends one event per request: 1 MiB leaves a wide margin.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# HubSpot's documented limit for X-HubSpot-Request-Timestamp is 5 minutes.
DEFAULT_REPLAY_WINDOW_SECONDS = 300


class WebhookSettings(BaseSettings):
    """Listening address and per-CRM verification keys of the webhook receiver."""

    model_config = SettingsConfigDict(
        env_prefix="LEADSCORE_WEBHOOK_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    enabled: bool = Field(
        default=False,
        description="Start the webhook receiver inside the daemon.",
    )
    host: str = Field(
        default="127.0.0.1",
        description=(
            "Address the receiver binds to. Keep 127.0.0.1 behind a reverse proxy; "
            "use 0.0.0.0 only when the port is reachable from the CRM directly."
        ),
    )
    port: int = Field(
        default=DEFAULT_PORT,
        ge=0,
        le=65535,
        description="TCP port the receiver listens on (0 picks a free port).",
    )
    threads: int = Field(
        default=8,
        ge=1,
        le=256,
        description="Worker threads of the HTTP server, so slow clients do not block others.",
    )
    public_base_url: str | None = Field(
        default=None,
        description=(
            "Public URL in front of the receiver, without the /webhooks/... path, exactly as "
            "configured in the CRM (for example https://hooks.example-spa.com). HubSpot signs "
            "the full URL it called, so signatures are checked against this value and never "
            "against the Host header."
        ),
    )
    hubspot_client_secret: SecretStr | None = Field(
        default=None,
        description="Client secret of the HubSpot app that sends the webhooks (HMAC key).",
    )
    hubspot_app_id: str | None = Field(
        default=None,
        description=(
            "Id of the worker's own HubSpot app. Events whose changeSource is INTEGRATION "
            "with this sourceId are the worker's own writes and are dropped."
        ),
    )
    hubspot_own_properties: tuple[str, ...] = Field(
        default=(
            "leadscore_score",
            "leadscore_fit",
            "leadscore_intent",
            "leadscore_tier",
            "leadscore_reasons",
            "leadscore_scored_at",
        ),
        description=(
            "Contact properties the worker writes (the HubSpot connector's default names). "
            "A propertyChange event on one of them is the echo of the worker's own write "
            "and is dropped."
        ),
    )
    ghl_public_key: str | None = Field(
        default=None,
        description=(
            "GoHighLevel Ed25519 public key for x-ghl-signature, as PEM or as the base64 "
            "body of the PEM (from the app's settings)."
        ),
    )
    ghl_legacy_public_key: str | None = Field(
        default=None,
        description=(
            "GoHighLevel legacy RSA public key for x-wh-signature, as PEM or base64 body. "
            "Requests signed only with x-wh-signature are accepted while this is set."
        ),
    )
    ghl_alert_tags: tuple[str, ...] = Field(
        default=("lead-tier-hot",),
        description=(
            "Tags the worker adds to alert staff (the GoHighLevel connector's alert tag). "
            "A ContactTagUpdate that only adds or removes these tags is the echo of the "
            "worker's own write and is dropped."
        ),
    )
    generic_tokens: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            'Tokens for /webhooks/generic/{account}, as JSON: {"gohighlevel:LOCATION_ID": '
            '"long-random-token"}. The CRM workflow sends the token in X-Leadscore-Token.'
        ),
    )
    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES,
        ge=1024,
        description="Largest request body accepted, in bytes; larger requests get 413.",
    )
    replay_window_seconds: int = Field(
        default=DEFAULT_REPLAY_WINDOW_SECONDS,
        ge=1,
        description=(
            "Requests whose signed timestamp is further than this from the worker's clock, "
            "in seconds, are rejected as replays."
        ),
    )

    @field_validator("public_base_url")
    @classmethod
    def _check_public_base_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError(
                f"LEADSCORE_WEBHOOK_PUBLIC_BASE_URL must start with https:// or http://, "
                f"got {value!r}"
            )
        if "?" in value or "#" in value:
            raise ValueError(
                "LEADSCORE_WEBHOOK_PUBLIC_BASE_URL must not contain a query or fragment, "
                f"got {value!r}"
            )
        return value.rstrip("/")

    @field_validator("ghl_public_key", "ghl_legacy_public_key")
    @classmethod
    def _check_key_text(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        text = value.strip()
        if text.startswith("-----BEGIN"):
            return text
        try:
            base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(
                "GoHighLevel public key must be PEM or the base64 body of a PEM key; "
                "copy it again from the app settings"
            ) from exc
        return text

    @model_validator(mode="after")
    def _hubspot_needs_public_url(self) -> WebhookSettings:
        if self.hubspot_client_secret is not None and self.public_base_url is None:
            raise ValueError(
                "LEADSCORE_WEBHOOK_HUBSPOT_CLIENT_SECRET is set but "
                "LEADSCORE_WEBHOOK_PUBLIC_BASE_URL is not: HubSpot signs the full URL it "
                "calls, so set the public URL configured in the HubSpot app"
            )
        return self

    @property
    def hubspot_configured(self) -> bool:
        return self.hubspot_client_secret is not None

    @property
    def ghl_configured(self) -> bool:
        return self.ghl_public_key is not None or self.ghl_legacy_public_key is not None

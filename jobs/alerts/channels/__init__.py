"""Alert channels: the CRM's own alert, a chat webhook, and email."""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from connectors.base import CrmConnector
from jobs.alerts.channels.base import Channel, ChannelError
from jobs.alerts.channels.crm import CrmChannel, crm_idempotency_key
from jobs.alerts.channels.smtp import EmailChannel
from jobs.alerts.channels.webhook import WebhookChannel, check_webhook_url, sign, verify_signature
from jobs.alerts.message import AlertNotice
from jobs.alerts.settings import AlertSettings

log = structlog.get_logger(__name__)

__all__ = [
    "Channel",
    "ChannelError",
    "CrmChannel",
    "EmailChannel",
    "UnavailableChannel",
    "WebhookChannel",
    "build_channels",
    "check_webhook_url",
    "crm_idempotency_key",
    "sign",
    "verify_signature",
]


def build_channels(
    settings: AlertSettings, connectors_by_account: Mapping[str, CrmConnector] | None = None
) -> list[Channel]:
    """Build one channel per name in `settings.channels`.

    A configured channel that lacks a setting (a webhook URL, an SMTP host, a
    sender or recipients) becomes an `UnavailableChannel`. Its every send fails
    with an error naming the setting, so the other channels still deliver and
    the outbox keeps its alerts until the setting is fixed.
    """
    channels: list[Channel] = []
    for name in settings.channel_names:
        try:
            if name == "crm":
                channels.append(CrmChannel(connectors_by_account or {}))
            elif name == "webhook":
                channels.append(_build_webhook(settings))
            elif name == "email":
                channels.append(_build_email(settings))
        except ChannelError as exc:
            log.error("alert_channel_unavailable", channel=name, error=str(exc))
            channels.append(UnavailableChannel(name, exc))
    return channels


class UnavailableChannel:
    """A configured channel whose settings are invalid: every send raises the same error."""

    def __init__(self, name: str, error: ChannelError) -> None:
        self.name = name
        self.error = error

    def send(self, notice: AlertNotice, idempotency_key: str) -> str:
        error = self.error
        raise ChannelError(
            error.channel, error.message, setting=error.setting, retryable=error.retryable
        )


def _build_webhook(settings: AlertSettings) -> WebhookChannel:
    if settings.webhook_url is None or not settings.webhook_url.get_secret_value().strip():
        raise ChannelError(
            "webhook",
            "the webhook channel is enabled but no URL is set",
            setting="LEADSCORE_ALERT_WEBHOOK_URL",
            retryable=False,
        )
    url = settings.webhook_url.get_secret_value().strip()
    check_webhook_url(url)
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    return WebhookChannel(
        url,
        zone=settings.zone,
        secret=secret or None,
        timeout_seconds=settings.webhook_timeout_seconds,
    )


def _build_email(settings: AlertSettings) -> EmailChannel:
    missing = [
        variable
        for variable, value in (
            ("LEADSCORE_ALERT_SMTP_HOST", settings.smtp_host),
            ("LEADSCORE_ALERT_EMAIL_FROM", settings.email_from),
            ("LEADSCORE_ALERT_EMAIL_TO", settings.email_to.strip()),
        )
        if not value
    ]
    if missing:
        raise ChannelError(
            "email",
            "the email channel is enabled but settings are missing",
            setting=", ".join(missing),
            retryable=False,
        )
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return EmailChannel(
        host=settings.smtp_host or "",
        port=settings.smtp_port,
        security=settings.smtp_security,
        sender=settings.email_from or "",
        recipients=settings.recipients,
        zone=settings.zone,
        username=settings.smtp_username,
        password=password,
        timeout_seconds=settings.smtp_timeout_seconds,
    )

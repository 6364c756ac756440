"""The CRM's own alert: a HubSpot task for the contact owner, or a GoHighLevel tag or task."""

from __future__ import annotations

from collections.abc import Mapping

from connectors.base import CrmConnector
from connectors.errors import ConfigurationError, ConnectorError
from jobs.alerts.channels.base import ChannelError
from jobs.alerts.message import AlertNotice


def crm_idempotency_key(alert_id: int) -> str:
    """Return the key of one lead's CRM alert: the same for a repeat, a retry or a digest."""
    return f"leadscore-alert-{alert_id}-crm"


class CrmChannel:
    """Creates one CRM alert per lead through the account's connector.

    Each lead gets the key of its own outbox alert, so a delivery repeated
    after a crash (a single alert or a whole digest) creates no second task.
    """

    name = "crm"

    def __init__(self, connectors_by_account: Mapping[str, CrmConnector]) -> None:
        self._connectors = connectors_by_account

    def send(self, notice: AlertNotice, idempotency_key: str) -> str:
        connector = self._connectors.get(notice.account)
        if connector is None:
            raise ChannelError(
                self.name,
                f"no CRM connector is configured for account {notice.account!r}",
                setting="the account's CRM credentials",
                retryable=False,
            )
        receipts: list[str] = []
        for alert_id, lead in zip(notice.alert_ids, notice.leads, strict=True):
            key = crm_idempotency_key(alert_id) if alert_id else idempotency_key
            try:
                receipts.append(connector.create_alert(lead, key))
            except ConfigurationError as exc:
                raise ChannelError(
                    self.name,
                    f"creating the alert for contact {lead.contact_id} failed: {exc}",
                    setting="the CRM token's scopes",
                    retryable=False,
                ) from exc
            except ConnectorError as exc:
                raise ChannelError(
                    self.name, f"creating the alert for contact {lead.contact_id} failed: {exc}"
                ) from exc
        return ",".join(receipts)

"""Hot-lead alerts: an outbox recorded inside the sync, delivered to the CRM, chat and email.

The sync calls `record_score_change` for every scored contact; the daemon's
outbox job calls `deliver_pending` with the channels from `build_channels`.
"""

from __future__ import annotations

from jobs.alerts.channels import build_channels
from jobs.alerts.delivery import DeliveryReport, DeliveryResult, deliver_pending, delivery_key
from jobs.alerts.outbox import record_score_change
from jobs.alerts.settings import AlertSettings

__all__ = [
    "AlertSettings",
    "DeliveryReport",
    "DeliveryResult",
    "build_channels",
    "deliver_pending",
    "delivery_key",
    "record_score_change",
]

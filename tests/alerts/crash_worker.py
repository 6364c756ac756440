"""A worker process that delivers the outbox and dies by SIGKILL right after a send.

Run as `python -m tests.alerts.crash_worker DATABASE_URL SETTINGS_JSON NOW CRM_URL`.
The process sends one delivery through the real channel, then kills itself
before the delivery module records the result, as a power cut or an OOM kill
would.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from datetime import datetime

import requests
import sqlalchemy as sa

from connectors.base import HotLeadAlert
from jobs.alerts import AlertSettings, build_channels, deliver_pending


class LoopbackCrm:
    """Creates CRM tasks by POSTing to the test's loopback CRM endpoint."""

    crm = "hubspot"
    account_id = "1234567"

    def __init__(self, url: str) -> None:
        self.url = url

    def create_alert(self, alert: HotLeadAlert, idempotency_key: str) -> str:
        response = requests.post(
            self.url,
            json={"contact_id": alert.contact_id, "score": alert.score},
            headers={"Idempotency-Key": idempotency_key},
            timeout=5,
        )
        response.raise_for_status()
        return response.text


class DieAfterSend:
    """Wraps a channel: the real send runs, then the process is killed."""

    def __init__(self, channel) -> None:
        self.channel = channel
        self.name = channel.name

    def send(self, notice, idempotency_key):
        receipt = self.channel.send(notice, idempotency_key)
        os.kill(os.getpid(), signal.SIGKILL)
        return receipt


def main() -> None:
    database_url, settings_json, now_text, crm_url = sys.argv[1:5]
    settings = AlertSettings(_env_file=None, **json.loads(settings_json))
    account = "hubspot:1234567"
    channels = build_channels(settings, {account: LoopbackCrm(crm_url)})
    engine = sa.create_engine(database_url)
    deliver_pending(
        engine,
        [DieAfterSend(channel) for channel in channels],
        datetime.fromisoformat(now_text),
        settings,
    )


if __name__ == "__main__":
    main()

"""A whole worker on loopback for webhook tests and the latency benchmark.

The fake GoHighLevel is served over HTTP on 127.0.0.1, the daemon runs with
its webhook receiver on a free port, and hot-lead alerts go through the
webhook channel to a recording HTTP server, so every hop is a real request.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from jobs.accounts import build_runtime
from jobs.alerts.settings import AlertSettings
from jobs.daemon import Daemon
from jobs.settings import Settings
from jobs.webhooks.settings import WebhookSettings
from tests.alerts.servers import WebhookReceiver, start_webhook_receiver, stop_webhook_receiver
from tests.fakes.gohighlevel import FakeGoHighLevel
from tests.webhooks.conftest import public_pem
from tests.webhooks.signing import ghl_body, ghl_headers

LOCATION = "locWebhookE2E"
TOKEN = "pit-0e2e-webhooks-0000"


@dataclass
class Worker:
    """A running daemon and the loopback servers around it."""

    fake: FakeGoHighLevel
    daemon: Daemon
    alerts: WebhookReceiver
    signing_key: Ed25519PrivateKey

    @property
    def webhook_url(self) -> str:
        return self.daemon.webhook_service.url + "/webhooks/gohighlevel"

    def add_hot_lead(self, contact_id: str) -> None:
        now = datetime.now(UTC)
        self.fake.state.add_contact(
            LOCATION,
            contact_id=contact_id,
            firstName="Jane",
            email=f"{contact_id}@example.com",
            custom={
                "contact.timeline": "This week",
                "contact.budget": "$1,500",
                "contact.treatment": "Botox",
                "contact.age": "35",
            },
            added_at=now,
            updated_at=now,
        )

    def send_contact_webhook(
        self, contact_id: str, event_type: str = "ContactCreate", tags: tuple[str, ...] = ()
    ) -> requests.Response:
        """Send a signed GoHighLevel contact event for `contact_id` to the daemon's receiver."""
        body = ghl_body(
            event_type,
            webhook_id=f"wh-{uuid.uuid4().hex}",
            timestamp=datetime.now(UTC).isoformat(),
            id=contact_id,
            locationId=LOCATION,
            tags=list(tags),
        )
        return requests.post(
            self.webhook_url, data=body, headers=ghl_headers(self.signing_key, body), timeout=5
        )

    def wait_for_alert(self, contact_id: str, timeout: float) -> float | None:
        """Poll the alert receiver until an alert names `contact_id`; return the monotonic time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.alerts.lock:
                bodies = [received.body for received in self.alerts.requests]
            if any(contact_id.encode() in body for body in bodies):
                return time.monotonic()
            time.sleep(0.005)
        return None

    def wait_for_first_cycle(self, timeout: float = 30.0) -> None:
        heartbeat = Path(self.daemon.settings.heartbeat_file)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if heartbeat.exists():
                return
            time.sleep(0.02)
        raise TimeoutError("the daemon finished no sync cycle")


@contextmanager
def running_worker(
    workdir: Path,
    *,
    webhooks: bool = True,
    sync_interval_seconds: int = 3600,
    outbox_interval_seconds: int = 1,
    drain_interval_seconds: int = 60,
) -> Iterator[Worker]:
    """Start the fake CRM, the alert receiver and the daemon; stop all of them on exit."""
    fake = FakeGoHighLevel(clock=lambda: datetime.now(UTC))
    state = fake.state
    state.add_location(LOCATION)
    state.issue_token(LOCATION, value=TOKEN)
    state.add_custom_field(
        LOCATION, "How soon are you looking to book?", "SINGLE_OPTIONS",
        options=["This week", "Within a month", "Just researching"], field_key="contact.timeline",
    )
    state.add_custom_field(LOCATION, "Budget", "TEXT", field_key="contact.budget")
    state.add_custom_field(LOCATION, "Treatment Interest", "TEXT", field_key="contact.treatment")
    state.add_custom_field(LOCATION, "Age", "TEXT", field_key="contact.age")
    signing_key = Ed25519PrivateKey.generate()
    alert_receiver = start_webhook_receiver()

    try:
        with fake.serve() as base_url:
            settings = Settings(
                _env_file=None,
                crm="gohighlevel",
                account_id=LOCATION,
                ghl_token=TOKEN,
                crm_base_url=base_url,
                database_url=f"sqlite:///{workdir / 'store.db'}",
                heartbeat_file=workdir / "heartbeat",
                sync_interval_seconds=sync_interval_seconds,
                outbox_interval_seconds=outbox_interval_seconds,
                webhook_drain_interval_seconds=drain_interval_seconds,
                webhooks=WebhookSettings(
                    _env_file=None,
                    enabled=webhooks,
                    port=0,
                    ghl_public_key=public_pem(signing_key),
                ),
                alerts=AlertSettings(
                    _env_file=None,
                    channels="webhook",
                    webhook_url=alert_receiver.url,
                    webhook_after_hours="send",
                    # No daily cap, so every hot lead alerts at once instead of in a digest.
                    daily_cap=0,
                ),
            )
            runtime = build_runtime(settings)
            runtime.contexts[0].connector.setup(apply=True)
            daemon = Daemon(runtime)
            daemon.start()
            try:
                worker = Worker(fake, daemon, alert_receiver, signing_key)
                worker.wait_for_first_cycle()
                yield worker
            finally:
                daemon.stop()
    finally:
        stop_webhook_receiver(alert_receiver)

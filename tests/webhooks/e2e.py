"""A whole worker on loopback for webhook tests and the latency benchmark.

The fake CRM (GoHighLevel or HubSpot) is served over HTTP on 127.0.0.1, and
the daemon runs with its webhook receiver on a free port. Hot-lead alerts go
through the webhook channel to a recording HTTP server, so every hop is a
real request.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from jobs.accounts import build_runtime
from jobs.alerts.settings import AlertSettings
from jobs.daemon import Daemon
from jobs.settings import Settings
from jobs.webhooks.settings import WebhookSettings
from tests.alerts.servers import WebhookReceiver, start_webhook_receiver, stop_webhook_receiver
from tests.fakes.gohighlevel import FakeGoHighLevel
from tests.fakes.gohighlevel.medspa import add_med_spa_location
from tests.fakes.hubspot import DEFAULT_TOKEN as HUBSPOT_TOKEN
from tests.fakes.hubspot import FakeHubSpot
from tests.webhooks.conftest import public_pem
from tests.webhooks.signing import ghl_body, ghl_headers, hubspot_event, hubspot_headers, millis

LOCATION = "locWebhookE2E"
GHL_TOKEN = "pit-0e2e-webhooks-0000"
PORTAL = "62515"
HUBSPOT_SECRET = "hubspot-e2e-client-secret"
# The URL configured in the HubSpot app; the receiver checks signatures against it.
PUBLIC_BASE_URL = "https://hooks.example-spa.test"


@dataclass
class Worker:
    """A running daemon and the loopback servers around it."""

    crm: str
    fake: Any  # FakeGoHighLevel or FakeHubSpot
    daemon: Daemon
    alerts: WebhookReceiver
    signing_key: Ed25519PrivateKey

    @property
    def receiver_url(self) -> str:
        return self.daemon.webhook_service.url

    def add_hot_lead(self, name: str) -> str:
        """Add a lead whose answers score hot to the fake CRM; return its contact id."""
        now = datetime.now(UTC)
        if self.crm == "hubspot":
            return self.fake.add_contact(
                {
                    "firstname": "Jane",
                    "lastname": name,
                    "email": f"{name.lower()}@example.com",
                    "booking_timeline": "This week",
                    "budget": "$1,500",
                    "treatment_interest": "botox",
                    "age": "34",
                }
            )
        self.fake.state.add_contact(
            LOCATION,
            contact_id=name,
            firstName="Jane",
            lastName=name,
            email=f"{name.lower()}@example.com",
            custom={
                "contact.timeline": "This week",
                "contact.budget": "$1,500",
                "contact.treatment": "Botox",
                "contact.age": "35",
            },
            added_at=now,
            updated_at=now,
        )
        return name

    def send_contact_webhook(
        self, contact_id: str, event_type: str = "ContactCreate", tags: tuple[str, ...] = ()
    ) -> requests.Response:
        """Send a signed contact event for `contact_id`, as the CRM would, to the receiver."""
        if self.crm == "hubspot":
            return self._send_hubspot(contact_id)
        body = ghl_body(
            event_type,
            webhook_id=f"wh-{uuid.uuid4().hex}",
            timestamp=datetime.now(UTC).isoformat(),
            id=contact_id,
            locationId=LOCATION,
            tags=list(tags),
        )
        return requests.post(
            self.receiver_url + "/webhooks/gohighlevel",
            data=body,
            headers=ghl_headers(self.signing_key, body),
            timeout=5,
        )

    def _send_hubspot(self, contact_id: str) -> requests.Response:
        return self.send_hubspot_batch([contact_id])

    def send_hubspot_batch(self, contact_ids: list[str]) -> requests.Response:
        """Send one signed HubSpot delivery with a contact.creation event per contact."""
        now = datetime.now(UTC)
        events = [
            hubspot_event(
                int(contact_id),
                now,
                portal_id=int(PORTAL),
                subscription_type="contact.creation",
                property_name=None,
            )
            for contact_id in contact_ids
        ]
        body = json.dumps(events).encode()
        headers = hubspot_headers(
            HUBSPOT_SECRET, PUBLIC_BASE_URL + "/webhooks/hubspot", body, str(millis(now))
        )
        return requests.post(
            self.receiver_url + "/webhooks/hubspot", data=body, headers=headers, timeout=10
        )

    def wait_for_alert(self, name: str, timeout: float) -> float | None:
        """Poll the alert receiver until an alert names the lead; return the monotonic time."""
        needle = name.encode()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.alerts.lock:
                bodies = [received.body for received in self.alerts.requests]
            if any(needle in body for body in bodies):
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


def _ghl_fake() -> FakeGoHighLevel:
    fake = FakeGoHighLevel(clock=lambda: datetime.now(UTC))
    add_med_spa_location(fake.state, LOCATION, GHL_TOKEN)
    return fake


def _crm_settings(crm: str, base_url: str) -> dict[str, Any]:
    if crm == "hubspot":
        return {
            "crm": "hubspot",
            "account_id": PORTAL,
            "hubspot_token": HUBSPOT_TOKEN,
            "crm_base_url": base_url,
        }
    return {
        "crm": "gohighlevel",
        "account_id": LOCATION,
        "ghl_token": GHL_TOKEN,
        "crm_base_url": base_url,
    }


@contextmanager
def running_worker(
    workdir: Path,
    *,
    crm: str = "gohighlevel",
    webhooks: bool = True,
    sync_interval_seconds: int = 3600,
    outbox_interval_seconds: int = 1,
    drain_interval_seconds: int = 60,
) -> Iterator[Worker]:
    """Start the fake CRM, the alert receiver and the daemon; stop all of them on exit."""
    fake: Any = FakeHubSpot(portal_id=PORTAL, burst_limit=1000) if crm == "hubspot" else _ghl_fake()
    signing_key = Ed25519PrivateKey.generate()

    with ExitStack() as stack:
        alert_receiver = start_webhook_receiver()
        stack.callback(stop_webhook_receiver, alert_receiver)
        base_url = stack.enter_context(fake.serve())
        settings = Settings(
            _env_file=None,
            **_crm_settings(crm, base_url),
            database_url=f"sqlite:///{workdir / 'store.db'}",
            heartbeat_file=workdir / "heartbeat",
            sync_interval_seconds=sync_interval_seconds,
            outbox_interval_seconds=outbox_interval_seconds,
            webhook_drain_interval_seconds=drain_interval_seconds,
            webhooks=WebhookSettings(
                _env_file=None,
                enabled=webhooks,
                port=0,
                public_base_url=PUBLIC_BASE_URL,
                hubspot_client_secret=HUBSPOT_SECRET,
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
        stack.callback(daemon.stop)
        worker = Worker(crm, fake, daemon, alert_receiver, signing_key)
        worker.wait_for_first_cycle()
        yield worker

"""Fixtures for the webhook tests: a real store, signing keys and a receiver on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from jobs.store import Store
from jobs.webhooks.service import WebhookService
from jobs.webhooks.settings import WebhookSettings
from tests.postgres import temporary_database

# Every receiver test runs on this clock, so timestamps are fixed and no test
# depends on the wall clock.
FROZEN_NOW = datetime(2026, 3, 2, 15, 30, 0, tzinfo=UTC)
PUBLIC_BASE_URL = "https://hooks.example-spa.test"
HUBSPOT_SECRET = "hubspot-client-secret-for-tests"
GENERIC_ACCOUNT = "gohighlevel:loc-generic"
GENERIC_TOKEN = "generic-token-3f9a1c"


@pytest.fixture
def sqlite_store(tmp_path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'leadscore.db'}")
    yield store
    store.close()


@pytest.fixture
def postgres_store() -> Iterator[Store]:
    """A fresh PostgreSQL database per test; skips without DATABASE_URL_TEST."""
    with temporary_database("leadscore_webhooks") as url:
        store = Store.open(url)
        yield store
        store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request) -> Store:
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture(scope="session")
def ed25519_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(private_key) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


@pytest.fixture
def settings(ed25519_key) -> WebhookSettings:
    return WebhookSettings(
        _env_file=None,
        enabled=True,
        host="127.0.0.1",
        port=0,
        threads=4,
        public_base_url=PUBLIC_BASE_URL,
        hubspot_client_secret=HUBSPOT_SECRET,
        hubspot_app_id="777001",
        ghl_public_key=public_pem(ed25519_key),
        generic_tokens={GENERIC_ACCOUNT: GENERIC_TOKEN},
        max_body_bytes=64 * 1024,
    )


@pytest.fixture
def start_receiver(sqlite_store) -> Iterator[Callable[..., WebhookService]]:
    """Start a receiver on 127.0.0.1 (a free port) on the frozen clock; stop it after the test."""
    started: list[WebhookService] = []

    def start(settings: WebhookSettings, store: Store | None = None, **options) -> WebhookService:
        options.setdefault("clock", lambda: FROZEN_NOW)
        service = WebhookService(settings, store or sqlite_store, **options)
        service.start()
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


@pytest.fixture
def receiver(start_receiver, settings) -> WebhookService:
    return start_receiver(settings)

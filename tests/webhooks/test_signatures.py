"""Signature and token checks, without the HTTP layer."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization

from jobs.webhooks.signatures import (
    InvalidSignatureError,
    MalformedTimestampError,
    MissingSignatureError,
    StaleRequestError,
    hubspot_v3_signature,
    load_public_key,
    parse_hubspot_timestamp,
    verify_ghl,
    verify_hubspot_v3,
    verify_token,
)
from tests.webhooks.conftest import FROZEN_NOW, public_pem
from tests.webhooks.signing import hubspot_headers, millis

WINDOW = timedelta(minutes=5)
URL = "https://hooks.example-spa.test/webhooks/hubspot"
BODY = b'[{"eventId":1,"objectId":501}]'


def verify(timestamp: str, signature: str | None = None, *, body: bytes = BODY) -> None:
    signature = (
        signature or hubspot_headers("secret", URL, BODY, timestamp)["X-HubSpot-Signature-v3"]
    )
    verify_hubspot_v3(
        secret="secret",
        method="POST",
        uri=URL,
        body=body,
        timestamp_header=timestamp,
        signature_header=signature,
        now=FROZEN_NOW,
        window=WINDOW,
    )


def test_hubspot_signature_matches_independent_hmac():
    timestamp = str(millis(FROZEN_NOW))
    expected = hubspot_headers("secret", URL, BODY, timestamp)["X-HubSpot-Signature-v3"]

    assert hubspot_v3_signature("secret", "POST", URL, BODY, timestamp) == expected


def test_hubspot_valid_request_passes():
    verify(str(millis(FROZEN_NOW - timedelta(minutes=4))))


def test_hubspot_seconds_timestamp_named_in_error():
    with pytest.raises(StaleRequestError, match="looks like epoch seconds"):
        parse_hubspot_timestamp(str(int(FROZEN_NOW.timestamp())))


@pytest.mark.parametrize(
    ("timestamp", "error"),
    [
        (str(millis(FROZEN_NOW - timedelta(minutes=5, milliseconds=1))), StaleRequestError),
        (str(millis(FROZEN_NOW + timedelta(minutes=5, milliseconds=1))), StaleRequestError),
        ("", MissingSignatureError),
        ("-1772465400000", MalformedTimestampError),
        ("1772465400000.5", MalformedTimestampError),
    ],
    ids=["just_too_old", "just_too_new", "empty", "negative", "fractional"],
)
def test_hubspot_bad_timestamp_rejected(timestamp, error):
    with pytest.raises(error):
        verify(timestamp, signature="irrelevant")


def test_hubspot_modified_body_rejected():
    with pytest.raises(InvalidSignatureError):
        verify(str(millis(FROZEN_NOW)), body=BODY + b" ")


def test_ghl_key_loads_from_base64_body(ed25519_key):
    der = ed25519_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = load_public_key(base64.b64encode(der).decode())
    body = b'{"type":"ContactUpdate"}'
    signature = base64.b64encode(ed25519_key.sign(body)).decode()

    scheme = verify_ghl(
        body=body,
        signature_header=signature,
        legacy_signature_header=None,
        public_key=key,
        legacy_key=None,
    )

    assert scheme == "ed25519"


def test_ghl_key_loads_from_pem(ed25519_key):
    key = load_public_key(public_pem(ed25519_key))

    assert key.public_bytes_raw() == ed25519_key.public_key().public_bytes_raw()


def test_ghl_signature_without_configured_key_rejected(ed25519_key):
    body = b"{}"
    signature = base64.b64encode(ed25519_key.sign(body)).decode()

    with pytest.raises(InvalidSignatureError):
        verify_ghl(
            body=body,
            signature_header=signature,
            legacy_signature_header=None,
            public_key=None,
            legacy_key=None,
        )


@pytest.mark.parametrize(
    ("received", "error"),
    [
        (None, MissingSignatureError),
        ("", MissingSignatureError),
        ("token-b", InvalidSignatureError),
        ("token-a-longer", InvalidSignatureError),
    ],
    ids=["none", "empty", "different", "longer"],
)
def test_token_mismatch_rejected(received, error):
    with pytest.raises(error):
        verify_token("token-a", received)


def test_token_match_passes():
    verify_token("token-a", " token-a ")

"""Verification of webhook requests: HubSpot v3 HMAC, GoHighLevel Ed25519 and RSA, tokens.

Every check raises a `VerificationError` subclass that carries the HTTP status
of the receiver's response. No check logs or echoes the body, the secret or
the signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

HUBSPOT_SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
HUBSPOT_TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
GHL_SIGNATURE_HEADER = "x-ghl-signature"
GHL_LEGACY_SIGNATURE_HEADER = "x-wh-signature"
GENERIC_TOKEN_HEADER = "X-Leadscore-Token"

# Epoch milliseconds reach 10**12 in September 2001, while epoch seconds stay
# below that until the year 33658: any current millisecond timestamp is above
# it and any seconds timestamp is below it.
_MILLISECONDS_FLOOR = 10**12


class VerificationError(Exception):
    """A request failed verification; `status` is the HTTP status of the response."""

    status = 401
    reason = "invalid_signature"


class MissingSignatureError(VerificationError):
    reason = "missing_signature"


class InvalidSignatureError(VerificationError):
    reason = "invalid_signature"


class StaleRequestError(VerificationError):
    reason = "stale_timestamp"


class MalformedTimestampError(VerificationError):
    status = 400
    reason = "malformed_timestamp"


class ReplayedRequestError(VerificationError):
    status = 409
    reason = "replayed_webhook_id"


def hubspot_v3_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """Compute the base64 HMAC-SHA256 that HubSpot sends in X-HubSpot-Signature-v3.

    The signed source is `method + uri + body + timestamp` in UTF-8, with the
    raw body bytes and the timestamp header exactly as received.
    """
    source = method.encode("utf-8") + uri.encode("utf-8") + body + timestamp.encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), source, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def parse_hubspot_timestamp(value: str | None) -> datetime:
    """Read X-HubSpot-Request-Timestamp, which is epoch milliseconds.

    A value in epoch seconds is rejected rather than read as milliseconds of
    January 1970 or scaled up, because HubSpot never sends seconds here.
    """
    if value is None or value.strip() == "":
        raise MissingSignatureError(f"missing {HUBSPOT_TIMESTAMP_HEADER} header")
    text = value.strip()
    if not text.isdigit():
        raise MalformedTimestampError(
            f"{HUBSPOT_TIMESTAMP_HEADER} must be epoch milliseconds, got {text[:20]!r}"
        )
    millis = int(text)
    if millis < _MILLISECONDS_FLOOR:
        raise StaleRequestError(
            f"{HUBSPOT_TIMESTAMP_HEADER} {text} looks like epoch seconds; "
            "HubSpot sends epoch milliseconds"
        )
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def check_freshness(sent_at: datetime, now: datetime, window: timedelta, *, what: str) -> None:
    """Raise StaleRequestError when `sent_at` is more than `window` away from `now`.

    Timestamps in the future beyond the window are rejected too, so a forged
    far-future timestamp cannot keep a captured request valid.
    """
    age = now - sent_at
    if age > window:
        raise StaleRequestError(
            f"{what} is {int(age.total_seconds())} s old; the limit is "
            f"{int(window.total_seconds())} s"
        )
    if -age > window:
        raise StaleRequestError(
            f"{what} is {int(-age.total_seconds())} s in the future; the limit is "
            f"{int(window.total_seconds())} s"
        )


def verify_hubspot_v3(
    *,
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    now: datetime,
    window: timedelta,
) -> None:
    """Verify a HubSpot v3 signature and timestamp; raise VerificationError on failure.

    `uri` must be the full URL HubSpot called (the configured public base URL
    plus the path and query), never one rebuilt from the Host header.
    """
    if not signature_header:
        raise MissingSignatureError(f"missing {HUBSPOT_SIGNATURE_HEADER} header")
    sent_at = parse_hubspot_timestamp(timestamp_header)
    check_freshness(sent_at, now, window, what=HUBSPOT_TIMESTAMP_HEADER)

    assert timestamp_header is not None  # parse_hubspot_timestamp rejected None
    expected = hubspot_v3_signature(secret, method, uri, body, timestamp_header.strip())
    if not hmac.compare_digest(expected.encode("ascii"), signature_header.strip().encode("utf-8")):
        raise InvalidSignatureError(f"{HUBSPOT_SIGNATURE_HEADER} does not match the request")


def load_public_key(text: str) -> Ed25519PublicKey | RSAPublicKey:
    """Load a PEM public key, or the base64 DER body of one (SubjectPublicKeyInfo)."""
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode("ascii"))
    else:
        key = serialization.load_der_public_key(base64.b64decode("".join(text.split())))
    if not isinstance(key, Ed25519PublicKey | RSAPublicKey):
        raise ValueError(f"expected an Ed25519 or RSA public key, got {type(key).__name__}")
    return key


def _decode_signature(header_name: str, value: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSignatureError(f"{header_name} is not valid base64") from exc


def verify_ghl(
    *,
    body: bytes,
    signature_header: str | None,
    legacy_signature_header: str | None,
    public_key: Ed25519PublicKey | None,
    legacy_key: RSAPublicKey | None,
) -> str:
    """Verify a GoHighLevel signature over the raw body; return the scheme that passed.

    x-ghl-signature (Ed25519) is checked first. The legacy x-wh-signature
    (RSA PKCS#1 v1.5 with SHA-256) is used only when x-ghl-signature is absent
    and a legacy key is configured, so a bad Ed25519 signature never falls back.
    """
    if signature_header:
        if public_key is None:
            raise InvalidSignatureError(
                f"{GHL_SIGNATURE_HEADER} received but no Ed25519 public key is configured"
            )
        signature = _decode_signature(GHL_SIGNATURE_HEADER, signature_header)
        try:
            public_key.verify(signature, body)
        except InvalidSignature as exc:
            raise InvalidSignatureError(f"{GHL_SIGNATURE_HEADER} does not match the body") from exc
        return "ed25519"

    if legacy_signature_header and legacy_key is not None:
        signature = _decode_signature(GHL_LEGACY_SIGNATURE_HEADER, legacy_signature_header)
        try:
            legacy_key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as exc:
            raise InvalidSignatureError(
                f"{GHL_LEGACY_SIGNATURE_HEADER} does not match the body"
            ) from exc
        return "rsa-sha256"

    raise MissingSignatureError(f"missing {GHL_SIGNATURE_HEADER} header")


def verify_token(expected: str, received: str | None) -> None:
    """Compare a shared token in constant time; raise VerificationError on mismatch."""
    if not received:
        raise MissingSignatureError(f"missing {GENERIC_TOKEN_HEADER} header")
    if not hmac.compare_digest(expected.encode("utf-8"), received.strip().encode("utf-8")):
        raise InvalidSignatureError(f"{GENERIC_TOKEN_HEADER} does not match the account's token")

"""Mask personal data and secrets before they reach a log line or an error message.

Pure functions on strings, so a structlog processor, an exception message and
a test can all use them. Masking keeps enough to tell records apart
(the first letter of an email, the last four digits of a phone number).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

_EMAIL = re.compile(
    r"(?P<first>[A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@(?P<domain>[A-Za-z0-9.-]+\.[A-Za-z]{2,})"
)

# HubSpot private-app tokens look like `pat-na1-<uuid>`, GoHighLevel private
# integration tokens like `pit-<uuid>`. Both are masked wherever they appear.
_CRM_TOKEN = re.compile(r"\b(?:pat|pit)-[A-Za-z0-9_-]{6,}")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_SECRET_PARAM = re.compile(
    r"(?i)\b(access_token|refresh_token|client_secret|hapikey|api_key|apikey|token|code)"
    r"=[^&\s\"']+"
)

# A phone number: optional +, then at least 7 digits with spaces, dots,
# dashes or brackets between them. Long bare digit runs (ids, epoch
# milliseconds) are left alone unless they are written with a leading +.
_PHONE = re.compile(r"(?<![\w.])\+?\(?\d[\d\s().-]{5,}\d(?![\w])")


def mask_email(email: str | None) -> str | None:
    """Return `j***@example.com` for `jane.doe@example.com`; a non-email gets fully masked."""
    if email is None:
        return None
    text = email.strip()
    local, sep, domain = text.partition("@")
    if not sep or not local or not domain:
        return MASK
    return f"{local[0]}{MASK}@{domain}"


def mask_phone(phone: str | None) -> str | None:
    """Return `***0134` for `+1 415 555 0134`: only the last four digits stay."""
    if phone is None:
        return None
    digits = re.sub(r"\D", "", phone)
    if len(digits) <= 4:
        return MASK
    return f"{MASK}{digits[-4:]}"


def redact_url(url: str) -> str:
    """Return `url` without its query string, fragment and user:password part."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _mask_phone_match(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    has_separator = any(char in text for char in " ().-")
    # A bare run of digits is more often an id or a timestamp than a phone
    # number, so it is masked only when written as `+1415...`.
    if not has_separator and not text.startswith("+"):
        return text
    if len(digits) < 7 or len(digits) > 15:
        return text
    return f"{MASK}{digits[-4:]}"


def redact_text(text: str) -> str:
    """Mask emails, phone numbers, bearer tokens and CRM tokens in free text."""
    text = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _CRM_TOKEN.sub(MASK, text)
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}={MASK}", text)
    text = _EMAIL.sub(lambda m: f"{m.group('first')}{MASK}@{m.group('domain')}", text)
    return _PHONE.sub(_mask_phone_match, text)

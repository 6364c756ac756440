import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.redact import mask_email, mask_phone, redact_text, redact_url


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("jane.doe@example.com", "j***@example.com"),
        ("  a@b.co ", "a***@b.co"),
        ("not-an-email", "***"),
        ("@example.com", "***"),
        (None, None),
    ],
    ids=["plain", "short-local-part", "no-at-sign", "empty-local-part", "none"],
)
def test_mask_email(email, expected):
    assert mask_email(email) == expected


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("+1 415 555 0134", "***0134"),
        ("(415) 555-0134", "***0134"),
        ("123", "***"),
        (None, None),
    ],
    ids=["international", "us-format", "too-short", "none"],
)
def test_mask_phone(phone, expected):
    assert mask_phone(phone) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://api.hubapi.com/crm/v3/objects/contacts?hapikey=secret&after=5",
            "https://api.hubapi.com/crm/v3/objects/contacts",
        ),
        ("https://user:pw@example.com:8443/a#frag", "https://example.com:8443/a"),
        ("http://127.0.0.1:5000/x", "http://127.0.0.1:5000/x"),
    ],
    ids=["query-string", "userinfo-and-fragment", "unchanged"],
)
def test_redact_url(url, expected):
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abc.def-123", "abc.def-123"),
        ("token pat-na1-11111111-2222-3333-4444-555555555555 rejected", "pat-na1-1111"),
        ("token pit-0a1b2c3d-aaaa-bbbb rejected", "pit-0a1b2c3d"),
        ("write failed for jane.doe@example.com", "jane.doe@"),
        ("call +1 415 555 0134 now", "415 555"),
        ("call (415) 555-0134 now", "(415) 555"),
        ("POST /oauth/v1/token?refresh_token=r3fr3sh&x=1", "r3fr3sh"),
    ],
    ids=["bearer", "hubspot-pat", "ghl-pit", "email", "phone-international", "phone-us", "query"],
)
def test_redact_text_removes_secret(text, secret):
    assert secret not in redact_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "contact 12345678901 updated",
        "lastmodifieddate GTE 1717200000000",
        "HTTP 429 on POST /crm/v3/objects/contacts/search",
    ],
    ids=["record-id", "epoch-ms", "status-and-path"],
)
def test_redact_text_keeps_ids_and_timestamps(text):
    assert redact_text(text) == text


def test_redact_text_keeps_phone_tail_and_domain():
    text = redact_text("jane.doe@example.com +1 415 555 0134")

    assert "j***@example.com" in text
    assert "***0134" in text


_LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._+-", min_size=2, max_size=20)
_DOMAIN = st.from_regex(r"[a-z]{2,10}\.(com|org|co\.uk|example)", fullmatch=True)


@given(local=_LOCAL, domain=_DOMAIN, before=st.text(max_size=20), after=st.text(max_size=20))
def test_redact_text_never_keeps_an_email(local, domain, before, after):
    email = f"{local}@{domain}"

    redacted = redact_text(f"{before} {email} {after}")

    assert email not in redacted


@given(digits=st.from_regex(r"[2-9]\d{2} \d{3} \d{4}", fullmatch=True))
def test_redact_text_never_keeps_a_us_phone(digits):
    phone = f"+1 {digits}"

    redacted = redact_text(f"call {phone} today")

    assert phone not in redacted
    assert redacted.endswith(f"***{digits[-4:]} today")


@given(token=st.from_regex(r"pat-na1-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}", fullmatch=True))
def test_redact_text_never_keeps_a_hubspot_token(token):
    assert token not in redact_text(f"Authorization failed for {token}")

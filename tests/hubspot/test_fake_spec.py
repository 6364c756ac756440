import requests

from tests.fakes.hubspot.spec import hubspot_validator
from tests.fakes.openapi import require_validator
from tests.hubspot.conftest import BASE_URL


def test_fake_rejects_string_sorts_the_api_ignores(mocked, fake):
    require_validator(fake.validator)
    body = {"sorts": ["lastmodifieddate"], "limit": 10}

    response = requests.post(f"{BASE_URL}/crm/v3/objects/contacts/search", json=body, timeout=5)

    assert response.status_code == 400
    assert "sorts/0" in response.json()["message"]
    fake.spec_problems.clear()


def test_fake_rejects_batch_over_100_inputs(mocked, fake):
    require_validator(fake.validator)
    body = {"inputs": [{"id": str(n), "properties": {}} for n in range(101)]}

    response = requests.post(
        f"{BASE_URL}/crm/v3/objects/contacts/batch/update", json=body, timeout=5
    )

    assert response.status_code == 400
    assert "is too long" in response.json()["message"]
    fake.spec_problems.clear()


def test_patched_spec_accepts_minimal_search():
    validator = require_validator(hubspot_validator())
    body = {"sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}], "limit": 200}
    request = requests.Request("POST", f"{BASE_URL}/crm/v3/objects/contacts/search", json=body)

    assert validator.validate(request.prepare()) == []


def test_deal_paths_validate_against_object_type_id():
    validator = require_validator(hubspot_validator())

    operation = validator.find_operation("PATCH", "/crm/v3/objects/deals/123")

    assert operation.template == "/crm/v3/objects/0-3/{dealId}"
    assert operation.scopes() == ("crm.objects.deals.write",)

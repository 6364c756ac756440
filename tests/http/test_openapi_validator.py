import json

import pytest
import requests

from tests.fakes.openapi import (
    OpenApiValidator,
    Patch,
    load_validator,
    problems_response_body,
    specs_dir,
)

COMMON = {
    "openapi": "3.0.1",
    "info": {"title": "common", "version": "1"},
    "paths": {},
    "components": {
        "schemas": {
            "Tag": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}},
            }
        }
    },
}

API = {
    "openapi": "3.0.1",
    "info": {"title": "api", "version": "1"},
    "paths": {
        "/items/search": {
            "post": {
                "operationId": "searchItems",
                "parameters": [
                    {
                        "name": "Version",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string", "enum": ["2021-07-28"]},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Search"}}
                    },
                },
                "security": [{"oauth2": ["items.read"]}],
            }
        },
        "/items/{itemId}": {
            "parameters": [
                {"name": "itemId", "in": "path", "required": True, "schema": {"type": "integer"}}
            ],
            "get": {
                "operationId": "getItem",
                "parameters": [
                    {"name": "archived", "in": "query", "schema": {"type": "boolean"}},
                    {
                        "name": "locationId",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                ],
            },
            "put": {
                "operationId": "putItem",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "note": {"type": "string", "nullable": True},
                                    "tags": {
                                        "type": "array",
                                        "items": {
                                            "$ref": "../common/common.json#/components/schemas/Tag"
                                        },
                                    },
                                },
                            }
                        }
                    },
                },
            },
        },
        "/token": {
            "post": {
                "requestBody": {
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["grant_type"],
                                "properties": {
                                    "grant_type": {"type": "string", "enum": ["refresh_token"]}
                                },
                            }
                        }
                    }
                }
            }
        },
    },
    "components": {
        "schemas": {
            "Search": {
                "type": "object",
                "required": ["limit", "sorts"],
                "properties": {
                    "limit": {"type": "integer"},
                    "sorts": {"type": "array", "items": {"type": "string"}},
                },
            }
        }
    },
}


@pytest.fixture
def spec_files(tmp_path):
    (tmp_path / "common").mkdir()
    (tmp_path / "apps").mkdir()
    (tmp_path / "common" / "common.json").write_text(json.dumps(COMMON))
    api = tmp_path / "apps" / "api.json"
    api.write_text(json.dumps(API))
    return api


def prepare(method, url, **kwargs):
    return requests.Request(method, url, **kwargs).prepare()


VERSION = {"Version": "2021-07-28"}


@pytest.fixture
def validator(spec_files):
    return OpenApiValidator([spec_files])


def test_valid_request_has_no_problems(validator):
    request = prepare(
        "POST", "https://h/items/search", json={"limit": 5, "sorts": ["a"]}, headers=VERSION
    )

    assert validator.validate(request) == []


def test_literal_path_wins_over_template(validator):
    operation = validator.find_operation("POST", "/items/search")

    assert operation.operation_id == "searchItems"
    assert operation.scopes() == ("items.read",)


def test_missing_required_header_is_reported(validator):
    request = prepare("POST", "https://h/items/search", json={"limit": 5, "sorts": []})

    problems = validator.validate(request)

    assert problems == ["POST /items/search: missing required header parameter 'Version'"]


def test_wrong_header_value_is_reported(validator):
    request = prepare(
        "POST",
        "https://h/items/search",
        json={"limit": 5, "sorts": []},
        headers={"Version": "2020-01-01"},
    )

    problems = validator.validate(request)

    assert len(problems) == 1
    assert "'2020-01-01' is not one of ['2021-07-28']" in problems[0]


def test_body_schema_errors_name_the_location(validator):
    request = prepare(
        "POST", "https://h/items/search", json={"limit": "5", "sorts": [{"a": 1}]}, headers=VERSION
    )

    problems = validator.validate(request)

    assert len(problems) == 2
    assert "at limit: '5' is not of type 'integer'" in problems[0]
    assert "at sorts/0:" in problems[1]


def test_missing_required_body_is_reported(validator):
    request = prepare("POST", "https://h/items/search", headers=VERSION)

    assert validator.validate(request) == ["POST /items/search: missing required request body"]


def test_path_param_and_query_types_are_checked(validator):
    request = prepare("GET", "https://h/items/abc", params={"archived": "yes", "locationId": "L"})

    problems = validator.validate(request)

    assert (
        "GET /items/{itemId}: path parameter 'itemId': expected an integer, got 'abc'" in problems
    )
    assert "GET /items/{itemId}: query parameter 'archived': expected true or false, got 'yes'" in (
        problems
    )


def test_missing_required_query_and_undocumented_query(validator):
    request = prepare("GET", "https://h/items/7", params={"limit": "10"})

    problems = validator.validate(request)

    assert "GET /items/{itemId}: missing required query parameter 'locationId'" in problems
    assert "GET /items/{itemId}: query parameter 'limit' is not documented" in problems


def test_reference_into_another_file_is_followed(validator):
    good = prepare("PUT", "https://h/items/7", json={"tags": [{"name": "vip"}], "note": None})
    bad = prepare("PUT", "https://h/items/7", json={"tags": [{"label": "vip"}]})

    assert validator.validate(good) == []
    assert validator.validate(bad) == [
        "PUT /items/{itemId}: body at tags/0: 'name' is a required property"
    ]


def test_form_encoded_body_is_validated(validator):
    good = prepare("POST", "https://h/token", data={"grant_type": "refresh_token"})
    bad = prepare("POST", "https://h/token", data={"grant_type": "password"})

    assert validator.validate(good) == []
    assert len(validator.validate(bad)) == 1


def test_wrong_content_type_is_reported(validator):
    request = prepare("POST", "https://h/token", json={"grant_type": "refresh_token"})

    problems = validator.validate(request)

    assert problems == [
        "POST /token: content type 'application/json' not accepted "
        "(expected application/x-www-form-urlencoded)"
    ]


def test_unknown_operation_is_reported(validator):
    problems = validator.validate(prepare("DELETE", "https://h/items/search"))

    assert problems == [
        "DELETE /items/search: no operation in the spec matches this method and path"
    ]


def test_patch_relaxes_a_wrong_schema(spec_files):
    patches = [
        Patch("/components/schemas/Search/properties/sorts/items", value={"type": "object"}),
        Patch("/components/schemas/Search/required", value=["limit"]),
        Patch("/components/schemas/Search/properties/limit/maximum", op="add", value=200),
    ]
    validator = OpenApiValidator([spec_files], patches=patches)

    ok = prepare(
        "POST", "https://h/items/search", json={"limit": 5, "sorts": [{"a": 1}]}, headers=VERSION
    )
    too_many = prepare("POST", "https://h/items/search", json={"limit": 500}, headers=VERSION)

    assert validator.validate(ok) == []
    assert validator.validate(too_many) == [
        "POST /items/search: body at limit: 500 is greater than the maximum of 200"
    ]


def test_patch_that_matches_nothing_raises(spec_files):
    with pytest.raises(ValueError, match="matched no spec file"):
        OpenApiValidator([spec_files], patches=[Patch("/components/schemas/Nope/x", value=1)])


def test_path_alias_maps_onto_documented_path(spec_files):
    validator = OpenApiValidator([spec_files], path_aliases=[(r"^/things/", "/items/")])

    operation = validator.find_operation("GET", "/things/5")

    assert operation.template == "/items/{itemId}"
    assert operation.path_params == {"itemId": "5"}


def test_base_path_is_stripped(validator):
    request = prepare("GET", "https://h/prefix/items/7", params={"locationId": "L"})

    assert validator.validate(request, base_path="/prefix") == []


def test_problems_body_lists_each_problem():
    body = problems_response_body(["a", "b"])

    assert body["category"] == "VALIDATION_ERROR"
    assert [error["message"] for error in body["errors"]] == ["a", "b"]


def test_load_validator_returns_none_without_specs(monkeypatch, tmp_path):
    monkeypatch.setenv("LEADSCORE_SPECS_DIR", str(tmp_path / "absent"))

    assert specs_dir() is None
    assert load_validator("hubspot", ["contacts.json"]) is None


def test_load_validator_reads_specs_dir_from_env(monkeypatch, spec_files):
    monkeypatch.setenv("LEADSCORE_SPECS_DIR", str(spec_files.parent.parent))

    validator = load_validator("apps", ["api.json"])

    assert validator.find_operation("GET", "/items/1").operation_id == "getItem"

"""Who calls the API: only configured API keys (or bearer tokens), each with a name, and that
name in every audit entry the call causes. Through chalice.test.Client on SQLite and DynamoDB
Local (the ``client`` fixture of test_app)."""

from __future__ import annotations

import json

import pytest
from chalice.local import LambdaEventConverter
from test_app import CN_CSV, FINAL, JSON, NOW, TOKEN, body, client, get, run_cycle, upload

from chalicelib.config import bootstrap
from chalicelib.config.settings import Settings
from chalicelib.domain.errors import InputError

__all__ = ["client"]  # the fixture, shared with test_app

KEYS = "alice=abc123id,ci=def456id"
REQUEST = "/requests/daily-peak-jump/CN/2026-03-09"


@pytest.fixture
def api_gateway(monkeypatch):
    """API Gateway in front: it puts the id of the key a client sent into the request context.
    A test sends that id as X-Test-Api-Key-Id."""
    convert = LambdaEventConverter.create_lambda_event

    def with_key_id(self, method, path, headers, body=None):
        event = convert(self, method, path, headers, body)
        key_id = event["headers"].pop("x-test-api-key-id", None)
        if key_id is not None:
            event["requestContext"]["identity"]["apiKeyId"] = key_id
        return event

    monkeypatch.setattr(LambdaEventConverter, "create_lambda_event", with_key_id)
    monkeypatch.setenv("BURST_ASSURANCE_API_AUTH", "api-key")
    monkeypatch.setenv("BURST_ASSURANCE_API_KEYS", KEYS)
    bootstrap.reset()


def keyed(key_id: str) -> dict[str, str]:
    return {"X-Test-Api-Key-Id": key_id, "Content-Type": "application/json"}


# -- settings ----------------------------------------------------------------------------------


def test_api_keys_and_tokens_are_read_as_names():
    settings = Settings.from_env(
        {
            "BURST_ASSURANCE_API_KEYS": " alice=abc123id , ci=def456id ",
            "BURST_ASSURANCE_API_TOKEN": "legacy",
            "BURST_ASSURANCE_API_TOKENS": "bob=t0ken==,ci=other",
        }
    )
    assert settings.api_keys == {"alice": "abc123id", "ci": "def456id"}
    assert settings.bearer_tokens == {"api": "legacy", "bob": "t0ken==", "ci": "other"}


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("abc123id", "pair 1 is not name=value"),
        ("alice=abc,=def", "pair 2 is not name=value"),
        ("alice=abc,ci=", "pair 2 is not name=value"),
        ("alice=abc,alice=def", "pair 2 repeats a name or a value"),
        ("alice=abc,ci=abc", "pair 2 repeats a name or a value"),
    ],
)
@pytest.mark.parametrize("setting", ["API_KEYS", "API_TOKENS"])
def test_a_malformed_list_of_names_is_refused_without_showing_the_secrets(setting, value, fragment):
    with pytest.raises(InputError) as caught:
        Settings.from_env({f"BURST_ASSURANCE_{setting}": value})
    assert f"{setting.lower()}: " in str(caught.value)
    assert fragment in str(caught.value)
    assert "abc" not in str(caught.value)


# -- api-key mode ------------------------------------------------------------------------------


@pytest.mark.usefixtures("api_gateway")
@pytest.mark.parametrize("key_id", ["someone-elses-key", "abc123i", "abc123idx", "ALICE"])
def test_a_key_id_not_configured_is_refused_with_403_and_changes_nothing(client, key_id):
    before = snapshot_as(client, "abc123id")
    listing = client.http.get("/events", headers=keyed(key_id))
    assert listing.status_code == 403
    assert body(listing)["error"]["code"] == "forbidden"
    created = client.http.post("/events", headers=keyed(key_id), body=json.dumps(FINAL))
    assert created.status_code == 403
    assert snapshot_as(client, "abc123id") == before


@pytest.mark.usefixtures("api_gateway")
def test_no_configured_keys_means_no_one_gets_in(client, monkeypatch):
    monkeypatch.delenv("BURST_ASSURANCE_API_KEYS")
    bootstrap.reset()
    assert client.http.get("/events", headers=keyed("abc123id")).status_code == 403


@pytest.mark.usefixtures("api_gateway")
def test_each_decision_names_the_person_and_the_key(client):
    csv = {"X-Test-Api-Key-Id": "def456id", "Content-Type": "text/csv"}
    assert client.http.post("/forecasts", headers=csv, body=CN_CSV).status_code == 201
    run_cycle(client)

    def post(action, key_id, **payload):
        return client.http.post(
            f"{REQUEST}/{action}", headers=keyed(key_id), body=json.dumps(payload)
        )

    assert post("approve", "abc123id", by="carol").status_code == 200
    refused = post("reject", "def456id", by="dan", reason="duplicate")
    assert "approved by carol (api key alice)" in body(refused)["error"]["message"]
    assert post("mark-filed", "def456id", by="dan", ticket="CS-1").status_code == 200
    trail = body(client.http.get(REQUEST, headers=keyed("abc123id")))["audit"]
    assert [(e["action"], e["actor"]) for e in trail] == [
        ("created", "planner"),
        ("decided", "carol (api key alice)"),
        ("filed", "dan (api key ci)"),
    ]


# -- bearer mode -------------------------------------------------------------------------------


def test_named_bearer_tokens_name_their_caller(client, monkeypatch):
    monkeypatch.setenv("BURST_ASSURANCE_API_TOKENS", "ci=ci-token-5e2f")
    bootstrap.reset()
    ci = {"Authorization": "Bearer ci-token-5e2f", "Content-Type": "application/json"}
    upload(client)
    run_cycle(client)
    rejected = client.http.post(
        f"{REQUEST}/reject", headers=ci, body=json.dumps({"by": "erin", "reason": "covered"})
    )
    assert rejected.status_code == 200
    filed = client.http.post(f"{REQUEST}/file", headers=JSON, body=json.dumps({"by": "erin"}))
    assert filed.status_code == 409  # rejected: nothing to file
    trail = body(get(client, REQUEST))["audit"]
    assert trail[-1]["actor"] == "erin (api token ci)"
    assert get(client, "/events", {"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_filing_through_the_api_names_the_token(client):
    upload(client)
    run_cycle(client)
    for action in ("approve", "file"):
        response = client.http.post(
            f"{REQUEST}/{action}", headers=JSON, body=json.dumps({"by": "frank"})
        )
        assert response.status_code == 200
    actors = {e["actor"] for e in body(get(client, REQUEST))["audit"][1:]}
    assert actors == {"frank (api token api)"}


def snapshot_as(client, key_id):
    """test_app.snapshot, through API Gateway with a configured key."""
    headers = {"X-Test-Api-Key-Id": key_id}
    paths = ["/events", "/requests", f"/plan?now={NOW.replace('+', '%2B')}"]
    return [body(client.http.get(path, headers=headers)) for path in paths]

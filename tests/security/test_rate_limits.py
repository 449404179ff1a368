"""Rate limits: the contact-center API per key, and refused Graph webhook requests per IP."""

import json

import pytest
from django.test import Client

from integrations.apikeys import api_key_create
from tests.presence.support_webhook import (
    counter,
    graphish_fixture,  # noqa: F401
    token_signer_fixture,  # noqa: F401
)

UNITS = "/api/v1/business-units"
NOTIFICATIONS = "/graph/notifications"
LIFECYCLE = "/graph/lifecycle"
USER = "6e0c2a4b-1f3d-4c5e-8a9b-0c1d2e3f4a5b"


pytestmark = pytest.mark.usefixtures("rate_limit_window")


def _key(administrator, name: str) -> str:
    return api_key_create(actor=administrator, name=name, scopes=["agents:read"])[1]


def _get(key: str):
    return Client().get(UNITS, headers={"Authorization": f"Bearer {key}"})


# --- the contact-center API -------------------------------------------------------------


def test_a_key_over_its_limit_gets_429_problems_with_retry_after(administrator, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    key = _key(administrator, "ACD")
    assert [_get(key).status_code for _ in range(3)] == [200, 200, 200]

    response = _get(key)

    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 429
    assert body["type"].endswith("#problem-throttled")
    assert "3 requests in a minute" in body["detail"]
    assert 1 <= int(response["Retry-After"]) <= 60


def test_each_key_has_its_own_budget(administrator, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 2
    busy, quiet = _key(administrator, "busy"), _key(administrator, "quiet")
    for _ in range(3):
        _get(busy)
    assert _get(busy).status_code == 429
    assert _get(quiet).status_code == 200


def test_wrong_keys_are_refused_with_401_and_spend_nobody_s_budget(administrator, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 2
    key = _key(administrator, "ACD")
    prefix = key.rsplit("_", 1)[0]
    for attempt in range(5):
        response = _get(f"{prefix}_wrong{attempt}")
        assert response.status_code == 401
        assert response["Content-Type"] == "application/problem+json"
    assert [_get(key).status_code for _ in range(2)] == [200, 200]


def test_the_default_limit_is_generous_and_comes_from_the_environment(settings):
    assert settings.API_RATE_LIMIT_PER_MINUTE >= 6000


def test_the_schema_documents_429(administrator_client):
    schema = administrator_client.get("/api/v1/openapi.json").json()
    responses = schema["paths"][UNITS]["get"]["responses"]
    assert "429" in responses


# --- the Graph webhook: refused requests per IP ------------------------------------------


def _post(body, *, ip="203.0.113.5", path=NOTIFICATIONS):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return Client(REMOTE_ADDR=ip).post(path, data=data, content_type="application/json")


def test_an_address_sending_junk_is_answered_429_early(db, settings):
    settings.WEBHOOK_REJECT_LIMIT_PER_MINUTE = 3
    assert [_post("not json").status_code for _ in range(3)] == [400, 400, 400]
    refused_so_far = counter("rejected_malformed")

    response = _post("not json")

    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    # Answered before the body was read or checked: nothing else was counted.
    assert counter("rejected_malformed") == refused_so_far
    assert _post("not json", path=LIFECYCLE).status_code == 429


def test_forged_validation_tokens_count_as_refusals(graphish, settings):
    settings.WEBHOOK_REJECT_LIMIT_PER_MINUTE = 2
    forged = graphish.body(graphish.item(USER), tokens=["not.a.token"])
    assert [_post(forged).status_code for _ in range(2)] == [400, 400]
    assert _post(graphish.body(graphish.item(USER))).status_code == 429


def test_other_addresses_are_not_blocked(graphish, settings):
    settings.WEBHOOK_REJECT_LIMIT_PER_MINUTE = 2
    for _ in range(3):
        _post("junk", ip="198.51.100.66")
    assert _post("junk", ip="198.51.100.66").status_code == 429

    response = _post(graphish.body(graphish.item(USER)), ip="52.159.0.1")
    assert response.status_code == 202


def test_valid_notifications_are_never_throttled_for_being_frequent(graphish, settings):
    settings.WEBHOOK_REJECT_LIMIT_PER_MINUTE = 2
    statuses = [_post(graphish.body(graphish.item(USER, sequence=n))).status_code for n in range(6)]
    assert statuses == [202] * 6
    handshake = Client(REMOTE_ADDR="203.0.113.5").post(f"{NOTIFICATIONS}?validationToken=abc")
    assert handshake.status_code == 200


def test_the_forwarded_address_counts_only_behind_a_configured_proxy(db, settings):
    settings.WEBHOOK_REJECT_LIMIT_PER_MINUTE = 1
    settings.CLIENT_IP_PROXY_COUNT = 1
    proxy = "10.0.0.2"

    def through_proxy(caller: str):
        return Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"1.2.3.4, {caller}").post(
            NOTIFICATIONS, data="junk", content_type="application/json"
        )

    assert through_proxy("198.51.100.1").status_code == 400
    assert through_proxy("198.51.100.1").status_code == 429
    assert through_proxy("198.51.100.2").status_code == 400

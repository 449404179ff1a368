"""Subscriptions (docs/graph.md, Change notifications): creation with the validation
handshake, the presence rules, renew / delete / list without clientState."""

from __future__ import annotations

import uuid

import pytest

from tests.graphsim.support import Webhook, in_minutes
from tests.graphsim.test_graph_auth import assert_graph_error
from tests.plugins.graphsim_server import SimTenant


def body_for(webhook: Webhook, user_ids: list[str], encryption_key=None, **overrides) -> dict:
    if len(user_ids) == 1:
        resource = f"/communications/presences/{user_ids[0]}"
    else:
        resource = "/communications/presences?$filter=id in ({})".format(
            ",".join(f"'{i}'" for i in user_ids)
        )
    body = {
        "changeType": "updated",
        "notificationUrl": webhook.url,
        "lifecycleNotificationUrl": webhook.lifecycle_url,
        "resource": resource,
        "expirationDateTime": in_minutes(55),
        "clientState": "s3cret-state",
        "includeResourceData": encryption_key is not None,
    }
    if encryption_key is not None:
        body["encryptionCertificate"] = encryption_key.certificate_b64
        body["encryptionCertificateId"] = encryption_key.certificate_id
    body.update(overrides)
    return body


@pytest.fixture
def watched(sim_tenant: SimTenant) -> list[str]:
    return [u["id"] for u in sim_tenant.users[:3]]


def test_create_validates_both_urls_and_returns_201(
    system_user, webhook, watched, encryption_key
) -> None:
    """docs/graph.md: POST /subscriptions → 201 after Graph POSTs ?validationToken=… to the
    notification and lifecycle URLs."""
    response = system_user.graph.post("/subscriptions", body_for(webhook, watched, encryption_key))
    assert response.status_code == 201, response.text
    sub = response.json()
    assert len(webhook.validations) == 2
    assert webhook.validations[0].startswith("Validation: ")
    assert sub["resource"].startswith("/communications/presences?$filter=id in (")
    assert sub["changeType"] == "updated"
    assert sub["expirationDateTime"].endswith("Z")


def test_single_user_resource_is_accepted(system_user, webhook, watched) -> None:
    response = system_user.graph.post("/subscriptions", body_for(webhook, watched[:1]))
    assert response.status_code == 201, response.text


def test_second_subscription_of_same_user_and_app_is_409(system_user, webhook, watched) -> None:
    """docs/graph.md: same resource + changeType again → 409 (presence: one per user per app)."""
    assert system_user.graph.post("/subscriptions", body_for(webhook, watched)).status_code == 201
    again = system_user.graph.post("/subscriptions", body_for(webhook, watched))
    assert again.status_code == 409
    assert "already exists" in again.json()["error"]["message"]


def test_app_token_cannot_subscribe_to_presence(graph, webhook, watched) -> None:
    """docs/graph.md, "Change notifications": presence subscriptions are delegated only; the
    subscription service refuses an app-only token in its ExtensionError shape."""
    response = graph.post("/subscriptions", body_for(webhook, watched))
    assert_graph_error(response, 403, "ExtensionError")
    assert response.json()["error"]["message"] == (
        "Operation: Create; Exception: [Status Code: Forbidden; Reason: The request is not "
        "authorized for this user or application.]"
    )


def test_wrong_validation_answer_fails_with_400_validation_error(
    system_user, webhook, watched
) -> None:
    """docs/graph.md: reply 200, text/plain, the decoded token, or creation fails with
    400 ValidationError."""
    webhook.mode = "wrong"
    assert_graph_error(
        system_user.graph.post("/subscriptions", body_for(webhook, watched)), 400, "ValidationError"
    )


def test_failing_endpoint_fails_validation(system_user, webhook, watched) -> None:
    webhook.mode = "error"
    assert_graph_error(
        system_user.graph.post("/subscriptions", body_for(webhook, watched)), 400, "ValidationError"
    )


def test_unreachable_endpoint_fails_validation(system_user, webhook, watched) -> None:
    body = body_for(webhook, watched, notificationUrl="http://127.0.0.1:9/nothing")
    assert_graph_error(system_user.graph.post("/subscriptions", body), 400, "ValidationError")


def test_expiration_over_60_minutes_is_400(system_user, webhook, watched) -> None:
    """docs/graph.md: presence subscriptions last at most 60 minutes."""
    body = body_for(webhook, watched, expirationDateTime=in_minutes(61))
    assert_graph_error(system_user.graph.post("/subscriptions", body), 400, "InvalidRequest")


def test_more_than_650_ids_is_400(system_user, webhook) -> None:
    """docs/graph.md: ≤ 650 ids per presence subscription."""
    ids = [str(uuid.uuid4()) for _ in range(651)]
    assert_graph_error(
        system_user.graph.post("/subscriptions", body_for(webhook, ids)), 400, "InvalidRequest"
    )
    assert system_user.graph.post("/subscriptions", body_for(webhook, ids[:650])).status_code == 201


def test_resource_data_needs_a_certificate(system_user, webhook, watched) -> None:
    body = body_for(webhook, watched, includeResourceData=True)
    assert_graph_error(system_user.graph.post("/subscriptions", body), 400, "InvalidRequest")


def test_client_state_over_128_characters_is_400(system_user, webhook, watched) -> None:
    body = body_for(webhook, watched, clientState="x" * 129)
    assert_graph_error(system_user.graph.post("/subscriptions", body), 400, "InvalidRequest")


def test_plain_http_is_refused_for_non_loopback_hosts(system_user, webhook, watched) -> None:
    body = body_for(webhook, watched, notificationUrl="http://example.com/notify")
    assert_graph_error(system_user.graph.post("/subscriptions", body), 400, "InvalidRequest")


def test_list_get_renew_delete(graph, system_user, webhook, watched) -> None:
    """docs/graph.md: PATCH renews (200); DELETE → 204; GET lists the app's own;
    clientState is never returned by GET."""
    sub = system_user.graph.post("/subscriptions", body_for(webhook, watched)).json()
    listed = system_user.graph.get("/subscriptions").json()["value"]
    assert [s["id"] for s in listed] == [sub["id"]]
    assert listed[0]["clientState"] is None
    # The app (app-only token) sees the subscriptions its system users created.
    assert [s["id"] for s in graph.get("/subscriptions").json()["value"]] == [sub["id"]]
    one = system_user.graph.get(f"/subscriptions/{sub['id']}").json()
    assert one["clientState"] is None
    new_expiry = in_minutes(59)
    renewed = system_user.graph.patch(
        f"/subscriptions/{sub['id']}", {"expirationDateTime": new_expiry}
    )
    assert renewed.status_code == 200
    assert renewed.json()["expirationDateTime"][:16] == new_expiry[:16]
    too_long = system_user.graph.patch(
        f"/subscriptions/{sub['id']}", {"expirationDateTime": in_minutes(90)}
    )
    assert too_long.status_code == 400
    assert system_user.graph.delete(f"/subscriptions/{sub['id']}").status_code == 204
    assert system_user.graph.get(f"/subscriptions/{sub['id']}").status_code == 404
    assert system_user.graph.get("/subscriptions").json()["value"] == []


def test_subscription_disappears_after_expiry(graphsim, system_user, webhook, watched) -> None:
    """Subscriptions expire: gone once past expirationDateTime."""
    sub = system_user.graph.post(
        "/subscriptions", body_for(webhook, watched, expirationDateTime=in_minutes(10))
    ).json()
    graphsim.control.advance_clock(11 * 60)
    assert system_user.graph.get(f"/subscriptions/{sub['id']}").status_code == 404

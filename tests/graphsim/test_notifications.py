"""Delivery of change notifications to a real local webhook: encrypted resource
data the test's own key decrypts and verifies, validation tokens, lifecycle events
(docs/graph.md, Change notifications: Delivery, Decrypt, Lifecycle events)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tests.graphsim.support import in_minutes, trusted_session
from tests.graphsim.test_subscriptions import body_for
from tests.plugins.graphsim_server import SimTenant

PUBLISHER = "0bf30f3b-4a52-48df-9a82-234910c4a086"


def decrypt(item: dict, private_key) -> dict:
    """docs/graph.md Decrypt: RSA-OAEP(SHA-1) dataKey → key; HMAC-SHA256(key, data) must
    equal dataSignature; AES-CBC PKCS7 with IV = first 16 key bytes → JSON."""
    content = item["encryptedContent"]
    key = private_key.decrypt(
        base64.b64decode(content["dataKey"]),
        # Graph's choice, not ours: OAEP with SHA-1.
        asym_padding.OAEP(
            mgf=asym_padding.MGF1(hashes.SHA1()),  # noqa: S303
            algorithm=hashes.SHA1(),  # noqa: S303
            label=None,
        ),
    )
    data = base64.b64decode(content["data"])
    expected = hmac.new(key, data, hashlib.sha256).digest()
    assert hmac.compare_digest(expected, base64.b64decode(content["dataSignature"]))
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    padded = decryptor.update(data) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return json.loads(unpadder.update(padded) + unpadder.finalize())


def test_presence_change_arrives_encrypted_and_verifiable(
    graphsim, sim_tenant: SimTenant, system_user, webhook, encryption_key
) -> None:
    watched = [u["id"] for u in sim_tenant.users[:2]]
    sub = system_user.graph.post(
        "/subscriptions", body_for(webhook, watched, encryption_key)
    ).json()
    graphsim.control.set_presence(sim_tenant.tenant_id, watched[0], "Busy", "InACall")
    body = webhook.wait_for(1)[0]
    item = body["value"][0]
    assert item["subscriptionId"] == sub["id"]
    assert item["clientState"] == "s3cret-state"
    assert item["tenantId"] == sim_tenant.tenant_id
    assert item["changeType"] == "updated"
    assert item["resourceData"]["id"] == watched[0]
    assert item["resourceData"]["@odata.type"] == "#Microsoft.Graph.presence"
    assert item["encryptedContent"]["encryptionCertificateId"] == "test-cert-1"
    presence = decrypt(item, encryption_key.private_key)
    assert (presence["availability"], presence["activity"]) == ("Busy", "InACall")
    assert presence["id"] == watched[0]
    # validationTokens: signed by the identity platform's key, aud = our app,
    # appid/azp = the Graph change notification publisher.
    jwks = (
        trusted_session(graphsim.ca_path)
        .get(f"{graphsim.authority_host}/{sim_tenant.tenant_id}/discovery/v2.0/keys")
        .json()
    )
    token = body["validationTokens"][0]
    key = next(k for k in jwks["keys"] if k["kid"] == jwt.get_unverified_header(token)["kid"])
    claims = jwt.decode(
        token,
        jwt.PyJWK(key).key,
        algorithms=["RS256"],
        audience=sim_tenant.client_id,
        issuer=f"https://sts.windows.net/{sim_tenant.tenant_id}/",
    )
    assert claims["appid"] == PUBLISHER
    assert claims["azp"] == PUBLISHER


def test_only_aggregated_changes_are_notified_and_several_items_share_a_post(
    graphsim, sim_tenant: SimTenant, system_user, webhook, encryption_key, graph
) -> None:
    watched = [u["id"] for u in sim_tenant.users[:3]]
    system_user.graph.post("/subscriptions", body_for(webhook, watched, encryption_key))
    tenant = sim_tenant.tenant_id
    graphsim.control.set_presence(tenant, watched[0], "Away", "Away", preferred=True)
    # A session below a preferred state changes nothing readers see: no notification.
    graph.post(
        f"/users/{watched[0]}/presence/setPresence",
        {"sessionId": sim_tenant.client_id, "availability": "Busy", "activity": "InACall"},
    )
    batch = [{"id": str(i), "method": "POST", "url": f"/users/{uid}/presence/setPresence",
              "body": {"sessionId": sim_tenant.client_id, "availability": "DoNotDisturb",
                       "activity": "Presenting"},
              "headers": {"Content-Type": "application/json"}}
             for i, uid in enumerate(watched[1:])]  # fmt: skip
    assert graph.post("/$batch", {"requests": batch}).status_code == 200
    items = webhook.wait_for_items(3)
    assert sorted(i["resourceData"]["id"] for i in items) == sorted(watched)
    # The two batched changes were queued together, so they share one POST.
    assert any(len(b["value"]) == 2 for b in webhook.wait_for(1))
    states = {
        i["resourceData"]["id"]: decrypt(i, encryption_key.private_key)["availability"]
        for i in items
    }
    assert states == {watched[0]: "Away", watched[1]: "DoNotDisturb", watched[2]: "DoNotDisturb"}


def test_failed_delivery_is_retried(
    graphsim, sim_tenant, system_user, webhook, encryption_key
) -> None:
    watched = [sim_tenant.users[0]["id"]]
    system_user.graph.post("/subscriptions", body_for(webhook, watched, encryption_key))
    webhook.mode = "error"
    graphsim.control.set_presence(sim_tenant.tenant_id, watched[0], "Busy", "InACall")
    deadline = time.monotonic() + 10
    while not [d for d in graphsim.control.deliveries() if d["url"] == webhook.url]:
        assert time.monotonic() < deadline, "no delivery attempt within 10 s"
        time.sleep(0.05)
    webhook.mode = "echo"
    assert len(webhook.wait_for(1, timeout=10)) == 1
    attempts = [d for d in graphsim.control.deliveries() if d["url"] == webhook.url]
    assert attempts[0]["status"] == 500
    assert attempts[-1]["status"] == 202


def test_lifecycle_event_on_demand(graphsim, sim_tenant, system_user, webhook) -> None:
    """docs/graph.md lifecycle events: reauthorizationRequired / subscriptionRemoved / missed."""
    watched = [sim_tenant.users[0]["id"]]
    sub = system_user.graph.post("/subscriptions", body_for(webhook, watched)).json()
    graphsim.control.lifecycle(sub["id"], "reauthorizationRequired")
    event = webhook.wait_for(1, path="/lifecycle")[0]["value"][0]
    assert event["lifecycleEvent"] == "reauthorizationRequired"
    assert event["subscriptionId"] == sub["id"]
    assert event["clientState"] == "s3cret-state"
    assert event["tenantId"] == sim_tenant.tenant_id
    assert "subscriptionExpirationDateTime" in event
    graphsim.control.lifecycle(sub["id"], "subscriptionRemoved")
    assert (
        webhook.wait_for(2, path="/lifecycle")[1]["value"][0]["lifecycleEvent"]
        == "subscriptionRemoved"
    )
    assert system_user.graph.get(f"/subscriptions/{sub['id']}").status_code == 404


def test_deleting_the_watched_user_removes_its_subscription(
    graphsim, sim_tenant, system_user, webhook, graph
) -> None:
    watched = sim_tenant.users[4]["id"]
    sub = system_user.graph.post(
        "/subscriptions", body_for(webhook, [watched], expirationDateTime=in_minutes(30))
    ).json()
    assert graph.delete(f"/users/{watched}").status_code == 204
    event = webhook.wait_for(1, path="/lifecycle")[0]["value"][0]
    assert (event["subscriptionId"], event["lifecycleEvent"]) == (sub["id"], "subscriptionRemoved")


def test_plain_subscription_carries_no_resource_data(
    graphsim, sim_tenant, system_user, webhook
) -> None:
    watched = [sim_tenant.users[0]["id"]]
    system_user.graph.post("/subscriptions", body_for(webhook, watched))
    graphsim.control.set_presence(sim_tenant.tenant_id, watched[0], "Busy", "InACall")
    body = webhook.wait_for(1)[0]
    assert "encryptedContent" not in body["value"][0]
    assert "validationTokens" not in body

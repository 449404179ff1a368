"""The Graph webhook: handshake, verification of every item, acknowledgement, hand-over.

Payloads are built exactly like Graph builds them (support_webhook.py); the
last tests let the real simulator create a subscription against the live
webhook and deliver a presence change all the way to an ACD receiver.
"""

import json
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from graph.client import GraphClient
from graph.config import AppCredentials
from graph.tokens import DelegatedTokenProvider
from integrations.graphlink import graph_config
from presence.subscriptions.certificates import certificate_active, encryption_certificate_b64
from presence.sync_models import AgentPresence, Subscription, SyncRecord
from presence.webhook import views as webhook
from presence.webhook.notifications import KeysUnavailable
from tests.plugins.celery_worker import wait_for
from tests.presence.support_webhook import (
    CLIENT_ID,
    TENANT_ID,
    account_create,
    acd_endpoint_set,
    acd_receiver_fixture,  # noqa: F401
    counter,
    flip_byte,
    graphish_fixture,  # noqa: F401
    mapped_agent,
    signature_valid,
    subscriber_rule,
    subscription_create,
    token_signer_fixture,  # noqa: F401
)
from tests.support.task_queue import TaskQueue, task_queue_fixture  # noqa: F401

USER = "6e0c2a4b-1f3d-4c5e-8a9b-0c1d2e3f4a5b"
NOTIFICATIONS = "/graph/notifications"
LIFECYCLE = "/graph/lifecycle"


class Handed:
    """What the webhook handed to the worker, read back from the real broker."""

    def __init__(self, task_queue: TaskQueue) -> None:
        self.task_queue = task_queue

    def __getitem__(self, what: str):
        if what == "items":
            return self.task_queue.notification_items()
        if what == "calls":
            return len(self.task_queue.notification_messages())
        if what == "lifecycle":
            return self.task_queue.lifecycle_events()
        raise KeyError(what)


@pytest.fixture
def queued(task_queue) -> Handed:
    """What the webhook queued, on a queue of the real broker only this test reads."""
    return Handed(task_queue)


def post(client, body, path=NOTIFICATIONS):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(path, data=data, content_type="application/json")


# --- routes and the validation handshake ------------------------------------------------


def test_the_routes_have_their_names():
    assert reverse("sync:graph_notifications") == NOTIFICATIONS
    assert reverse("sync:graph_lifecycle") == LIFECYCLE


@pytest.mark.parametrize("path", [NOTIFICATIONS, LIFECYCLE])
def test_the_handshake_answers_200_text_plain_with_the_decoded_token(client, db, path):
    token = "Validation: Testing client application reachability for subscription Request-Id: 1+2"
    encoded = token.replace(" ", "%20").replace(":", "%3A").replace("+", "%2B")
    response = client.post(f"{path}?validationToken={encoded}", data=b"", content_type="text/plain")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content.decode() == token


def test_the_handshake_needs_no_login_and_no_csrf_token(db):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.post(
        f"{NOTIFICATIONS}?validationToken=abc", data=b"", content_type="text/plain"
    )
    assert response.status_code == 200
    assert response.content == b"abc"


def test_get_is_not_allowed(client, db):
    assert client.get(NOTIFICATIONS).status_code == 405
    assert client.get(f"{LIFECYCLE}?validationToken=x").status_code == 405


# --- accepting ------------------------------------------------------------------------------


def test_a_genuine_notification_is_acknowledged_with_202_and_queued_once(client, graphish, queued):
    started = time.monotonic()
    response = post(client, graphish.body(graphish.item(USER, "Busy", "InACall", sequence=4)))
    assert response.status_code == 202
    assert time.monotonic() - started < 1.5  # well under Graph's 3 s
    assert queued["calls"] == 1
    [item] = queued["items"]
    assert item["subscription"] == graphish.subscription.graph_id
    assert item["user_id"] == USER
    assert (item["availability"], item["activity"]) == ("Busy", "InACall")
    assert item["sequence"] == "00000000000000000004"
    assert datetime.fromisoformat(item["observed_at"]) <= datetime.now(UTC)
    assert counter("accepted") == 1
    graphish.subscription.refresh_from_db()
    assert graphish.subscription.last_notification_at is not None


def test_one_post_with_items_of_several_subscriptions_queues_one_task(client, graphish, queued):
    state = secrets.token_urlsafe(32)
    other = subscription_create(client_state=state)
    second_user = str(uuid.uuid4())
    items = [
        graphish.item(USER, "Away", "Away"),
        graphish.item(second_user, subscriptionId=other.graph_id, clientState=state),
    ]
    assert post(client, graphish.body(*items)).status_code == 202
    assert queued["calls"] == 1
    assert {i["subscription"] for i in queued["items"]} == {
        graphish.subscription.graph_id,
        other.graph_id,
    }
    assert counter("accepted") == 2


def test_a_notification_without_resource_data_asks_for_reconciliation(client, graphish, queued):
    item = graphish.item(USER)
    del item["encryptedContent"]
    assert post(client, {"value": [item]}).status_code == 202
    assert queued["items"][0]["availability"] is None
    assert counter("accepted_without_data") == 1


# --- refusing, item by item (202: redelivering cannot make them valid) -----------------------


def test_an_unknown_subscription_is_counted_and_not_queued(client, graphish, queued):
    item = graphish.item(USER, subscriptionId=str(uuid.uuid4()))
    assert post(client, graphish.body(item)).status_code == 202
    assert queued["items"] == []
    assert counter("rejected_unknown_subscription") == 1


def test_a_wrong_client_state_is_refused(client, graphish, queued):
    item = graphish.item(USER, clientState=graphish.client_state[:-1] + "x")
    assert post(client, graphish.body(item)).status_code == 202
    assert queued["items"] == []
    assert counter("rejected_bad_client_state") == 1


def test_a_missing_client_state_is_refused(client, graphish, queued):
    item = graphish.item(USER)
    del item["clientState"]
    assert post(client, graphish.body(item)).status_code == 202
    assert counter("rejected_bad_client_state") == 1


def test_a_flipped_byte_of_data_fails_the_signature_and_is_counted(client, graphish, queued):
    item = graphish.item(USER)
    item["encryptedContent"]["data"] = flip_byte(item["encryptedContent"]["data"], 3)
    assert post(client, graphish.body(item)).status_code == 202
    assert queued["items"] == []
    assert counter("rejected_bad_signature") == 1


def test_a_bad_data_key_is_undecryptable(client, graphish, queued):
    item = graphish.item(USER)
    item["encryptedContent"]["dataKey"] = flip_byte(item["encryptedContent"]["dataKey"], 7)
    assert post(client, graphish.body(item)).status_code == 202
    assert counter("rejected_undecryptable") == 1


def test_an_unknown_certificate_id_is_refused(client, graphish, queued):
    item = graphish.item(USER)
    item["encryptedContent"]["encryptionCertificateId"] = "someone-else"
    assert post(client, graphish.body(item)).status_code == 202
    assert counter("rejected_unknown_certificate") == 1


@pytest.mark.parametrize(
    "breakage",
    [
        lambda item: item.pop("subscriptionId"),
        lambda item: item.update(subscriptionId=["not", "text"]),
        lambda item: item["encryptedContent"].pop("data"),
        lambda item: item["encryptedContent"].pop("encryptionCertificateId"),
        lambda item: item.update(encryptedContent="text"),
        lambda item: item["resourceData"].update(id=str(uuid.uuid4())),
    ],
    ids=[
        "no-subscription",
        "subscription-not-text",
        "no-data",
        "no-certificate",
        "content-not-object",
        "other-user",
    ],
)
def test_items_with_missing_or_wrong_fields_are_refused_never_500(
    client, graphish, queued, breakage
):
    item = graphish.item(USER)
    breakage(item)
    assert post(client, graphish.body(item)).status_code == 202
    assert queued["items"] == []
    assert counter("rejected_malformed") == 1


def test_an_item_that_is_not_an_object_is_malformed(client, graphish, queued):
    assert post(client, graphish.body("text", 42, None)).status_code == 202
    assert counter("rejected_malformed") == 3


def test_good_items_pass_beside_bad_ones(client, graphish, queued):
    bad = graphish.item(USER, clientState="nope")
    good = graphish.item(USER, "Away", "Away")
    assert post(client, graphish.body(bad, good)).status_code == 202
    assert [i["availability"] for i in queued["items"]] == ["Away"]
    assert counter("accepted") == 1
    assert counter("rejected_bad_client_state") == 1


# --- refusing the whole POST ------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["{not json", "[]", '{"items": []}', "\u00ff"])
def test_malformed_json_is_400_and_counted(client, graphish, queued, raw):
    assert post(client, raw).status_code == 400
    assert counter("rejected_bad_json") == 1


def test_an_oversized_body_is_413(client, graphish, queued, settings):
    settings.GRAPH_WEBHOOK_MAX_BODY_BYTES = 2048
    body = graphish.body(*[graphish.item(USER) for _ in range(5)])
    assert post(client, body).status_code == 413
    assert queued["items"] == []
    assert counter("rejected_too_large") == 1


def test_the_default_limit_is_one_megabyte(client, graphish, queued):
    assert post(client, b"{" + b" " * (1024 * 1024) + b"}").status_code == 413


def test_forged_validation_tokens_refuse_the_whole_post_with_400(client, graphish, queued):
    from tests.presence.support_webhook import TokenSigner

    forged = TokenSigner(kid=graphish.signer.kid).token()
    body = graphish.body(graphish.item(USER), tokens=[graphish.signer.token(), forged])
    assert post(client, body).status_code == 400
    assert queued["items"] == []
    assert counter("rejected_bad_validation_token") == 1


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "99999999-9999-4999-8999-999999999999"},
        {"exp": int(time.time()) - 3600},
        {"appid": CLIENT_ID, "azp": CLIENT_ID},
    ],
    ids=["other-app", "expired", "not-graph"],
)
def test_validation_tokens_with_wrong_claims_are_refused(client, graphish, queued, claims):
    body = graphish.body(graphish.item(USER), tokens=[graphish.signer.token(**claims)])
    assert post(client, body).status_code == 400
    assert counter("rejected_bad_validation_token") == 1


def test_rich_items_without_validation_tokens_are_refused(client, graphish, queued):
    assert post(client, {"value": [graphish.item(USER)]}).status_code == 400
    assert queued["items"] == []


def test_no_token_is_checked_when_every_item_is_already_refused(client, graphish, queued):
    item = graphish.item(USER, subscriptionId=str(uuid.uuid4()))
    assert post(client, graphish.body(item, tokens=["forged"])).status_code == 202
    assert graphish.signer.fetches == []


def test_signing_keys_are_fetched_from_the_tenant_and_cached(client, graphish, queued, settings):
    for sequence in (1, 2, 3):
        post(client, graphish.body(graphish.item(USER, sequence=sequence)))
    host = settings.GRAPH_AUTHORITY_HOST.rstrip("/")
    assert graphish.signer.fetches == [f"{host}/{TENANT_ID}/discovery/v2.0/keys"]


def test_unreachable_signing_keys_answer_503_so_graph_retries(
    client, graphish, queued, monkeypatch
):
    def down(url):
        raise KeysUnavailable("identity platform down")

    monkeypatch.setattr(webhook.signing_keys, "fetch", down)
    response = post(client, graphish.body(graphish.item(USER)))
    assert response.status_code == 503
    assert response["Retry-After"]
    assert queued["items"] == []
    assert counter("deferred_keys_unavailable") == 1


# --- duplicates and order (Graph redelivers; one POST may hold older items) -----------------


def test_duplicates_and_out_of_order_notifications_are_harmless(client, graphish, queued, unit):
    from presence.sync_models import AcdDelivery
    from presence.to_acd.sync import notifications_apply

    rule = subscriber_rule(
        unit, [("Busy", None, "working", None), ("Available", None, "available", None)]
    )
    agent = mapped_agent(graph_id=USER, unit=unit, rule=rule)
    acd_endpoint_set("https://acd.example/hook")
    newer = graphish.item(USER, "Available", "Available", sequence=6)
    older = graphish.item(USER, "Busy", "InACall", sequence=5)
    for body in (graphish.body(newer), graphish.body(newer), graphish.body(older)):
        assert post(client, body).status_code == 202
    for item in queued["items"]:  # as the worker would, one POST after the other
        notifications_apply([item])
    presence = AgentPresence.objects.get(agent=agent)
    assert (presence.teams_availability, presence.acd_state) == ("Available", "available")
    assert AcdDelivery.objects.count() == 1
    outcomes = list(SyncRecord.objects.order_by("pk").values_list("outcome", flat=True))
    assert outcomes == [SyncRecord.Outcome.APPLIED, SyncRecord.Outcome.SKIPPED_STALE]


# --- lifecycle ----------------------------------------------------------------------------------


def lifecycle_item(graphish, event, **overrides):
    item = {
        "subscriptionId": graphish.subscription.graph_id,
        "subscriptionExpirationDateTime": "2030-01-01T00:00:00.0000000Z",
        "tenantId": TENANT_ID,
        "clientState": graphish.client_state,
        "lifecycleEvent": event,
    }
    item.update(overrides)
    return item


@pytest.mark.parametrize("event", ["reauthorizationRequired", "subscriptionRemoved", "missed"])
def test_lifecycle_events_are_handed_to_the_subscription_task(client, graphish, queued, event):
    response = post(client, {"value": [lifecycle_item(graphish, event)]}, LIFECYCLE)
    assert response.status_code == 202
    assert queued["lifecycle"] == [(graphish.subscription.graph_id, event)]
    assert counter(f"lifecycle_{event}") == 1


def test_lifecycle_events_sent_to_the_notification_url_are_handled_too(client, graphish, queued):
    assert post(client, {"value": [lifecycle_item(graphish, "missed")]}).status_code == 202
    assert queued["lifecycle"] == [(graphish.subscription.graph_id, "missed")]


def test_a_lifecycle_event_with_a_wrong_client_state_is_refused(client, graphish, queued):
    item = lifecycle_item(graphish, "subscriptionRemoved", clientState="guess")
    assert post(client, {"value": [item]}, LIFECYCLE).status_code == 202
    assert queued["lifecycle"] == []
    assert counter("rejected_bad_client_state") == 1


def test_the_lifecycle_url_refuses_what_is_not_a_lifecycle_event(client, graphish, queued):
    assert post(client, graphish.body(graphish.item(USER)), LIFECYCLE).status_code == 202
    assert (
        post(client, {"value": [lifecycle_item(graphish, "bogus")]}, LIFECYCLE).status_code == 202
    )
    assert queued["items"] == [] and queued["lifecycle"] == []
    assert counter("rejected_malformed") == 2


# --- end to end, with the real simulator and a real worker -----------------------------------


@pytest.fixture
def sim_setup(sim_tenant, graph_settings, live_server, settings, graphsim):
    """An account on the simulator tenant, a system user's subscription for one user
    created through the real validation handshake against the live webhook."""
    settings.CCBRIDGE_PUBLIC_URL = live_server.url
    webhook.signing_keys.clear()
    account = account_create(
        tenant=sim_tenant.tenant_id,
        client_id=sim_tenant.client_id,
        secret=sim_tenant.client_secret,
    )
    watched = sim_tenant.users[0]["id"]
    password = "Sync-" + secrets.token_urlsafe(12)
    system_user = graphsim.control.create_user(
        sim_tenant.tenant_id, displayName="ccbridge sync one", password=password
    )
    tokens = DelegatedTokenProvider(
        graph_config(),
        AppCredentials(account.tenant, account.client_id, sim_tenant.client_secret),
        system_user["userPrincipalName"],
        password,
    )
    certificate = certificate_active()
    client_state = secrets.token_urlsafe(48)
    expires = datetime.now(UTC) + timedelta(minutes=55)
    created = GraphClient(graph_config(), tokens).post(
        "/subscriptions",
        {
            "changeType": "updated",
            "notificationUrl": f"{live_server.url}{NOTIFICATIONS}",
            "lifecycleNotificationUrl": f"{live_server.url}{LIFECYCLE}",
            "resource": f"/communications/presences/{watched}",
            "expirationDateTime": expires.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
            "clientState": client_state,
            "includeResourceData": True,
            "encryptionCertificate": encryption_certificate_b64(certificate),
            "encryptionCertificateId": certificate.certificate_id,
        },
    )
    subscription = subscription_create(
        client_state=client_state,
        graph_id=created["id"],
        username=system_user["userPrincipalName"],
        certificate=certificate,
        expires_at=expires,
    )
    yield {"watched": watched, "subscription": subscription, "tenant": sim_tenant}
    webhook.signing_keys.clear()


def test_the_simulator_validates_the_webhook_when_a_subscription_is_created(sim_setup, graphsim):
    # The handshake went through the live view (else POST /subscriptions fails with 400).
    [listed] = [
        s
        for s in graphsim.control.subscriptions(sim_setup["tenant"].tenant_id)
        if s["id"] == sim_setup["subscription"].graph_id
    ]
    assert listed["notificationUrl"].endswith(NOTIFICATIONS)


@pytest.mark.worker
def test_a_teams_presence_change_reaches_the_acd_signed(
    sim_setup, celery_worker, graphsim, acd_receiver, unit
):
    rule = subscriber_rule(
        unit,
        [("Busy", None, "unavailable", "meeting"), ("Available", None, "available", None)],
    )
    agent = mapped_agent(graph_id=sim_setup["watched"], unit=unit, rule=rule)
    acd_endpoint_set(acd_receiver.url)
    tenant = sim_setup["tenant"].tenant_id

    graphsim.control.set_presence(tenant, sim_setup["watched"], "Busy", "InACall")

    wait_for(lambda: acd_receiver.received, timeout=30, what="the ACD delivery")
    [received] = acd_receiver.received
    assert signature_valid(received)
    payload = received.json
    assert payload["event"] == "teams.presence"
    assert payload["agent"] == {"external_id": agent.external_id}
    assert (payload["acd_state"], payload["reason_code"]) == ("unavailable", "meeting")
    assert payload["teams"] == {"availability": "Busy", "activity": "InACall"}
    assert isinstance(payload["id"], int)
    presence = AgentPresence.objects.get(agent=agent)
    assert (presence.acd_state, presence.acd_reason) == ("unavailable", "meeting")
    record = SyncRecord.objects.get(agent=agent)
    assert record.outcome == SyncRecord.Outcome.APPLIED
    assert record.rule_name == rule.name and record.row_index == 0
    assert record.latency_ms is not None
    assert Subscription.objects.get(pk=sim_setup["subscription"].pk).last_notification_at
    assert counter("accepted") == 1
    assert any(d["status"] == 202 for d in graphsim.control.deliveries())


@pytest.mark.worker
def test_a_lifecycle_event_from_graph_reaches_the_subscription_task(
    sim_setup, celery_worker, graphsim
):
    subscription = sim_setup["subscription"]
    graphsim.control.lifecycle(subscription.graph_id, "subscriptionRemoved")

    def acted_on():
        row = Subscription.objects.get(pk=subscription.pk)
        return row.status != Subscription.Status.ACTIVE or row.graph_id != subscription.graph_id

    wait_for(acted_on, timeout=30, what="the lifecycle task")
    assert counter("lifecycle_subscriptionRemoved") == 1

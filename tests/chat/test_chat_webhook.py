"""The Graph webhook for chat messages: the handshake, genuine notifications handed to
the worker, forged or foreign ones refused and counted (never applied)."""

import json
import secrets
import uuid

import pytest
from django.test import Client

from chat.models import ChatSubscription
from presence.subscriptions.certificates import certificate_active
from tests.presence.support_webhook import (
    TENANT_ID,
    account_create,
    counter,
    encrypt_like_graph,
    flip_byte,
    public_key_of,
    token_signer_fixture,  # noqa: F401
)

URL = "/graph/chat/notifications"
LIFECYCLE = "/graph/chat/lifecycle"
CHAT_ID = "19:abc_def@unq.gbl.spaces"


@pytest.fixture
def queued(monkeypatch) -> list:
    sent: list = []
    monkeypatch.setattr(
        "chat.webhook._enqueue",
        lambda graph_id, messages, lifecycle: sent.append((messages, lifecycle)),
    )
    return sent


@pytest.fixture
def graphish(db, token_signer):
    account_create()
    client_state = secrets.token_urlsafe(48)
    row = ChatSubscription.objects.create(
        graph_id=str(uuid.uuid4()),
        status=ChatSubscription.Status.ACTIVE,
        client_state=client_state,
    )
    return row, client_state, certificate_active(), token_signer


def chat_message(message_id: str = "1616990032035", text: str = "<p>YES</p>") -> dict:
    return {
        "id": message_id,
        "chatId": CHAT_ID,
        "messageType": "message",
        "createdDateTime": "2030-01-01T10:00:00.000Z",
        "from": {"user": {"id": str(uuid.uuid4()), "displayName": "Avery Quinn"}},
        "body": {"contentType": "html", "content": text},
    }


def item(graphish, message: dict, **overrides) -> dict:
    row, client_state, certificate, _signer = graphish
    resource = f"chats('{CHAT_ID}')/messages('{message['id']}')"
    value = {
        "subscriptionId": row.graph_id,
        "changeType": "created",
        "clientState": client_state,
        "tenantId": TENANT_ID,
        "resource": resource,
        "resourceData": {"id": message["id"], "@odata.type": "#Microsoft.Graph.chatMessage"},
        "encryptedContent": encrypt_like_graph(
            public_key_of(certificate), certificate.certificate_id, message
        ),
    }
    value.update(overrides)
    return value


def post(graphish, *items, url: str = URL):
    body = {"value": list(items), "validationTokens": [graphish[3].token()]}
    return Client().post(url, json.dumps(body), content_type="application/json")


def test_the_validation_handshake_is_answered_in_plain_text(db):
    response = Client().post(f"{URL}?validationToken=hello%20graph")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"hello graph"


def test_a_genuine_notification_is_decrypted_and_handed_to_the_worker(graphish, queued):
    message = chat_message()
    response = post(graphish, item(graphish, message))
    assert response.status_code == 202
    [(messages, lifecycle)] = queued
    assert lifecycle == []
    [handed] = messages
    assert (handed["chat_id"], handed["message_id"]) == (CHAT_ID, message["id"])
    assert handed["message"]["body"]["content"] == "<p>YES</p>"
    assert ChatSubscription.objects.get().notifications == 1


def test_forged_items_are_refused_and_counted(graphish, queued):
    message = chat_message()
    forged = item(graphish, message)
    forged["encryptedContent"]["dataSignature"] = flip_byte(
        forged["encryptedContent"]["dataSignature"]
    )
    response = post(
        graphish,
        forged,
        item(graphish, message, clientState="guessed"),
        item(graphish, message, subscriptionId=str(uuid.uuid4())),
    )
    assert response.status_code == 202
    assert queued == [([], [])]
    assert counter("chat_rejected_bad_signature") == 1
    assert counter("chat_rejected_bad_client_state") == 1
    assert counter("chat_rejected_unknown_subscription") == 1


def test_a_forged_validation_token_refuses_the_whole_post(graphish, queued):
    body = {"value": [item(graphish, chat_message())], "validationTokens": ["not.a.token"]}
    response = Client().post(URL, json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert queued == []


def test_lifecycle_events_go_to_the_worker(graphish, queued):
    row = graphish[0]
    event = {
        "subscriptionId": row.graph_id,
        "clientState": graphish[1],
        "tenantId": TENANT_ID,
        "lifecycleEvent": "missed",
    }
    assert post(graphish, event, url=LIFECYCLE).status_code == 202
    assert queued == [([], ["missed"])]

"""Mail out through POST /api/v1/mailboxes/{id}/messages (scope mail:send), sent by a
real worker over HTTPS to the simulator: a new message with an attachment, a reply
that keeps the thread, email_sent / email_failed events, and problems for bad
addresses, oversized attachments and a key without the scope."""

import base64
import json

from django.test import Client

from integrations.apikeys import api_key_create
from mailboxes.models import MailboxMessage
from presence.sync_models import AcdDelivery
from tests.integrations.factories import IntegrationAccountFactory
from tests.mailboxes.factories import MailboxFactory
from tests.plugins.celery_worker import wait_for
from tests.presence.support_webhook import acd_endpoint_set


def _api(administrator, scopes=("mail:send",)) -> Client:
    _key, raw = api_key_create(actor=administrator, name="ACD", scopes=list(scopes))
    return Client(headers={"Authorization": f"Bearer {raw}"})


def _post(api: Client, mailbox, body: dict):
    return api.post(
        f"/api/v1/mailboxes/{mailbox.pk}/messages",
        json.dumps(body),
        content_type="application/json",
    )


def _events(name: str) -> list[dict]:
    return [d.payload for d in AcdDelivery.objects.order_by("pk") if d.payload.get("event") == name]


def test_a_new_message_with_an_attachment_is_sent_and_reported(
    celery_worker, sim_tenant, graphsim, administrator
):
    IntegrationAccountFactory.for_tenant(sim_tenant)
    acd_endpoint_set("http://127.0.0.1:9/acd")
    mailbox = MailboxFactory(address=sim_tenant.users[0]["userPrincipalName"].lower())
    body = {
        "to": ["ana@customer.example"],
        "subject": "Your order",
        "body_html": "<p>It ships today.</p>",
        "attachments": [
            {"name": "label.pdf", "content_type": "application/pdf",
             "content_base64": base64.b64encode(b"%PDF label").decode()}
        ],
    }  # fmt: skip

    response = _post(_api(administrator), mailbox, body)

    assert response.status_code == 202, response.content
    message_id = response.json()["message_id"]
    wait_for(lambda: _events("email_sent"), timeout=30, what="email_sent")
    assert _events("email_sent")[0]["message_id"] == message_id
    out = graphsim.control.outbound_mail(sim_tenant.tenant_id)
    assert [(m["to"], m["subject"], m["attachments"]) for m in out] == [
        ("ana@customer.example", "Your order", ["label.pdf"])
    ]
    row = MailboxMessage.objects.get(public_id=message_id)
    assert row.state == MailboxMessage.State.SENT and row.recipients == ["ana@customer.example"]


def test_a_reply_keeps_the_conversation(celery_worker, sim_tenant, graphsim, administrator):
    IntegrationAccountFactory.for_tenant(sim_tenant)
    acd_endpoint_set("http://127.0.0.1:9/acd")
    address = sim_tenant.users[1]["userPrincipalName"].lower()
    mailbox = MailboxFactory(address=address)
    received = graphsim.control.deliver_mail(
        sim_tenant.tenant_id, address, sender="ana@customer.example", subject="Where is it?"
    )
    MailboxMessage.objects.create(
        mailbox=mailbox,
        direction="in",
        internet_message_id=received["internetMessageId"],
        graph_message_id=received["id"],
        conversation_id=received["conversationId"],
        sender="ana@customer.example",
    )

    response = _post(
        _api(administrator),
        mailbox,
        {"reply_to": received["internetMessageId"], "body_text": "On its way."},
    )

    assert response.status_code == 202, response.content
    wait_for(lambda: _events("email_sent"), timeout=30, what="email_sent")
    (reply,) = graphsim.control.outbound_mail(sim_tenant.tenant_id)
    assert reply["to"] == "ana@customer.example" and reply["subject"] == "RE: Where is it?"
    assert reply["inReplyTo"] == received["internetMessageId"]
    assert reply["conversationId"] == received["conversationId"]


def test_a_mailbox_exchange_refuses_reports_email_failed(
    celery_worker, sim_tenant, graphsim, administrator
):
    IntegrationAccountFactory.for_tenant(sim_tenant)
    acd_endpoint_set("http://127.0.0.1:9/acd")
    address = sim_tenant.users[2]["userPrincipalName"].lower()
    graphsim.control.set_mailbox(sim_tenant.tenant_id, address, enabled=False)
    mailbox = MailboxFactory(address=address)

    response = _post(_api(administrator), mailbox, {"to": ["a@b.example"], "body_text": "hi"})

    assert response.status_code == 202
    wait_for(lambda: _events("email_failed"), timeout=30, what="email_failed")
    assert "MailboxNotEnabledForRESTAPI" in _events("email_failed")[0]["reason"]


def test_bad_requests_get_a_problem_not_a_failed_job(db, administrator, settings):
    settings.MAIL_SEND_MAX_ATTACHMENT_BYTES = 10
    mailbox = MailboxFactory()
    api = _api(administrator)

    bad = _post(api, mailbox, {"to": ["not-an-address"], "body_text": "x"})
    assert bad.status_code == 422 and bad["Content-Type"] == "application/problem+json"
    assert bad.json()["errors"][0]["path"] == "to[0]"

    big = {"to": ["a@b.example"], "body_text": "x", "attachments": [
        {"name": "a.bin", "content_base64": base64.b64encode(b"x" * 11).decode()}]}  # fmt: skip
    oversized = _post(api, mailbox, big)
    assert oversized.status_code == 422
    assert oversized.json()["errors"][0]["path"] == "attachments"
    assert "at most 10 bytes" in oversized.json()["errors"][0]["message"]

    unknown = _post(api, mailbox, {"reply_to": "<nope@x>", "body_text": "x"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["path"] == "reply_to"

    assert _post(_api(administrator, ("chat:write",)), mailbox, big).status_code == 403
    assert not MailboxMessage.objects.exists()

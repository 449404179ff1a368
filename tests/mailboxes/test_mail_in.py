"""Mail in, over HTTPS against the simulator with a real worker: new inbox messages
reach the contact center's signed webhook as email_received exactly once, with the
body as text and sanitised HTML and attachments behind signed links; processed mail
is marked read and moved; mail that arrived while nobody read (an outage, a missed
notification) is caught up, each message once."""

from celery import current_app
from django.test import Client
from django.urls import reverse

from graph.mail import MailMessage, folder_messages
from mailboxes.graphlink import mailbox_graph
from mailboxes.inbound import mailbox_catch_up, message_receive
from mailboxes.models import MailboxMessage
from presence.sync_models import AcdDelivery
from tests.factories import AdministratorFactory
from tests.integrations.factories import IntegrationAccountFactory
from tests.mailboxes.factories import MailboxFactory
from tests.plugins.celery_worker import wait_for
from tests.presence.support_webhook import (
    acd_endpoint_set,
    acd_receiver_fixture,  # noqa: F401
    signature_valid,
)

PDF = b"%PDF-1.4 a small invoice"


def _received(acd_receiver) -> list[dict]:
    return [r.json for r in acd_receiver.received if r.json.get("event") == "email_received"]


def _catch_up(mailbox, reason: str) -> None:
    current_app.send_task(
        "mailboxes.inbound.catch_up", args=(mailbox.pk,), kwargs={"reason": reason}
    )


def test_new_mail_reaches_the_contact_center_once_and_is_filed(
    celery_worker, sim_tenant, graphsim, acd_receiver
):
    IntegrationAccountFactory.for_tenant(sim_tenant)
    acd_endpoint_set(acd_receiver.url)
    address = sim_tenant.users[0]["userPrincipalName"].lower()
    graphsim.control.set_mailbox(sim_tenant.tenant_id, address, folders=["Handled"])
    mailbox = MailboxFactory(address=address, move_to_folder_name="Handled")
    sent = graphsim.control.deliver_mail(
        sim_tenant.tenant_id,
        address,
        sender="ana@customer.example",
        subject="Invoice",
        html='<p onclick="x()">Please see <b>attached</b><script>alert(1)</script></p>',
        attachments=[("invoice.pdf", "application/pdf", PDF)],
        cc=["boss@customer.example"],
    )

    _catch_up(mailbox, "scheduled")
    wait_for(lambda: _received(acd_receiver), timeout=30, what="email_received")

    event = _received(acd_receiver)[0]
    assert event["internet_message_id"] == sent["internetMessageId"]
    assert event["mailbox"] == {"id": mailbox.pk, "address": address}
    assert event["from"]["address"] == "ana@customer.example"
    assert [a["address"] for a in event["cc"]] == ["boss@customer.example"]
    assert event["subject"] == "Invoice" and event["conversation_id"] == sent["conversationId"]
    assert event["body_text"] == "Please see attached"
    assert event["body_html"] == "<p>Please see <b>attached</b></p>"
    assert signature_valid(acd_receiver.received[0])
    link = event["attachments"][0]
    assert (link["name"], link["size"]) == ("invoice.pdf", len(PDF))
    download = Client().get(link["url"].split("127.0.0.1:8000", 1)[-1])
    assert download.status_code == 200 and download.content == PDF
    assert download["Content-Disposition"] == 'attachment; filename="invoice.pdf"'
    # Filed away: read, in Handled, nothing left in the inbox.
    held = graphsim.control.mailbox_messages(sim_tenant.tenant_id, address)
    assert [(m["folder"], m["isRead"]) for m in held] == [("Handled", True)]

    # Another round (the schedule's safety net) hands nothing over twice.
    _catch_up(mailbox, "scheduled")
    wait_for(
        lambda: (
            MailboxMessage.objects.filter(mailbox=mailbox).count() == 1
            and mailbox.__class__.objects.get(pk=mailbox.pk).caught_up_at is not None
        ),
        timeout=20,
        what="the second round",
    )
    assert len(_received(acd_receiver)) == 1
    # The log shows who and what, never the body.
    admin = Client()
    admin.force_login(AdministratorFactory())
    page = admin.get(reverse("mailboxes:detail", args=[mailbox.pk])).content.decode()
    assert "ana@customer.example" in page and "Invoice" in page
    assert "Please see" not in page


def test_mail_that_arrived_during_an_outage_is_caught_up_once_each(
    celery_worker, sim_tenant, graphsim, acd_receiver
):
    IntegrationAccountFactory.for_tenant(sim_tenant)
    acd_endpoint_set(acd_receiver.url)
    address = sim_tenant.users[1]["userPrincipalName"].lower()
    mailbox = MailboxFactory(address=address)
    graphsim.control.deliver_mail(sim_tenant.tenant_id, address, subject="before")
    _catch_up(mailbox, "scheduled")
    wait_for(lambda: len(_received(acd_receiver)) == 1, timeout=30, what="the first message")

    for n in range(3):  # nobody reads: an outage, or a `missed` notification
        graphsim.control.deliver_mail(sim_tenant.tenant_id, address, subject=f"meanwhile {n}")
    _catch_up(mailbox, "missed")
    _catch_up(mailbox, "outage")
    wait_for(lambda: len(_received(acd_receiver)) >= 4, timeout=30, what="the caught-up messages")

    subjects = sorted(e["subject"] for e in _received(acd_receiver))
    assert subjects == ["before", "meanwhile 0", "meanwhile 1", "meanwhile 2"]


def test_a_message_seen_twice_is_handed_over_once(sim_tenant, sim_account, graphsim):
    acd_endpoint_set("http://127.0.0.1:9/acd")
    address = sim_tenant.users[2]["userPrincipalName"].lower()
    mailbox = MailboxFactory(address=address)
    graphsim.control.deliver_mail(sim_tenant.tenant_id, address, subject="twice")
    graph = mailbox_graph(mailbox)
    (message,) = folder_messages(graph.client, address, "inbox")

    assert message_receive(mailbox, graph, message) is True
    again = MailMessage.from_graph(
        {"id": "AAMk-another-id", "internetMessageId": message.internet_message_id}
    )
    assert message_receive(mailbox, graph, again) is False

    events = [
        d.payload for d in AcdDelivery.objects.all() if d.payload.get("event") == "email_received"
    ]
    assert [e["subject"] for e in events] == ["twice"]


def test_a_disabled_mailbox_is_not_read(sim_tenant, sim_account, graphsim):
    address = sim_tenant.users[3]["userPrincipalName"].lower()
    mailbox = MailboxFactory(address=address, enabled=False)
    graphsim.control.deliver_mail(sim_tenant.tenant_id, address)
    assert mailbox_catch_up(mailbox.pk) == 0
    assert not MailboxMessage.objects.exists()

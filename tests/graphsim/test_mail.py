"""Mail (docs/graph.md, "Mail"): mailboxes read, sent to, replied from, marked read,
moved and paged by delta; Exchange's refusals for an unknown user, a user without a
mailbox, an app kept out by an application access policy, and missing permissions."""

from __future__ import annotations

import base64

from tests.graphsim.support import Graph, app_token
from tests.graphsim.test_graph_auth import assert_graph_error
from tests.plugins.graphsim_server import GraphSimServer, SimTenant

INBOX = "/mailFolders/inbox/messages"


def _upn(tenant: SimTenant, index: int) -> str:
    return tenant.users[index]["userPrincipalName"]


def test_an_outside_message_lands_in_the_inbox_with_its_attachment(graphsim, sim_tenant, graph):
    upn = _upn(sim_tenant, 0)
    sent = graphsim.control.deliver_mail(
        sim_tenant.tenant_id,
        upn,
        subject="Order 42",
        html="<p>Where is <b>my</b> order?</p>",
        attachments=[("invoice.pdf", "application/pdf", b"%PDF-1.4 x")],
    )

    listed = graph.get(f"/users/{upn}{INBOX}").json()["value"]
    assert [m["internetMessageId"] for m in listed] == [sent["internetMessageId"]]
    message = listed[0]
    assert message["subject"] == "Order 42"
    assert message["from"]["emailAddress"]["address"] == "customer@example.net"
    assert message["body"] == {"contentType": "html", "content": "<p>Where is <b>my</b> order?</p>"}
    assert message["hasAttachments"] is True and message["isRead"] is False
    attachments = graph.get(f"/users/{upn}/messages/{message['id']}/attachments").json()["value"]
    assert attachments[0]["name"] == "invoice.pdf"
    assert base64.b64decode(attachments[0]["contentBytes"]) == b"%PDF-1.4 x"


def test_send_mail_to_itself_arrives_and_a_reply_keeps_the_conversation(
    sim_tenant, graph, graphsim
):
    upn = _upn(sim_tenant, 1)
    message = {
        "subject": "ping",
        "body": {"contentType": "text", "content": "hello"},
        "toRecipients": [{"emailAddress": {"address": upn}}],
    }
    response = graph.post(f"/users/{upn}/sendMail", {"message": message})
    assert response.status_code == 202 and not response.content

    inbox = graph.get(f"/users/{upn}{INBOX}").json()["value"]
    assert [m["subject"] for m in inbox] == ["ping"]
    customer = graphsim.control.deliver_mail(sim_tenant.tenant_id, upn, subject="Help")
    reply = graph.post(f"/users/{upn}/messages/{customer['id']}/reply", {"comment": "On it"})
    assert reply.status_code == 202
    out = graphsim.control.outbound_mail(sim_tenant.tenant_id)
    assert out[-1]["to"] == "customer@example.net"
    assert out[-1]["subject"] == "RE: Help"
    assert out[-1]["inReplyTo"] == customer["internetMessageId"]
    assert out[-1]["conversationId"] == customer["conversationId"]


def test_mark_read_and_move_keep_the_internet_message_id(graphsim, sim_tenant, graph):
    upn = _upn(sim_tenant, 2)
    folders = graphsim.control.set_mailbox(sim_tenant.tenant_id, upn, folders=["Handled"])
    handled = next(f["id"] for f in folders["folders"] if f["displayName"] == "Handled")
    sent = graphsim.control.deliver_mail(sim_tenant.tenant_id, upn)

    assert graph.patch(f"/users/{upn}/messages/{sent['id']}", {"isRead": True}).json()["isRead"]
    moved = graph.post(f"/users/{upn}/messages/{sent['id']}/move", {"destinationId": handled})

    assert moved.status_code == 201
    assert moved.json()["internetMessageId"] == sent["internetMessageId"]
    assert moved.json()["parentFolderId"] == handled
    assert graph.get(f"/users/{upn}{INBOX}").json()["value"] == []


def test_inbox_delta_pages_then_reports_only_what_changed(graphsim, sim_tenant, graph):
    upn = _upn(sim_tenant, 3)
    for n in range(3):
        graphsim.control.deliver_mail(sim_tenant.tenant_id, upn, subject=f"m{n}")
    url, seen = f"/users/{upn}/mailFolders('inbox')/messages/delta", []
    headers = {"Prefer": "odata.maxpagesize=2"}
    while True:
        page = graph.get(url, headers=headers).json()
        seen += [m["subject"] for m in page["value"]]
        if "@odata.deltaLink" in page:
            break
        url = page["@odata.nextLink"]
    assert sorted(seen) == ["m0", "m1", "m2"]

    graphsim.control.deliver_mail(sim_tenant.tenant_id, upn, subject="m3")
    again = graph.get(page["@odata.deltaLink"]).json()
    assert [m["subject"] for m in again["value"]] == ["m3"]


def test_exchange_refusals(graphsim: GraphSimServer, sim_tenant: SimTenant, graph: Graph):
    upn, other = _upn(sim_tenant, 4), _upn(sim_tenant, 5)
    missing = f"nobody@{sim_tenant.domain}"
    error = assert_graph_error(graph.get(f"/users/{missing}{INBOX}"), 404, "ErrorInvalidUser")
    assert error["message"] == f"The requested user '{missing}' is invalid."

    graphsim.control.set_mailbox(sim_tenant.tenant_id, other, enabled=False)
    error = assert_graph_error(
        graph.get(f"/users/{other}{INBOX}"), 404, "MailboxNotEnabledForRESTAPI"
    )
    assert (
        error["message"] == "The mailbox is either inactive, soft-deleted, or is hosted on-premise."
    )

    graphsim.control.restrict_app_to_mailboxes(sim_tenant.tenant_id, sim_tenant.client_id, [upn])
    assert graph.get(f"/users/{upn}{INBOX}").status_code == 200
    error = assert_graph_error(
        graph.get(f"/users/{_upn(sim_tenant, 6)}{INBOX}"), 403, "ErrorAccessDenied"
    )
    assert error["message"] == (
        "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly "
        "AccessPolicy settings."
    )


def test_an_app_without_mail_permissions_is_denied(graphsim, sim_tenant):
    app = graphsim.control.create_app(sim_tenant.tenant_id, permissions=["User.Read.All"])
    limited = SimTenant(
        **{
            **sim_tenant.__dict__,
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
        }
    )
    graph = Graph(graphsim, app_token(graphsim, limited))
    response = graph.get(f"/users/{_upn(sim_tenant, 0)}{INBOX}")
    error = assert_graph_error(response, 403, "ErrorAccessDenied")
    assert error["message"] == "Access is denied. Check credentials and try again."

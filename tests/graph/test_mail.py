"""graph/mail.py against the simulator over HTTPS: typed messages, delta, sending,
and what each Exchange refusal means (docs/graph.md, "Mail")."""

import pytest

from graph import mail
from graph.errors import GraphError, InvalidRequest
from graph.mail import MailAddress, MailboxProblem, OutgoingAttachment, mailbox_problem


def _upn(sim_tenant, index: int) -> str:
    return sim_tenant.users[index]["userPrincipalName"]


def test_a_received_message_reads_as_typed_fields(client, sim_tenant, graphsim):
    upn = _upn(sim_tenant, 0)
    sent = graphsim.control.deliver_mail(
        sim_tenant.tenant_id, upn, sender="ana@customer.example", subject="Hi",
        html="<p>Line one<br>Line two</p>", attachments=[("a.txt", "text/plain", b"abc")],
    )  # fmt: skip

    (message,) = mail.folder_messages(client, upn)
    assert message.internet_message_id == sent["internetMessageId"]
    assert message.sender == MailAddress("ana@customer.example", "")
    assert message.text == "Line one\nLine two" and message.has_attachments
    (listed,) = mail.attachments(client, upn, message.id)
    assert (listed.name, listed.size, listed.content) == ("a.txt", 3, b"")
    assert mail.attachment(client, upn, message.id, listed.id).content == b"abc"


def test_delta_resumes_from_its_link(client, sim_tenant, graphsim):
    upn = _upn(sim_tenant, 1)
    graphsim.control.deliver_mail(sim_tenant.tenant_id, upn, subject="first")
    pages = list(mail.inbox_delta(client, upn))
    link = pages[-1].delta_link
    assert link and [m["subject"] for p in pages for m in p.items] == ["first"]
    graphsim.control.deliver_mail(sim_tenant.tenant_id, upn, subject="second")
    assert [m["subject"] for p in mail.inbox_delta(client, upn, link) for m in p.items] == [
        "second"
    ]


def test_send_with_an_attachment_and_a_bad_address(client, sim_tenant, graphsim):
    upn = _upn(sim_tenant, 2)
    mail.send_mail(
        client, upn, subject="Label", body="see file", to=[MailAddress("x@outside.example")],
        attachments=[OutgoingAttachment("l.pdf", "application/pdf", b"%PDF")],
    )  # fmt: skip
    assert graphsim.control.outbound_mail(sim_tenant.tenant_id)[-1]["attachments"] == ["l.pdf"]
    with pytest.raises(InvalidRequest) as refused:
        mail.send_mail(client, upn, subject="x", body="x", to=[MailAddress("nobody")])
    assert refused.value.code == "ErrorInvalidRecipients"


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("missing", MailboxProblem.NO_SUCH_USER),
        ("unlicensed", MailboxProblem.NO_MAILBOX),
        ("policy", MailboxProblem.POLICY_DENIED),
    ],
)
def test_each_refusal_is_named(client, sim_tenant, graphsim, setup, expected):
    target = _upn(sim_tenant, 3)
    if setup == "missing":
        target = f"nobody@{sim_tenant.domain}"
    elif setup == "unlicensed":
        graphsim.control.set_mailbox(sim_tenant.tenant_id, target, enabled=False)
    else:
        graphsim.control.restrict_app_to_mailboxes(
            sim_tenant.tenant_id, sim_tenant.client_id, [_upn(sim_tenant, 4)]
        )
    with pytest.raises(GraphError) as refused:
        mail.folder_messages(client, target)
    assert mailbox_problem(refused.value) is expected

"""Mail out: the contact center sends a new message or a reply through a mailbox.

The API checks what it can at once (addresses, sizes, the message replied to) and
answers with a message id; the worker sends it and the outcome reaches the contact
center as ``email_sent`` or ``email_failed`` on the signed ACD webhook. A reply goes
to the sender of the received message, in its conversation (Graph's reply keeps
the thread). The content travels only inside the task; the log keeps metadata.
"""

from __future__ import annotations

import base64

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from graph import mail
from graph.errors import GraphError
from graph.mail import MailAddress, OutgoingAttachment, mailbox_problem
from integrations.jobs import task_enqueue
from mailboxes.graphlink import MailboxSignInError, mailbox_graph
from mailboxes.models import Mailbox, MailboxMessage
from mailboxes.testing import problem_sentence
from presence.to_acd.delivery import event_queue


class MailRefused(Exception):
    """The request cannot be sent as asked; ``path`` names the offending field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


def mail_send_queue(*, mailbox: Mailbox, request: dict) -> MailboxMessage:
    """Check ``request`` (MailIn as a dict), log it and queue its sending. Raises
    MailRefused for a disabled mailbox, oversized attachments or an unknown message
    to reply to."""
    if not mailbox.enabled:
        raise MailRefused("mailbox", f"The mailbox {mailbox.address} is disabled.")
    total = sum(len(base64.b64decode(a["content_base64"])) for a in request["attachments"])
    if total > settings.MAIL_SEND_MAX_ATTACHMENT_BYTES:
        raise MailRefused(
            "attachments",
            f"The attachments hold {total:,} bytes; at most "
            f"{settings.MAIL_SEND_MAX_ATTACHMENT_BYTES:,} bytes may be sent in one message.",
        )
    original = None
    if request.get("reply_to"):
        original = MailboxMessage.objects.filter(
            mailbox=mailbox,
            direction=MailboxMessage.Direction.IN,
            internet_message_id=request["reply_to"],
        ).first()
        if original is None:
            raise MailRefused(
                "reply_to", "No message with this internetMessageId was received here."
            )
    with transaction.atomic():
        row = MailboxMessage.objects.create(
            mailbox=mailbox,
            direction=MailboxMessage.Direction.OUT,
            internet_message_id="",
            conversation_id=original.conversation_id if original else "",
            subject=request["subject"][:500],
            sender=mailbox.address,
            recipients=[*request["to"], *request["cc"]] or [original.sender],
            attachment_count=len(request["attachments"]),
            state=MailboxMessage.State.QUEUED,
        )
        task_enqueue("mailboxes.outbound.send", args=(row.pk,), kwargs={"request": request})
    return row


def _event(row: MailboxMessage, name: str, **extra) -> None:
    event_queue(
        {
            "event": name,
            "mailbox": {"id": row.mailbox_id, "address": row.mailbox.address},
            "message_id": str(row.public_id),
            "subject": row.subject,
            "to": row.recipients,
            **extra,
        }
    )


def mail_send(row_id: int, request: dict) -> str:
    """Send a queued message (task body). Side effects: HTTP to Graph; the log row,
    the mailbox's health and an email_sent/email_failed event. Raises Throttled and
    Unavailable for the task to retry; any other refusal is the outcome."""
    row = MailboxMessage.objects.select_related("mailbox").get(pk=row_id)
    if row.state != MailboxMessage.State.QUEUED:
        return row.state
    mailbox = row.mailbox
    attachments = [
        OutgoingAttachment(a["name"], a["content_type"], base64.b64decode(a["content_base64"]))
        for a in request["attachments"]
    ]
    html = request.get("body_html")
    body = html if html is not None else request.get("body_text") or ""
    try:
        graph = mailbox_graph(mailbox)
        try:
            if request.get("reply_to"):
                original = MailboxMessage.objects.get(
                    mailbox=mailbox, direction="in", internet_message_id=request["reply_to"]
                )
                mail.reply(
                    graph.client,
                    graph.mailbox_path,
                    original.graph_message_id,
                    comment=body,
                    attachments=attachments,
                )
            else:
                mail.send_mail(
                    graph.client,
                    graph.mailbox_path,
                    subject=request["subject"],
                    body=body,
                    content_type="html" if html is not None else "text",
                    to=[MailAddress(a) for a in request["to"]],
                    cc=[MailAddress(a) for a in request["cc"]],
                    attachments=attachments,
                )
        finally:
            graph.save()
    except GraphError as exc:
        if exc.retryable:
            raise
        return _failed(row, problem_sentence(mailbox_problem(exc), mailbox.address, exc))
    except MailboxSignInError as exc:
        return _failed(row, str(exc))
    now = timezone.now()
    MailboxMessage.objects.filter(pk=row.pk).update(state=MailboxMessage.State.SENT)
    Mailbox.objects.filter(pk=mailbox.pk).update(last_message_out_at=now)
    _event(row, "email_sent", sent_at=now.isoformat(), reply_to=request.get("reply_to"))
    return MailboxMessage.State.SENT


def mail_send_gave_up(row_id: int, reason: str) -> str:
    """End a queued message whose retries ran out."""
    return _failed(MailboxMessage.objects.select_related("mailbox").get(pk=row_id), reason)


def _failed(row: MailboxMessage, reason: str) -> str:
    MailboxMessage.objects.filter(pk=row.pk).update(
        state=MailboxMessage.State.FAILED, error=reason[:2000]
    )
    Mailbox.objects.filter(pk=row.mailbox_id).update(
        last_error=reason[:2000], last_error_at=timezone.now()
    )
    _event(row, "email_failed", reason=reason)
    return MailboxMessage.State.FAILED

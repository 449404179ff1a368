"""Mail in: new inbox messages reach the contact center exactly once.

The inbox's unread messages are the queue. A catch-up reads the inbox delta from
the stored deltaLink (from the start the first time) and hands every unread
message not seen before to the contact center as an ``email_received`` event on
the signed ACD webhook; the log row, unique per mailbox and internetMessageId
(the key that survives moves), makes a second sight of the same message a no-op.
The message is then marked read and, when the administrator picked a folder,
moved there. Catch-ups run on a schedule as a safety net and can be asked for
after an outage or a ``missed`` lifecycle event.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from graph import mail
from graph.chat import html_to_text
from graph.errors import GraphError
from graph.mail import MailMessage
from integrations.jobs import task_enqueue
from mailboxes.attachments import attachment_link
from mailboxes.graphlink import MailboxGraph, MailboxSignInError, mailbox_graph
from mailboxes.models import Mailbox, MailboxMessage
from mailboxes.sanitize import sanitize_html
from presence.to_acd.delivery import event_queue

logger = logging.getLogger(__name__)

EVENT = "email_received"


def _address(item: mail.MailAddress) -> dict[str, str]:
    return {"address": item.address, "name": item.name}


def email_received_event(
    mailbox: Mailbox, message: MailMessage, attachments: list[mail.MailAttachment]
) -> dict:
    """The ``email_received`` document the contact center receives."""
    html = sanitize_html(message.body) if message.body_type == "html" else ""
    return {
        "event": EVENT,
        "mailbox": {"id": mailbox.pk, "address": mailbox.address},
        "internet_message_id": message.internet_message_id,
        "message_id": message.id,
        "conversation_id": message.conversation_id,
        "from": _address(message.sender),
        "to": [_address(a) for a in message.to],
        "cc": [_address(a) for a in message.cc],
        "subject": message.subject,
        "received_at": message.received.isoformat() if message.received else None,
        # From the sanitised HTML: a script's or style's source is no text of the mail.
        "body_text": html_to_text(html) if html else message.text,
        "body_html": html,
        "attachments": [
            {
                "name": a.name,
                "content_type": a.content_type,
                "size": a.size,
                "url": attachment_link(mailbox.pk, message.internet_message_id, a.id),
            }
            for a in attachments
            if not a.is_inline
        ],
    }


def message_receive(mailbox: Mailbox, graph: MailboxGraph, message: MailMessage) -> bool:
    """Hand one inbox message to the contact center unless it already was; then mark
    it read and move it. Returns True when it was new. Raises the client's errors
    for the attachment read (nothing is recorded then, so a later round retries)."""
    key = message.internet_message_id or message.id
    known = MailboxMessage.objects.filter(
        mailbox=mailbox, direction=MailboxMessage.Direction.IN, internet_message_id=key
    )
    if known.exists():
        return False
    attachments = (
        mail.attachments(graph.client, graph.mailbox_path, message.id)
        if message.has_attachments
        else []
    )
    try:
        with transaction.atomic():
            row = MailboxMessage.objects.create(
                mailbox=mailbox,
                direction=MailboxMessage.Direction.IN,
                internet_message_id=key,
                graph_message_id=message.id,
                conversation_id=message.conversation_id,
                subject=message.subject[:500],
                sender=message.sender.address[:254],
                recipients=[a.address for a in (*message.to, *message.cc)],
                attachment_count=len([a for a in attachments if not a.is_inline]),
                received_at=message.received,
            )
            delivery = event_queue(email_received_event(mailbox, message, attachments))
            if delivery is not None:
                MailboxMessage.objects.filter(pk=row.pk).update(acd_delivery_id=delivery.pk)
            Mailbox.objects.filter(pk=mailbox.pk).update(last_message_in_at=timezone.now())
    except IntegrityError:
        return False  # another worker took it a moment ago
    _file_away(mailbox, graph, message, row)
    return True


def _file_away(mailbox: Mailbox, graph: MailboxGraph, message: MailMessage, row) -> None:
    """Mark read and move; a failure is recorded, never a second delivery."""
    try:
        mail.mark_read(graph.client, graph.mailbox_path, message.id)
        if mailbox.move_to_folder_id:
            moved = mail.move(
                graph.client, graph.mailbox_path, message.id, mailbox.move_to_folder_id
            )
            MailboxMessage.objects.filter(pk=row.pk).update(graph_message_id=moved.id)
    except GraphError as exc:
        MailboxMessage.objects.filter(pk=row.pk).update(error=str(exc)[:2000])
        _error_record(mailbox, f"Delivered, but could not mark read or move: {exc}")


def _error_record(mailbox: Mailbox, text: str) -> None:
    Mailbox.objects.filter(pk=mailbox.pk).update(
        last_error=text[:2000], last_error_at=timezone.now()
    )


def _folder_resolve(mailbox: Mailbox, graph: MailboxGraph) -> None:
    """Find the id of the folder processed mail goes to, by its display name (once)."""
    if not mailbox.move_to_folder_name or mailbox.move_to_folder_id:
        return
    wanted = mailbox.move_to_folder_name.lower()
    found = next(
        (
            f
            for f in mail.mail_folders(graph.client, graph.mailbox_path)
            if f.display_name.lower() == wanted
        ),
        None,
    )
    if found is None:
        _error_record(
            mailbox,
            f'The mailbox has no folder "{mailbox.move_to_folder_name}"; processed mail stays '
            "in the inbox, marked read. Create the folder in Outlook or pick another.",
        )
        return
    mailbox.move_to_folder_id = found.id
    Mailbox.objects.filter(pk=mailbox.pk).update(move_to_folder_id=found.id)


def mailbox_catch_up(mailbox_id: int, *, reason: str = "scheduled") -> int:
    """Read the inbox delta and hand every new unread message to the contact center.

    Side effects: HTTP to Graph; log rows, ACD deliveries, the deltaLink and health
    stored. Returns how many messages were new. Never raises for Graph: the error
    is the mailbox's ``last_error`` and the next round starts from the last link.
    """
    mailbox = Mailbox.objects.filter(pk=mailbox_id, enabled=True).first()
    if mailbox is None:
        return 0
    try:
        graph = mailbox_graph(mailbox)
    except MailboxSignInError as exc:
        _error_record(mailbox, str(exc))
        return 0
    new = 0
    try:
        _folder_resolve(mailbox, graph)
        for page in mail.inbox_delta(graph.client, graph.mailbox_path, mailbox.delta_link):
            for item in page.items:
                message = MailMessage.from_graph(item)
                if message.removed or message.is_read:
                    continue
                new += message_receive(mailbox, graph, message)
            if page.delta_link:
                Mailbox.objects.filter(pk=mailbox.pk).update(
                    delta_link=page.delta_link, caught_up_at=timezone.now()
                )
    except GraphError as exc:
        logger.warning("mailbox %s: catch-up (%s) failed: %s", mailbox.address, reason, exc)
        _error_record(mailbox, f"Reading the inbox failed: {exc}")
    else:
        if mailbox.last_error.startswith("Reading the inbox failed"):
            Mailbox.objects.filter(pk=mailbox.pk).update(last_error="", last_error_at=None)
    finally:
        graph.save()
    return new


def mailboxes_catch_up_all() -> int:
    """Queue a catch-up of every enabled mailbox (the schedule's safety net)."""
    ids = list(Mailbox.objects.filter(enabled=True).values_list("pk", flat=True))
    for pk in ids:
        task_enqueue("mailboxes.inbound.catch_up", args=(pk,), kwargs={"reason": "scheduled"})
    return len(ids)

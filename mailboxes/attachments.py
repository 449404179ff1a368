"""Attachments of received mail, served to the contact center through short-lived
signed links, as expert chat serves pasted images (chat/media.py): the token is the
attachment's address signed with the console's secret (its own salt), so the view
needs no sign-in; a token older than MAIL_ATTACHMENT_LINK_MAX_AGE_SECONDS is
refused with 410, an altered one with 404. Mail moves give a message a new id, so
the link names the message by its internetMessageId and finds its current id in the
message log.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from graph import mail
from graph.errors import GraphError, NotFound
from mailboxes.graphlink import MailboxSignInError, mailbox_graph
from mailboxes.models import Mailbox, MailboxMessage

logger = logging.getLogger(__name__)

SALT = "ccbridge.mailboxes.attachment"


def attachment_link(mailbox_id: int, internet_message_id: str, attachment_id: str) -> str:
    """The absolute link the contact center opens (on CCBRIDGE_PUBLIC_URL)."""
    token = signing.dumps(
        {"b": mailbox_id, "m": internet_message_id, "a": attachment_id}, salt=SALT, compress=True
    )
    return settings.CCBRIDGE_PUBLIC_URL.rstrip("/") + reverse("mailboxes:attachment", args=[token])


def _plain(text: str, status: int) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


@login_not_required
@require_GET
def attachment(request: HttpRequest, token: str) -> HttpResponse:
    """The attachment behind a signed link, read from Graph as the mailbox signs in."""
    try:
        value = signing.loads(
            token, salt=SALT, max_age=settings.MAIL_ATTACHMENT_LINK_MAX_AGE_SECONDS
        )
    except signing.SignatureExpired:
        return _plain("This attachment link has expired; ask for the message again.", 410)
    except signing.BadSignature:
        return _plain("This attachment link is not valid.", 404)
    row = (
        MailboxMessage.objects.select_related("mailbox")
        .filter(mailbox_id=value.get("b"), direction="in", internet_message_id=value.get("m"))
        .first()
    )
    if row is None:
        return _plain("The message is no longer known here.", 404)
    mailbox: Mailbox = row.mailbox
    try:
        graph = mailbox_graph(mailbox)
        found = mail.attachment(graph.client, graph.mailbox_path, row.graph_message_id, value["a"])
        graph.save()
    except NotFound:
        return _plain("The attachment is no longer in the mailbox.", 404)
    except (GraphError, MailboxSignInError) as exc:
        logger.warning("could not read a mail attachment from Graph: %s", exc)
        return _plain("The attachment could not be read from Microsoft Graph; retry later.", 502)
    # Always a download: nothing from a sender may run as a page of this console.
    response = HttpResponse(found.content, content_type="application/octet-stream")
    filename = found.name.replace('"', "").replace("\r", "").replace("\n", "") or "attachment"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response

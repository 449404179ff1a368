"""The contact-center API for sending mail (mounted in config/api.py)."""

from django.http import Http404, HttpRequest
from ninja import Router, Status
from ninja.errors import ValidationError

from integrations.apikeys import api_key_auth
from integrations.models import ApiKey
from mailboxes.models import Mailbox
from mailboxes.outbound import MailRefused, mail_send_queue
from mailboxes.schemas import MailIn, MailQueuedOut

router = Router()

MAIL_SEND = api_key_auth(ApiKey.Scope.MAIL_SEND)


@router.post(
    "/mailboxes/{mailbox_id}/messages",
    auth=MAIL_SEND,
    response={202: MailQueuedOut},
    tags=["Mail"],
    summary="Send a new message or a reply from an Office 365 mailbox",
)
def mail_send(request: HttpRequest, mailbox_id: int, payload: MailIn):
    """Answers at once with the message's id; the outcome arrives on the ACD webhook as
    `email_sent` or `email_failed` naming that id. With `reply_to` (the
    `internet_message_id` of an `email_received`) the message is a reply to its
    sender, in its conversation. Bad addresses and attachments beyond the size limit
    are refused here (422), not reported later."""
    mailbox = Mailbox.objects.filter(pk=mailbox_id).first()
    if mailbox is None:
        raise Http404
    try:
        row = mail_send_queue(mailbox=mailbox, request=payload.dict())
    except MailRefused as exc:
        raise ValidationError([{"loc": ("body", "payload", exc.path), "msg": str(exc)}]) from exc
    return Status(202, {"message_id": str(row.public_id), "state": row.state})

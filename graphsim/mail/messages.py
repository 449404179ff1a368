"""Messages as Graph shows them, and delivery: what sendMail, reply and the control
API's "an outside sender mailed this mailbox" share."""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from graphsim.core.errors import GraphError, iso
from graphsim.core.state import Tenant
from graphsim.mail.store import (
    Attachment,
    Mailbox,
    MailMessage,
    TenantMail,
    find_recipient,
    new_internet_message_id,
    now,
    opaque_id,
)

_TAG = re.compile(r"<[^>]+>")
# Called for every message that lands in an inbox (mail subscriptions hook in here).
Arrival = Callable[[Tenant, Mailbox, MailMessage], None]


def _recipient(entry: dict[str, str]) -> dict[str, Any]:
    return {"emailAddress": {"name": entry.get("name") or "", "address": entry["address"]}}


def preview(message: MailMessage) -> str:
    text = (
        html.unescape(_TAG.sub(" ", message.body)) if message.body_type == "html" else message.body
    )
    return " ".join(text.split())[:255]


def message_json(message: MailMessage, graph_base: str, user_id: str) -> dict[str, Any]:
    """The Graph message resource (all default properties)."""
    return {
        "@odata.etag": f'W/"{message.version}"',
        "id": message.id,
        "createdDateTime": iso(message.received),
        "lastModifiedDateTime": iso(message.received),
        "changeKey": str(message.version),
        "categories": [],
        "receivedDateTime": iso(message.received),
        "sentDateTime": iso(message.sent),
        "hasAttachments": any(not a.is_inline for a in message.attachments),
        "internetMessageId": message.internet_message_id,
        "subject": message.subject,
        "bodyPreview": preview(message),
        "importance": "normal",
        "parentFolderId": message.folder_id,
        "conversationId": message.conversation_id,
        "isDeliveryReceiptRequested": False,
        "isReadReceiptRequested": False,
        "isRead": message.is_read,
        "isDraft": message.is_draft,
        "webLink": f"https://outlook.office365.com/owa/?ItemID={message.id}&viewmodel=ReadMessageItem",
        "inferenceClassification": "focused",
        "body": {"contentType": message.body_type, "content": message.body},
        "sender": _recipient(message.sender),
        "from": _recipient(message.sender),
        "toRecipients": [_recipient(r) for r in message.to],
        "ccRecipients": [_recipient(r) for r in message.cc],
        "bccRecipients": [],
        "replyTo": [],
        "flag": {"flagStatus": "notFlagged"},
    }


def attachment_json(attachment: Attachment, with_bytes: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "id": attachment.id,
        "lastModifiedDateTime": iso(now()),
        "name": attachment.name,
        "contentType": attachment.content_type,
        "size": len(attachment.data),
        "isInline": attachment.is_inline,
        "contentId": None,
    }
    if with_bytes:
        body["contentBytes"] = base64.b64encode(attachment.data).decode()
    return body


# --- reading what callers send ---------------------------------------------------------


def recipients_of(items: Any, what: str) -> list[dict[str, str]]:
    """``[{"emailAddress": {"address", "name"}}]`` → ``[{"address", "name"}]``; 400 with
    Exchange's code for anything that is not an address."""
    out: list[dict[str, str]] = []
    for item in items or []:
        email = (item or {}).get("emailAddress") if isinstance(item, dict) else None
        address = str((email or {}).get("address") or "").strip()
        if not address or "@" not in address or address.startswith("@") or address.endswith("@"):
            raise GraphError(
                400,
                "ErrorInvalidRecipients",
                "At least one recipient isn't valid., Recipient "
                f"'{address}' isn't resolved. All recipients must be resolved before a "
                "message can be submitted.",
            )
        out.append({"address": address, "name": str((email or {}).get("name") or "")})
    return out


def attachments_of(items: Any) -> list[Attachment]:
    """fileAttachment bodies (``name``, ``contentType``, base64 ``contentBytes``)."""
    out: list[Attachment] = []
    for item in items or []:
        if not isinstance(item, dict) or "fileAttachment" not in str(item.get("@odata.type")):
            raise GraphError(400, "ErrorInvalidRequest", "Only file attachments are supported.")
        try:
            data = base64.b64decode(str(item.get("contentBytes") or ""), validate=True)
        except (binascii.Error, ValueError):
            raise GraphError(
                400, "ErrorInvalidRequest", "The contentBytes of an attachment are not base64."
            ) from None
        out.append(
            Attachment(
                opaque_id("AAMkAGA"),
                str(item.get("name") or "attachment"),
                str(item.get("contentType") or "application/octet-stream"),
                data,
                bool(item.get("isInline")),
            )
        )
    return out


# --- delivery -----------------------------------------------------------------------


def deliver(
    tenant: Tenant,
    mail: TenantMail,
    *,
    sender: dict[str, str],
    to: list[dict[str, str]],
    cc: list[dict[str, str]],
    subject: str,
    body_type: str,
    body: str,
    attachments: list[Attachment],
    internet_message_id: str = "",
    conversation_id: str = "",
    in_reply_to: str = "",
    on_arrival: Arrival | None = None,
) -> list[MailMessage]:
    """Put a message into the inbox of every recipient in the tenant that has a
    mailbox; addresses elsewhere are recorded in ``mail.outbound``. Caller holds the
    tenant lock. Returns the inbox copies, one per mailbox reached."""
    internet_message_id = internet_message_id or new_internet_message_id(tenant.domain)
    conversation_id = conversation_id or opaque_id("AAQkAG")
    sent = now()
    landed: list[MailMessage] = []
    for entry in [*to, *cc]:
        user = find_recipient(tenant, entry["address"])
        if user is None or user.id in mail.without_mailbox:
            mail.outbound.append(
                {
                    "to": entry["address"],
                    "from": sender["address"],
                    "subject": subject,
                    "internetMessageId": internet_message_id,
                    "conversationId": conversation_id,
                    "inReplyTo": in_reply_to,
                    "body": body,
                    "attachments": [a.name for a in attachments],
                }
            )
            continue
        box = mail.mailbox(user.id)
        if any(m.internet_message_id == internet_message_id for m in box.messages.values()):
            continue  # Exchange delivers one copy per mailbox, however often it is named
        copy = _file(
            box,
            "inbox",
            sender=sender,
            to=to,
            cc=cc,
            subject=subject,
            body_type=body_type,
            body=body,
            attachments=attachments,
            internet_message_id=internet_message_id,
            conversation_id=conversation_id,
            in_reply_to=in_reply_to,
            sent=sent,
        )
        landed.append(copy)
        if on_arrival is not None:
            on_arrival(tenant, box, copy)
    return landed


def save_sent(box: Mailbox, *, attachments: list[Attachment], **fields: Any) -> MailMessage:
    """The sender's copy in Sent Items (``saveToSentItems``, true by default); ``fields``
    as for :func:`deliver`, with the ``internet_message_id`` and ``conversation_id``
    the recipients' copies got."""
    copy = _file(box, "sentitems", attachments=attachments, **fields)
    copy.is_read = True
    return copy


def _file(
    box: Mailbox,
    folder: str,
    *,
    attachments: list[Attachment],
    sent: datetime | None = None,
    **fields: Any,
) -> MailMessage:
    """A new message in one of the box's well-known folders, with copies of the
    attachments (each mailbox's copy has ids of its own)."""
    return box.put(
        MailMessage(
            id=opaque_id(),
            folder_id=box.well_known(folder).id,
            received=now(),
            sent=sent or now(),
            version=0,
            attachments=[
                Attachment(opaque_id("AAMkAGA"), a.name, a.content_type, a.data, a.is_inline)
                for a in attachments
            ],
            **fields,
        )
    )

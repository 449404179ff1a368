"""Typed Exchange Online mail calls: read a folder, delta, send, reply, mark read,
move, delete, attachments, and what a refusal means.

docs/graph.md, "Mail": a mailbox is addressed by id, userPrincipalName or SMTP
address (``/me`` for a signed-in user). Exchange answers an unknown user with 404
``ErrorInvalidUser``, a user without an Exchange Online mailbox (no licence) with
404 ``MailboxNotEnabledForRESTAPI``, and an app an application access policy keeps
out with 403 ``ErrorAccessDenied`` whose message names ``[RAOP]``. sendMail and
reply answer 202 without a body. A moved message gets a new id; its
``internetMessageId`` stays, so that is the key a message is known by.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from graph.chat import html_to_text
from graph.client import DeltaPage, GraphClient
from graph.directory import parse_graph_datetime
from graph.errors import GraphError, NotFound, PermissionDenied

MESSAGE_FIELDS = (
    "id,internetMessageId,conversationId,subject,receivedDateTime,sentDateTime,from,"
    "toRecipients,ccRecipients,body,hasAttachments,isRead,parentFolderId"
)


class MailboxProblem(StrEnum):
    """Why Exchange would not open a mailbox."""

    NO_SUCH_USER = "no_such_user"  # 404 ErrorInvalidUser
    NO_MAILBOX = "no_mailbox"  # 404 MailboxNotEnabledForRESTAPI
    POLICY_DENIED = "policy_denied"  # 403 ErrorAccessDenied, [RAOP]
    ACCESS_DENIED = "access_denied"  # 403 ErrorAccessDenied: no permission


def mailbox_problem(error: GraphError) -> MailboxProblem | None:
    """The reason a mailbox refusal names, or None for any other error. Pure."""
    if isinstance(error, NotFound) and error.code == "ErrorInvalidUser":
        return MailboxProblem.NO_SUCH_USER
    if isinstance(error, NotFound) and error.code == "MailboxNotEnabledForRESTAPI":
        return MailboxProblem.NO_MAILBOX
    if isinstance(error, PermissionDenied) and error.code == "ErrorAccessDenied":
        if "RAOP" in error.message or "AccessPolicy" in error.message:
            return MailboxProblem.POLICY_DENIED
        return MailboxProblem.ACCESS_DENIED
    return None


@dataclass(frozen=True)
class MailAddress:
    address: str
    name: str = ""

    @classmethod
    def from_graph(cls, item: Any) -> MailAddress:
        email = (item or {}).get("emailAddress") or {} if isinstance(item, dict) else {}
        return cls(str(email.get("address") or ""), str(email.get("name") or ""))

    def graph(self) -> dict[str, Any]:
        email = {"address": self.address}
        if self.name:
            email["name"] = self.name
        return {"emailAddress": email}


@dataclass(frozen=True)
class MailMessage:
    """A message as Graph returns it (the fields ccbridge uses)."""

    id: str
    internet_message_id: str
    conversation_id: str
    subject: str
    received: datetime | None
    sender: MailAddress
    to: tuple[MailAddress, ...]
    cc: tuple[MailAddress, ...]
    body_type: str
    body: str
    has_attachments: bool
    is_read: bool
    folder_id: str
    removed: bool = False

    @property
    def text(self) -> str:
        """The body as plain text."""
        return html_to_text(self.body) if self.body_type == "html" else self.body.strip()

    @classmethod
    def from_graph(cls, item: dict[str, Any]) -> MailMessage:
        body = item.get("body") or {}
        return cls(
            id=str(item["id"]),
            internet_message_id=str(item.get("internetMessageId") or ""),
            conversation_id=str(item.get("conversationId") or ""),
            subject=str(item.get("subject") or ""),
            received=parse_graph_datetime(item.get("receivedDateTime")),
            sender=MailAddress.from_graph(item.get("from")),
            to=tuple(MailAddress.from_graph(r) for r in item.get("toRecipients") or ()),
            cc=tuple(MailAddress.from_graph(r) for r in item.get("ccRecipients") or ()),
            body_type=str(body.get("contentType") or "text").lower(),
            body=str(body.get("content") or ""),
            has_attachments=bool(item.get("hasAttachments")),
            is_read=bool(item.get("isRead")),
            folder_id=str(item.get("parentFolderId") or ""),
            removed="@removed" in item,
        )


@dataclass(frozen=True)
class MailAttachment:
    id: str
    name: str
    content_type: str
    size: int
    is_inline: bool
    content: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class MailFolder:
    id: str
    display_name: str


@dataclass(frozen=True)
class OutgoingAttachment:
    name: str
    content_type: str
    content: bytes = field(repr=False)

    def graph(self) -> dict[str, Any]:
        return {
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": self.name,
            "contentType": self.content_type,
            "contentBytes": base64.b64encode(self.content).decode(),
        }


def _box(mailbox: str) -> str:
    """``/users/{mailbox}``, or ``/me`` for a signed-in user's own mailbox (``""``)."""
    return f"/users/{quote(mailbox, safe='@')}" if mailbox else "/me"


def folder_messages(
    client: GraphClient, mailbox: str, folder: str = "inbox", *, top: int = 10
) -> list[MailMessage]:
    """The newest ``top`` messages of a folder (id or well-known name such as
    ``inbox``). Raises the client's errors (see :func:`mailbox_problem`)."""
    body = client.get(
        f"{_box(mailbox)}/mailFolders/{quote(folder, safe='')}/messages",
        {"$top": top, "$select": MESSAGE_FIELDS, "$orderby": "receivedDateTime desc"},
    )
    return [MailMessage.from_graph(item) for item in (body or {}).get("value") or []]


def mail_folders(client: GraphClient, mailbox: str) -> list[MailFolder]:
    """The mailbox's top-level folders. Raises the client's errors."""
    folders: list[MailFolder] = []
    for page in client.iter_pages(f"{_box(mailbox)}/mailFolders", {"$top": 100}):
        folders += [MailFolder(str(f["id"]), str(f.get("displayName") or "")) for f in page]
    return folders


def inbox_delta(
    client: GraphClient, mailbox: str, delta_link: str = "", *, page_size: int = 50
) -> Iterator[DeltaPage]:
    """The inbox's delta pages from a stored deltaLink (or from the start); the last
    page carries the next deltaLink. Raises the client's errors."""
    start = delta_link or f"{_box(mailbox)}/mailFolders/inbox/messages/delta"
    params = None if delta_link else {"$select": MESSAGE_FIELDS}
    return client.delta(start, params, page_size=page_size)


def send_mail(
    client: GraphClient,
    mailbox: str,
    *,
    subject: str,
    body: str,
    to: Sequence[MailAddress],
    cc: Sequence[MailAddress] = (),
    content_type: str = "text",
    attachments: Sequence[OutgoingAttachment] = (),
    save_to_sent_items: bool = True,
) -> None:
    """Send a new message from ``mailbox`` (``POST …/sendMail``, 202). Raises the
    client's errors (InvalidRequest ``ErrorInvalidRecipients`` for a bad address)."""
    message: dict[str, Any] = {
        "subject": subject,
        "body": {"contentType": content_type, "content": body},
        "toRecipients": [a.graph() for a in to],
    }
    if cc:
        message["ccRecipients"] = [a.graph() for a in cc]
    if attachments:
        message["attachments"] = [a.graph() for a in attachments]
    client.post(
        f"{_box(mailbox)}/sendMail", {"message": message, "saveToSentItems": save_to_sent_items}
    )


def reply(
    client: GraphClient,
    mailbox: str,
    message_id: str,
    *,
    comment: str,
    attachments: Sequence[OutgoingAttachment] = (),
) -> None:
    """Reply to the sender of a received message, in its conversation
    (``POST …/messages/{id}/reply``, 202). Raises the client's errors."""
    body: dict[str, Any] = {"comment": comment}
    if attachments:
        body["message"] = {"attachments": [a.graph() for a in attachments]}
    client.post(f"{_box(mailbox)}/messages/{quote(message_id, safe='')}/reply", body)


def mark_read(client: GraphClient, mailbox: str, message_id: str) -> None:
    """``PATCH …/messages/{id}`` ``{isRead: true}``. Raises the client's errors."""
    client.patch(f"{_box(mailbox)}/messages/{quote(message_id, safe='')}", {"isRead": True})


def move(client: GraphClient, mailbox: str, message_id: str, folder_id: str) -> MailMessage:
    """Move a message to a folder; returns it with its new id. Raises the client's errors."""
    moved = client.post(
        f"{_box(mailbox)}/messages/{quote(message_id, safe='')}/move", {"destinationId": folder_id}
    )
    return MailMessage.from_graph(moved or {})


def delete_message(client: GraphClient, mailbox: str, message_id: str) -> None:
    """Delete a message. Raises the client's errors."""
    client.delete(f"{_box(mailbox)}/messages/{quote(message_id, safe='')}")


def attachments(client: GraphClient, mailbox: str, message_id: str) -> list[MailAttachment]:
    """A message's file attachments, without their bytes. Raises the client's errors."""
    body = client.get(
        f"{_box(mailbox)}/messages/{quote(message_id, safe='')}/attachments",
        {"$select": "id,name,contentType,size,isInline"},
    )
    return [
        MailAttachment(
            str(a["id"]),
            str(a.get("name") or ""),
            str(a.get("contentType") or "application/octet-stream"),
            int(a.get("size") or 0),
            bool(a.get("isInline")),
        )
        for a in (body or {}).get("value") or []
    ]


def attachment(
    client: GraphClient, mailbox: str, message_id: str, attachment_id: str
) -> MailAttachment:
    """One file attachment with its bytes. Raises the client's errors."""
    a = (
        client.get(
            f"{_box(mailbox)}/messages/{quote(message_id, safe='')}/attachments/"
            f"{quote(attachment_id, safe='')}"
        )
        or {}
    )
    return MailAttachment(
        str(a.get("id") or attachment_id),
        str(a.get("name") or ""),
        str(a.get("contentType") or "application/octet-stream"),
        int(a.get("size") or 0),
        bool(a.get("isInline")),
        base64.b64decode(str(a.get("contentBytes") or "")),
    )


def other_mailbox_address(client: GraphClient, exclude: str) -> str:
    """The mail address of the directory's first user other than ``exclude`` (for the
    access-policy check); "" when there is none. Needs User.Read.All. Raises the
    client's errors."""
    body = client.get("/users", {"$top": 25, "$select": "id,mail,userPrincipalName"}) or {}
    unwanted = exclude.strip().lower()
    for user in body.get("value") or []:
        address = str(user.get("mail") or user.get("userPrincipalName") or "")
        names = {
            str(user.get("mail") or "").lower(),
            str(user.get("userPrincipalName") or "").lower(),
        }
        if address and unwanted not in names:
            return address
    return ""

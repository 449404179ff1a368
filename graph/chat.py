"""Typed Teams chat calls: one-on-one chats, messages, hosted contents.

docs/graph.md, "Chat": sending a chat message needs a delegated token (a signed-in
user: ChatMessage.Send or Chat.ReadWrite); with an application token Graph answers
401 "Message POST is allowed in application-only context only for import
purposes". Creating a one-on-one chat for a pair that already has one returns that
chat. Messages typed in Teams arrive as HTML; commands are compared on their text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from graph.client import GraphClient
from graph.directory import parse_graph_datetime

GRAPH_USER_BIND = "https://graph.microsoft.com/v1.0/users('{id}')"
MESSAGES_PAGE_SIZE = 50  # the most GET /chats/{id}/messages gives in one page
_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<\s*(br|/p|/div|/li)\s*/?\s*>", re.IGNORECASE)
_HOSTED = re.compile(r"""src\s*=\s*["']([^"']*/hostedContents/[^"']+/\$value)["']""", re.IGNORECASE)


def html_to_text(content: str) -> str:
    """The visible text of a Teams message body: tags dropped, entities decoded,
    paragraph and line breaks kept as newlines, surrounding whitespace trimmed."""
    text = _BREAK.sub("\n", content)
    text = _TAG.sub("", text)
    text = html.unescape(text).replace("\xa0", " ")
    lines = [line.strip() for line in text.splitlines()]
    return "\n".join(line for line in lines if line).strip()


@dataclass(frozen=True)
class Chat:
    id: str
    chat_type: str
    created: datetime | None

    @classmethod
    def from_graph(cls, item: dict[str, Any]) -> Chat:
        return cls(
            id=str(item["id"]),
            chat_type=str(item.get("chatType") or ""),
            created=parse_graph_datetime(item.get("createdDateTime")),
        )


@dataclass(frozen=True)
class ChatMessage:
    """A message of a chat as Graph returns it (and as rich notifications carry it)."""

    id: str
    chat_id: str
    created: datetime | None
    message_type: str
    sender_id: str
    sender_name: str
    content_type: str
    content: str
    deleted: bool = False
    hosted_content_urls: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The body as plain text, for comparing with commands and for relaying."""
        return html_to_text(self.content) if self.content_type == "html" else self.content.strip()

    @property
    def is_from_person(self) -> bool:
        """A person typed it (not a system event such as a member being added)."""
        return self.message_type == "message" and bool(self.sender_id)

    @classmethod
    def from_graph(cls, item: dict[str, Any]) -> ChatMessage:
        sender = (item.get("from") or {}).get("user") or {}
        body = item.get("body") or {}
        content = str(body.get("content") or "")
        return cls(
            id=str(item["id"]),
            chat_id=str(item.get("chatId") or ""),
            created=parse_graph_datetime(item.get("createdDateTime")),
            message_type=str(item.get("messageType") or "message"),
            sender_id=str(sender.get("id") or ""),
            sender_name=str(sender.get("displayName") or ""),
            content_type=str(body.get("contentType") or "text").lower(),
            content=content,
            deleted=bool(item.get("deletedDateTime")),
            hosted_content_urls=_HOSTED.findall(content),
        )


def one_on_one_chat(client: GraphClient, user_id: str, other_user_id: str) -> Chat:
    """The one-on-one chat of two users (``POST /chats``): Graph creates it, or returns
    the one the pair already has. Raises the client's errors."""
    members = [
        {
            "@odata.type": "#microsoft.graph.aadUserConversationMember",
            "roles": ["owner"],
            "user@odata.bind": GRAPH_USER_BIND.format(id=member),
        }
        for member in (user_id, other_user_id)
    ]
    body = client.post("/chats", {"chatType": "oneOnOne", "members": members}) or {}
    return Chat.from_graph(body)


def send_chat_message(
    client: GraphClient, chat_id: str, content: str, *, content_type: str = "text"
) -> ChatMessage:
    """Post a message as the signed-in user (``POST /chats/{id}/messages``). Needs a
    delegated token; an application token is refused (InvalidToken). Raises the
    client's errors."""
    body = client.post(
        f"/chats/{quote(chat_id, safe='')}/messages",
        {"body": {"contentType": content_type, "content": content}},
    )
    return ChatMessage.from_graph({"chatId": chat_id, **(body or {})})


def chat_messages(client: GraphClient, chat_id: str) -> Iterator[ChatMessage]:
    """The chat's messages, newest first, following Graph's paging
    (``GET /chats/{id}/messages``, 50 a page). Raises the client's errors."""
    path = f"/chats/{quote(chat_id, safe='')}/messages"
    for page in client.iter_pages(path, {"$top": MESSAGES_PAGE_SIZE}):
        for item in page:
            yield ChatMessage.from_graph({"chatId": chat_id, **item})


def hosted_content(client: GraphClient, url: str) -> tuple[bytes, str]:
    """The bytes and content type of an image pasted into a chat (a ``…/hostedContents/
    {id}/$value`` URL from a message body). Raises the client's errors, and ValueError
    for a URL that is not Graph's."""
    return client.get_bytes(url)

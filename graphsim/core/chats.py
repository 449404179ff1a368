"""Teams chats as the simulator keeps them: chats, their messages and the images
pasted into them (hosted contents), plus their on-disk form (graphsim.core.persist).

A tenant holds its chats in ``Tenant.chats`` under the tenant lock. Message ids
are Teams' own kind: the creation time in epoch milliseconds, as text, strictly
increasing within a chat, so they order the chat's history.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ONE_ON_ONE = "oneOnOne"
GROUP = "group"


@dataclass
class HostedContent:
    """An image (or other file) pasted into a message."""

    id: str
    content_type: str
    data: bytes


@dataclass
class Message:
    """A chat message; ``content_type`` is ``text`` or ``html``."""

    id: str
    chat_id: str
    created: datetime
    modified: datetime
    sender_id: str
    sender_name: str
    content_type: str
    content: str
    hosted: dict[str, HostedContent] = field(default_factory=dict)


@dataclass
class Chat:
    """A chat and its history (oldest first). ``members`` are user ids."""

    id: str
    chat_type: str
    members: list[str]
    created: datetime
    last_updated: datetime
    topic: str | None = None
    messages: list[Message] = field(default_factory=list)

    def next_message_id(self, now: datetime) -> str:
        """A new message id: now in epoch milliseconds, after the last message's."""
        stamp = int(now.timestamp() * 1000)
        if self.messages:
            stamp = max(stamp, int(self.messages[-1].id) + 1)
        return str(stamp)

    def message(self, message_id: str) -> Message | None:
        for message in self.messages:
            if message.id == message_id:
                return message
        return None


def one_on_one_id(user_a: str, user_b: str) -> str:
    """The id Teams gives the one-on-one chat of two users: the same for the pair
    whichever of them asks, so asking again finds the same chat."""
    first, second = sorted((user_a.lower(), user_b.lower()))
    return f"19:{first}_{second}@unq.gbl.spaces"


def _when(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def chats_json(chats: dict[str, Chat]) -> list[dict[str, Any]]:
    """The saved form of a tenant's chats (caller holds the tenant lock)."""
    return [
        {
            "id": chat.id,
            "chat_type": chat.chat_type,
            "members": list(chat.members),
            "created": chat.created.isoformat(),
            "last_updated": chat.last_updated.isoformat(),
            "topic": chat.topic,
            "messages": [
                {
                    "id": m.id,
                    "created": m.created.isoformat(),
                    "modified": m.modified.isoformat(),
                    "sender_id": m.sender_id,
                    "sender_name": m.sender_name,
                    "content_type": m.content_type,
                    "content": m.content,
                    "hosted": [
                        {
                            "id": h.id,
                            "content_type": h.content_type,
                            "data": base64.b64encode(h.data).decode(),
                        }
                        for h in m.hosted.values()
                    ],
                }
                for m in chat.messages
            ],
        }
        for chat in chats.values()
    ]


def chats_from_json(items: list[dict[str, Any]]) -> dict[str, Chat]:
    """Rebuild chats from :func:`chats_json`; raises KeyError/TypeError/ValueError."""
    chats: dict[str, Chat] = {}
    for item in items:
        chat = Chat(
            id=item["id"],
            chat_type=item["chat_type"],
            members=list(item["members"]),
            created=_when(item["created"]),
            last_updated=_when(item["last_updated"]),
            topic=item.get("topic"),
        )
        for m in item["messages"]:
            hosted = {
                h["id"]: HostedContent(h["id"], h["content_type"], base64.b64decode(h["data"]))
                for h in m["hosted"]
            }
            chat.messages.append(
                Message(
                    id=m["id"],
                    chat_id=chat.id,
                    created=_when(m["created"]),
                    modified=_when(m["modified"]),
                    sender_id=m["sender_id"],
                    sender_name=m["sender_name"],
                    content_type=m["content_type"],
                    content=m["content"],
                    hosted=hosted,
                )
            )
        chats[chat.id] = chat
    return chats

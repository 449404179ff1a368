"""Subscriptions to Teams chat messages (docs/graph.md, "Chat").

Resources: ``/chats/{id}/messages`` (one chat; delegated as a member, or
application), ``/chats/getAllMessages`` (every chat of the tenant) and
``/users/{id}/chats/getAllMessages`` (every chat that user is in), both
application only. changeType is any of created, updated, deleted; at most
4,320 minutes, and beyond 60 minutes only with a lifecycleNotificationUrl; one
subscription per resource per app. The ``POST /subscriptions`` endpoint
itself is graphsim.subscriptions.handlers; the chat area asks ``covers`` which
subscriptions hear about a message.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from graphsim.core.call import Call
from graphsim.core.errors import GraphError, parse_iso, utcnow
from graphsim.core.perms import Perms, require

CHAT_MAX_LIFETIME = timedelta(minutes=4320)
WITHOUT_LIFECYCLE = timedelta(minutes=60)
CHANGE_TYPES = frozenset(["created", "updated", "deleted"])
ONE_CHAT: Perms = (
    ("Chat.Read.All", "Chat.ReadWrite.All", "ChatMessage.Read.Chat"),
    ("Chat.Read", "Chat.ReadWrite"),
)
ALL_CHATS: Perms = (("Chat.Read.All", "Chat.ReadWrite.All"), ())
_ONE = re.compile(r"^/?chats(?:/(?P<a>[^/?()]+)|\('(?P<b>[^']+)'\))/messages$", re.IGNORECASE)
_ALL = re.compile(r"^/?chats/getAllMessages$", re.IGNORECASE)
_USER = re.compile(r"^/?users(?:/(?P<a>[^/?()]+)|\('(?P<b>[^']+)'\))/chats/getAllMessages$", re.I)


def parse(resource: str) -> tuple[str, str | None] | None:
    """``("chat", id)``, ``("all", None)`` or ``("user", id)`` for a chat message
    resource; None for any other resource."""
    if _ALL.match(resource):
        return "all", None
    if match := _USER.match(resource):
        return "user", (match.group("a") or match.group("b")).lower()
    if match := _ONE.match(resource):
        return "chat", match.group("a") or match.group("b")
    return None


def is_chat_resource(resource: str) -> bool:
    """True when ``resource`` names chat messages."""
    return parse(resource) is not None


def covers(resource: str, chat_id: str, members: list[str]) -> bool:
    """True when a subscription on ``resource`` hears about messages of this chat."""
    parsed = parse(resource)
    if parsed is None:
        return False
    kind, ident = parsed
    if kind == "all":
        return True
    if kind == "user":
        return ident in members
    return ident == chat_id


def check_expiration(value: Any, lifecycle_url: str | None, operation: str) -> datetime:
    """The requested expirationDateTime, within the chat message rules; GraphError 400 if not."""
    expiration = parse_iso(value)
    if expiration is None:
        raise GraphError(400, "InvalidRequest", "The expirationDateTime is not valid.")
    now = utcnow()
    if expiration <= now:
        raise GraphError(400, "InvalidRequest", "Subscription expiration must be in the future.")
    if expiration > now + CHAT_MAX_LIFETIME:
        raise _extension_error(
            operation,
            "BadRequest",
            "Subscription expiration can only be 4320 minutes in the future.",
            400,
        )
    if expiration > now + WITHOUT_LIFECYCLE and not lifecycle_url:
        # The documented sentence (teams-changenotifications-chatmessage).
        raise _extension_error(
            operation,
            "BadRequest",
            "lifecycleNotificationUrl is a required property for subscription creation on this "
            "resource when the expirationDateTime value is set to greater than 1 hour.",
            400,
        )
    return expiration


def _extension_error(operation: str, status_name: str, reason: str, status: int) -> GraphError:
    # Teams answers through the subscription service's extension, in its shape.
    return GraphError(
        status,
        "ExtensionError",
        f"Operation: {operation}; Exception: [Status Code: {status_name}; Reason: {reason}]",
    )


def change_type(value: Any) -> str:
    parts = [p.strip() for p in value.split(",")] if isinstance(value, str) else []
    if not parts or not all(p in CHANGE_TYPES for p in parts):
        raise GraphError(
            400,
            "InvalidRequest",
            "Chat message subscriptions support changeType created, updated and deleted.",
        )
    return ",".join(dict.fromkeys(parts))


def check_scope(call: Call, kind: str, ident: str | None) -> None:
    principal = call.p
    if kind != "chat":
        if principal.kind == "user":
            raise _extension_error(
                "Create",
                "Forbidden",
                "This resource is only supported in application-only context.",
                403,
            )
        require(call, ALL_CHATS)
        if kind == "user" and ident and principal.tenant.find_user(ident) is None:
            raise GraphError(404, "NotFound", f"User '{ident}' was not found.")
        return
    require(call, ONE_CHAT)
    with principal.tenant.lock:
        chat = principal.tenant.chats.get(ident or "")
        if chat is None:
            raise GraphError(404, "NotFound", f"Chat '{ident}' was not found.")
        if principal.kind == "user" and principal.user_id not in chat.members:
            raise _extension_error(
                "Create", "Forbidden", "The caller is not a member of the chat.", 403
            )

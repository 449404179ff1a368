"""Control API handlers for Teams chats: a Teams user typing a message (with an
optional pasted image), and reading a tenant's chats and a chat's messages."""

from __future__ import annotations

import base64
import html
from typing import Any

from werkzeug.wrappers import Request

from graphsim import chat
from graphsim.control.common import (
    TENANT,
    ControlError,
    ControlRoute,
    base64_of,
    body_of,
    route,
    tenant_of,
    user_of,
)
from graphsim.core.chats import Chat, HostedContent, Message
from graphsim.core.sim import Sim
from graphsim.core.state import Tenant, new_id


def chat_view(item: Chat, tenant: Tenant) -> dict[str, Any]:
    """A chat's Graph form plus its members and message count."""
    return {
        **chat.chat_json(item, tenant.id),
        "members": list(item.members),
        "messages": len(item.messages),
    }


def message_view(message: Message) -> dict[str, Any]:
    """A message's Graph form plus the ids and types of its hosted contents."""
    return {
        **chat.message_json(message),
        "hostedContents": [
            {"id": h.id, "contentType": h.content_type, "size": len(h.data)}
            for h in message.hosted.values()
        ],
    }


def _chat_of(tenant: Tenant, chat_id: str) -> Chat:
    found = tenant.chats.get(chat_id)
    if found is None:
        raise ControlError(404, f"no chat {chat_id} in tenant {tenant.id}")
    return found


def _image(spec: Any) -> HostedContent:
    data = base64_of(spec, "image", '{"content_type": "image/png", "base64": "…"}')
    # Teams' hosted content ids are opaque base64 text.
    ident = base64.urlsafe_b64encode(f"id=x_0-{new_id()},type=1".encode()).decode().rstrip("=")
    return HostedContent(ident, str(spec.get("content_type") or "image/png"), data)


def type_message(sim: Sim, req: Request, t: str, c: str) -> tuple[int, Any]:
    """The Teams user ``from`` types ``text`` (sent as Teams sends it: HTML) or
    ``html`` in chat ``c``, optionally pasting ``image``; notifications follow."""
    body = body_of(req)
    tenant = tenant_of(sim, t)
    text, markup = body.get("text"), body.get("html")
    if (text is None) == (markup is None):
        raise ControlError(400, "give exactly one of text or html")
    content = f"<p>{html.escape(str(text))}</p>" if text is not None else str(markup)
    hosted = [_image(body["image"])] if body.get("image") is not None else []
    graph_base = req.host_url.rstrip("/") + "/v1.0"
    with tenant.lock:
        sender = user_of(tenant, str(body.get("from") or ""))
        target = _chat_of(tenant, c)
        if sender.id not in target.members:
            raise ControlError(409, f"user {sender.id} is not a member of chat {c}")
        message = chat.post_message(
            sim, tenant, target, sender.id, "html", content, hosted, graph_base=graph_base
        )
        return 201, message_view(message)


def list_chats(sim: Sim, req: Request, t: str) -> tuple[int, Any]:
    tenant = tenant_of(sim, t)
    with tenant.lock:
        return 200, {"value": [chat_view(item, tenant) for item in tenant.chats.values()]}


def list_messages(sim: Sim, req: Request, t: str, c: str) -> tuple[int, Any]:
    """A chat's messages, oldest first (the order they were written in)."""
    tenant = tenant_of(sim, t)
    with tenant.lock:
        target = _chat_of(tenant, c)
        return 200, {
            "chat": chat_view(target, tenant),
            "value": [message_view(m) for m in target.messages],
        }


_CHATS, _C = rf"/_sim/tenants/{TENANT}/chats", r"(?P<c>[^/]+)"
ROUTES: list[ControlRoute] = [
    route("GET", _CHATS, list_chats),
    route("GET", rf"{_CHATS}/{_C}/messages", list_messages),
    route("POST", rf"{_CHATS}/{_C}/messages", type_message),
]

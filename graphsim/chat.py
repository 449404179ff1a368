"""Teams chats over Graph: create a chat, send, list and read messages, the
bytes of pasted images, and the change notifications a new message fires.

Rules (docs/graph.md, "Chat"): ``POST /chats`` gives a pair of users the one
one-on-one chat they share (asking again returns it); sending needs a delegated
token (application tokens may only import, so Graph answers 401); a delegated
caller must be a member of the chat (403 otherwise); ``$top`` is at most 50 and
messages come newest first.
"""

from __future__ import annotations

import html
import re
from typing import Any

from graphsim.core.call import Call, Result
from graphsim.core.chats import GROUP, ONE_ON_ONE, Chat, HostedContent, Message, one_on_one_id
from graphsim.core.errors import GraphError, iso7, utcnow
from graphsim.core.odata import decode_token, encode_token, link
from graphsim.core.perms import Perms, require
from graphsim.core.sim import Area, GraphRoute, Sim
from graphsim.core.state import Tenant, new_id
from graphsim.subscriptions import chat_messages
from graphsim.subscriptions.notify import Delivery, encrypt_content
from graphsim.subscriptions.registry import registry

CHAT_CREATE: Perms = (("Chat.Create", "Teamwork.Migrate.All"), ("Chat.Create", "Chat.ReadWrite"))
CHAT_READ: Perms = (
    ("Chat.Read.All", "Chat.ReadWrite.All", "ChatMessage.Read.Chat"),
    ("Chat.Read", "Chat.ReadWrite"),
)
MESSAGE_SEND: Perms = ((), ("ChatMessage.Send", "Chat.ReadWrite"))
DEFAULT_PAGE, MAX_PAGE = 20, 50
_BIND = re.compile(r"/users\('?(?P<id>[^')/]+)'?\)$|/users/(?P<id2>[^/]+)$", re.IGNORECASE)
_IMPORT_ONLY = (
    "Message POST is allowed in application-only context only for import purposes. Refer to "
    "https://docs.microsoft.com/microsoftteams/platform/graph-api/import-messages/"
    "import-external-messages-to-teams for more details."
)


# --- Graph representations ------------------------------------------------------------


def chat_json(chat: Chat, tenant_id: str) -> dict[str, Any]:
    """The Graph chat resource."""
    return {
        "id": chat.id,
        "topic": chat.topic,
        "createdDateTime": iso7(chat.created),
        "lastUpdatedDateTime": iso7(chat.last_updated),
        "chatType": chat.chat_type,
        "webUrl": f"https://teams.microsoft.com/l/chat/{chat.id}/0?tenantId={tenant_id}",
        "tenantId": tenant_id,
        "onlineMeetingInfo": None,
        "viewpoint": None,
    }


def message_json(message: Message) -> dict[str, Any]:
    """The Graph chatMessage resource (also the decrypted content of a rich notification)."""
    return {
        "id": message.id,
        "replyToId": None,
        "etag": message.id,
        "messageType": "message",
        "createdDateTime": iso7(message.created),
        "lastModifiedDateTime": iso7(message.modified),
        "lastEditedDateTime": None,
        "deletedDateTime": None,
        "subject": None,
        "summary": None,
        "chatId": message.chat_id,
        "importance": "normal",
        "locale": "en-us",
        "webUrl": None,
        "channelIdentity": None,
        "policyViolation": None,
        "eventDetail": None,
        "from": {
            "application": None,
            "device": None,
            "user": {
                "@odata.type": "#microsoft.graph.teamworkUserIdentity",
                "id": message.sender_id,
                "displayName": message.sender_name,
                "userIdentityType": "aadUser",
            },
        },
        "body": {"contentType": message.content_type, "content": message.content},
        "attachments": [],
        "mentions": [],
        "reactions": [],
    }


def hosted_url(graph_base: str, chat_id: str, message_id: str, hosted_id: str) -> str:
    """Where a message body points for the bytes of a pasted image."""
    return f"{graph_base}/chats/{chat_id}/messages/{message_id}/hostedContents/{hosted_id}/$value"


# --- posting a message (Graph and the control API share it) ------------------------


def post_message(
    sim: Sim,
    tenant: Tenant,
    chat: Chat,
    sender_id: str,
    content_type: str,
    content: str,
    hosted: list[HostedContent] | None = None,
    graph_base: str = "",
) -> Message:
    """Append a message to ``chat`` (caller holds the tenant lock).

    ``hosted`` contents are stored with the message and, when given, an ``<img>``
    for each is appended to the (html) body. Side effects: the tenant is marked
    changed (saved) and every matching subscription gets a ``created`` notification.
    """
    sender = tenant.users.get(sender_id)
    now = utcnow()
    message = Message(
        id=chat.next_message_id(now),
        chat_id=chat.id,
        created=now,
        modified=now,
        sender_id=sender_id,
        sender_name=str(sender.props.get("displayName") or "") if sender else "",
        content_type=content_type,
        content=content,
    )
    for item in hosted or []:
        message.hosted[item.id] = item
        src = hosted_url(graph_base, chat.id, message.id, item.id)
        message.content += f'<p><img src="{html.escape(src)}" style="vertical-align:bottom"></p>'
    chat.messages.append(message)
    chat.last_updated = now
    tenant.changed()
    announce(sim, tenant, chat, message, "created")
    return message


def announce(sim: Sim, tenant: Tenant, chat: Chat, message: Message, change: str) -> None:
    """Queue a change notification for every live subscription that covers
    ``chat`` and asked for ``change`` (rich ones carry the encrypted message)."""
    resource = f"chats('{chat.id}')/messages('{message.id}')"
    now = utcnow()
    subs = registry(sim)
    for sub in subs.of_tenant(tenant.id):
        if sub.expiration <= now or change not in sub.change_type.split(","):
            continue
        if not chat_messages.covers(sub.resource, chat.id, chat.members):
            continue
        item: dict[str, Any] = {
            "subscriptionId": sub.id,
            "changeType": change,
            "clientState": sub.client_state,
            "subscriptionExpirationDateTime": iso7(sub.expiration),
            "resource": resource,
            "resourceData": {
                "id": message.id,
                "@odata.type": "#Microsoft.Graph.chatMessage",
                "@odata.id": resource,
            },
            "tenantId": tenant.id,
        }
        if sub.include_resource_data and sub.public_key is not None:
            item["encryptedContent"] = encrypt_content(
                sub.public_key,
                sub.certificate_id or "",
                sub.thumbprint or "",
                message_json(message),
            )
        subs.notifier.enqueue(
            Delivery(
                sub.notification_url, item, tenant.id, sub.client_id, sub.include_resource_data
            )
        )


# --- Graph handlers -------------------------------------------------------------------


def _not_member(call: Call, chat_id: str) -> GraphError:
    # What Teams answers a signed-in user outside the chat's roster.
    return GraphError(
        403,
        "Forbidden",
        "InsufficientPrivileges",
        inner={
            "code": "1",
            "message": f"AclCheckFailed-The initiator 8:orgid:{call.p.user_id} is not a member "
            f"of the roster in the generic thread {chat_id}",
        },
    )


def _chat(call: Call, chat_id: str, uid: str | None = None) -> Chat:
    """The chat addressed, checked against the caller (caller holds the tenant lock)."""
    chat = call.p.tenant.chats.get(chat_id)
    if chat is None:
        raise GraphError(404, "NotFound", f"Chat '{chat_id}' was not found.")
    member = call.p.user_id if call.p.kind == "user" else None
    if uid is not None and call.p.kind == "app":
        user = call.p.tenant.find_user(uid)
        member = user.id if user else uid
    if member is not None and member not in chat.members:
        raise _not_member(call, chat_id)
    return chat


def _member_id(call: Call, member: Any) -> str:
    if not isinstance(member, dict):
        raise GraphError(400, "BadRequest", "Each member must be a conversationMember object.")
    bind = str(member.get("user@odata.bind") or "")
    match = _BIND.search(bind)
    if not match:
        raise GraphError(
            400, "BadRequest", "Each member needs a user@odata.bind to a user of the tenant."
        )
    ident = match.group("id") or match.group("id2")
    user = call.p.tenant.find_user(ident)
    if user is None:
        raise GraphError(404, "NotFound", f"User '{ident}' was not found.")
    return user.id


def create_chat(sim: Sim, call: Call) -> Result:
    """``POST /chats``: a one-on-one chat (the pair's existing one if any) or a group chat."""
    body = call.json_object()
    require(call, CHAT_CREATE)
    chat_type = body.get("chatType")
    members = body.get("members")
    if chat_type not in (ONE_ON_ONE, GROUP):
        raise GraphError(400, "BadRequest", "The chatType must be 'oneOnOne' or 'group'.")
    if not isinstance(members, list):
        raise GraphError(400, "BadRequest", "The members are required.")
    tenant = call.p.tenant
    with tenant.lock:
        ids = list(dict.fromkeys(_member_id(call, m) for m in members))
        if chat_type == ONE_ON_ONE and (len(members) != 2 or len(ids) != 2):
            raise GraphError(
                400, "BadRequest", "A oneOnOne chat must have exactly two distinct members."
            )
        if chat_type == GROUP and len(ids) < 3:
            raise GraphError(400, "BadRequest", "A group chat needs at least three members.")
        if call.p.kind == "user" and call.p.user_id not in ids:
            raise GraphError(
                403, "Forbidden", "The signed-in user must be one of the members of the chat."
            )
        now = utcnow()
        if chat_type == ONE_ON_ONE:
            chat_id = one_on_one_id(ids[0], ids[1])
            chat = tenant.chats.get(chat_id)
        else:
            chat_id, chat = f"19:{new_id().replace('-', '')}@thread.v2", None
        if chat is None:
            topic = body.get("topic") if chat_type == GROUP else None
            chat = Chat(chat_id, chat_type, ids, now, now, topic=topic)
            tenant.chats[chat_id] = chat
            tenant.changed()
        result = chat_json(chat, tenant.id)
    context = {"@odata.context": f"{call.graph_base}/$metadata#chats/$entity"}
    return Result(201, {**context, **result})


def get_chat(sim: Sim, call: Call, cid: str, uid: str | None = None) -> Result:
    """``GET /chats/{id}``."""
    require(call, CHAT_READ)
    tenant = call.p.tenant
    with tenant.lock:
        result = chat_json(_chat(call, cid, uid), tenant.id)
    return Result(200, {"@odata.context": f"{call.graph_base}/$metadata#chats/$entity", **result})


def send_message(sim: Sim, call: Call, cid: str, uid: str | None = None) -> Result:
    """``POST /chats/{id}/messages`` as the signed-in user → 201 chatMessage."""
    if call.p.kind == "app":
        raise GraphError(401, "Unauthorized", _IMPORT_ONLY)
    body = call.json_object()
    require(call, MESSAGE_SEND)
    item = body.get("body")
    if not isinstance(item, dict) or not isinstance(item.get("content"), str):
        raise GraphError(400, "BadRequest", "The message body and its content are required.")
    content_type = str(item.get("contentType") or "text").lower()
    if content_type not in ("text", "html"):
        raise GraphError(400, "BadRequest", "The body contentType must be 'text' or 'html'.")
    tenant = call.p.tenant
    with tenant.lock:
        chat = _chat(call, cid, uid)
        assert call.p.user_id is not None
        message = post_message(
            sim, tenant, chat, call.p.user_id, content_type, item["content"],
            graph_base=call.graph_base,
        )  # fmt: skip
        result = message_json(message)
    context = f"{call.graph_base}/$metadata#chats('{cid}')/messages/$entity"
    return Result(201, {"@odata.context": context, **result})


def _top(call: Call) -> int:
    raw = call.query.get("$top")
    if raw is None:
        return DEFAULT_PAGE
    try:
        top = int(raw)
    except ValueError:
        raise GraphError(400, "BadRequest", f"Invalid $top value: '{raw}'.") from None
    if top > MAX_PAGE:
        # Graph's words for a page over the chat messages' limit.
        raise GraphError(
            400,
            "BadRequest",
            "The query specified in the URI is not valid. The limit of '50' for Top query has "
            f"been exceeded. The value from the incoming request is '{raw}'.",
        )
    if top < 1:
        raise GraphError(400, "BadRequest", f"Invalid $top value: '{raw}'.")
    return top


def list_messages(sim: Sim, call: Call, cid: str, uid: str | None = None) -> Result:
    """``GET /chats/{id}/messages``: newest first, ``$top`` ≤ 50, ``@odata.nextLink``."""
    require(call, CHAT_READ)
    top = _top(call)
    before = None
    if call.query.get("$skiptoken"):
        before = int(decode_token(call.query["$skiptoken"], "chatmessages")["before"])
    tenant = call.p.tenant
    with tenant.lock:
        chat = _chat(call, cid, uid)
        newest_first = [m for m in reversed(chat.messages) if before is None or int(m.id) < before]
        page = newest_first[:top]
        value = [message_json(m) for m in page]
    body: dict[str, Any] = {
        "@odata.context": f"{call.graph_base}/$metadata#chats('{cid}')/messages",
        "@odata.count": len(value),
    }
    if len(newest_first) > top:
        token = encode_token({"k": "chatmessages", "before": page[-1].id})
        path = call.path
        body["@odata.nextLink"] = link(
            call.graph_base, path, {"$top": str(top), "$skiptoken": token}
        )
    body["value"] = value
    return Result(200, body)


def _message(call: Call, cid: str, mid: str, uid: str | None) -> Message:
    message = _chat(call, cid, uid).message(mid)
    if message is None:
        raise GraphError(404, "NotFound", f"Message '{mid}' was not found.")
    return message


def get_message(sim: Sim, call: Call, cid: str, mid: str, uid: str | None = None) -> Result:
    """``GET /chats/{id}/messages/{id}``."""
    require(call, CHAT_READ)
    tenant = call.p.tenant
    with tenant.lock:
        result = message_json(_message(call, cid, mid, uid))
    context = f"{call.graph_base}/$metadata#chats('{cid}')/messages/$entity"
    return Result(200, {"@odata.context": context, **result})


def _hosted(call: Call, cid: str, mid: str, hid: str, uid: str | None) -> HostedContent:
    require(call, CHAT_READ)
    hosted = _message(call, cid, mid, uid).hosted.get(hid)
    if hosted is None:
        raise GraphError(404, "NotFound", f"Hosted content '{hid}' was not found.")
    return hosted


def get_hosted_content(
    sim: Sim, call: Call, cid: str, mid: str, hid: str, uid: str | None = None
) -> Result:
    """``GET …/messages/{id}/hostedContents/{id}``: the metadata (bytes via ``$value``)."""
    with call.p.tenant.lock:
        hosted = _hosted(call, cid, mid, hid, uid)
    context = f"{call.graph_base}/$metadata#chats('{cid}')/messages('{mid}')/hostedContents"
    return Result(
        200,
        {"@odata.context": f"{context}/$entity", "id": hosted.id, "contentBytes": None,
         "contentType": None},
    )  # fmt: skip


def hosted_content_value(
    sim: Sim, call: Call, cid: str, mid: str, hid: str, uid: str | None = None
) -> Result:
    """``GET …/hostedContents/{id}/$value``: the bytes, with their Content-Type."""
    with call.p.tenant.lock:
        hosted = _hosted(call, cid, mid, hid, uid)
    return Result(200, hosted.data, {"Content-Type": hosted.content_type})


_CHATS = r"(?:/me|/users/(?P<uid>[^/]+))?/chats/(?P<cid>[^/]+)"
ROUTES: list[GraphRoute] = [
    ("POST", r"/chats", create_chat),
    ("GET", _CHATS, get_chat),
    ("GET", _CHATS + r"/messages", list_messages),
    ("POST", _CHATS + r"/messages", send_message),
    ("GET", _CHATS + r"/messages/(?P<mid>[^/]+)", get_message),
    ("GET", _CHATS + r"/messages/(?P<mid>[^/]+)/hostedContents/(?P<hid>[^/]+)", get_hosted_content),
    (
        "GET",
        _CHATS + r"/messages/(?P<mid>[^/]+)/hostedContents/(?P<hid>[^/]+)/\$value",
        hosted_content_value,
    ),
]

AREA = Area("chat", routes=ROUTES)

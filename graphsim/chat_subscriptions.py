"""Subscriptions to Teams chat messages (docs/graph.md, "Chat").

Resources: ``/chats/{id}/messages`` (one chat; delegated as a member, or
application), ``/chats/getAllMessages`` (every chat of the tenant) and
``/users/{id}/chats/getAllMessages`` (every chat that user is in), both
application only. changeType is any of created, updated, deleted; at most
4,320 minutes, and beyond 60 minutes only with a lifecycleNotificationUrl; one
subscription per resource per app.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from graphsim.call import Call, Result
from graphsim.errors import GraphError, parse_iso, utcnow
from graphsim.notify import load_encryption_certificate, validate_endpoint
from graphsim.perms import Perms, require
from graphsim.state import new_id
from graphsim.subscriptions import Subscription, _check_url, _conflict

if TYPE_CHECKING:
    from graphsim.sim import Sim

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


def _change_type(value: Any) -> str:
    parts = [p.strip() for p in value.split(",")] if isinstance(value, str) else []
    if not parts or not all(p in CHANGE_TYPES for p in parts):
        raise GraphError(
            400,
            "InvalidRequest",
            "Chat message subscriptions support changeType created, updated and deleted.",
        )
    return ",".join(dict.fromkeys(parts))


def _check_scope(call: Call, kind: str, ident: str | None) -> None:
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


def create(sim: Sim, call: Call, body: dict[str, Any], resource: str) -> Result:
    """``POST /subscriptions`` for a chat message resource → 201 after the handshakes."""
    principal = call.p
    parsed = parse(resource)
    assert parsed is not None
    _check_scope(call, *parsed)
    change_type = _change_type(body.get("changeType"))
    notification_url = _check_url(body.get("notificationUrl"), "notificationUrl")
    lifecycle_url = body.get("lifecycleNotificationUrl")
    if lifecycle_url is not None:
        lifecycle_url = _check_url(lifecycle_url, "lifecycleNotificationUrl")
    expiration = check_expiration(body.get("expirationDateTime"), lifecycle_url, "Create")
    client_state = body.get("clientState")
    if client_state is not None and (not isinstance(client_state, str) or len(client_state) > 128):
        raise GraphError(400, "InvalidRequest", "The clientState must be at most 128 characters.")
    rich = bool(body.get("includeResourceData"))
    certificate, certificate_id = (
        body.get("encryptionCertificate"),
        body.get("encryptionCertificateId"),
    )
    public_key = thumbprint = None
    if rich:
        if not certificate or not certificate_id:
            raise GraphError(
                400,
                "InvalidRequest",
                "encryptionCertificate and encryptionCertificateId are required when "
                "includeResourceData is true.",
            )
        if not isinstance(certificate_id, str) or len(certificate_id) > 128:
            raise GraphError(400, "InvalidRequest", "The encryptionCertificateId is too long.")
        public_key, thumbprint = load_encryption_certificate(certificate)
    key = parsed

    def duplicate() -> bool:
        return any(
            s.client_id == principal.client_id and parse(s.resource) == key
            for s in sim.registry.of_tenant(principal.tenant.id)
        )

    if duplicate():
        raise _conflict()
    # The handshakes run outside every lock: the receiver may call us back.
    validate_endpoint(notification_url)
    if lifecycle_url:
        validate_endpoint(lifecycle_url)
    sub = Subscription(
        id=new_id(),
        tenant_id=principal.tenant.id,
        client_id=principal.client_id,
        creator_id=principal.creator_id,
        delegated_user=principal.user_id,
        resource=resource,
        user_ids=frozenset(),
        change_type=change_type,
        notification_url=notification_url,
        lifecycle_url=lifecycle_url,
        expiration=expiration,
        client_state=client_state,
        include_resource_data=rich,
        certificate=certificate if rich else None,
        certificate_id=certificate_id if rich else None,
        public_key=public_key,
        thumbprint=thumbprint,
    )
    with sim.registry.lock:
        if duplicate():
            raise _conflict()
        sim.registry.add(sub)
    return Result(201, sub.graph(call.graph_base, with_client_state=True))

"""The Graph ``/subscriptions`` endpoints (the subscriptions themselves are kept
in graphsim.subscriptions.registry).

Presence rules (docs/graph.md): delegated tokens only, resource
``/communications/presences/{id}`` or ``…?$filter=id in (…)`` (≤ 650 ids),
changeType ``updated``, at most 60 minutes, one per user per app (409),
includeResourceData needs an encryption certificate; notification URLs are
validated by a handshake. Chat message resources: the rules in
graphsim.subscriptions.chat_messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from graphsim.core.call import Call, Result
from graphsim.core.errors import GraphError, parse_iso, utcnow
from graphsim.core.perms import Perms, require
from graphsim.core.sim import Area, Sim
from graphsim.core.state import is_guid, new_id
from graphsim.subscriptions import chat_messages
from graphsim.subscriptions.notify import (
    is_loopback,
    load_encryption_certificate,
    validate_endpoint,
)
from graphsim.subscriptions.registry import (
    Registry,
    Subscription,
    drop_expired,
    registry,
    tenant_removed,
    user_disabled,
    user_removed,
)

# Presence subscriptions are delegated-only (docs/graph.md).
PRESENCE_SUBSCRIBE: Perms = ((), ("Presence.Read.All", "Presence.ReadWrite.All"))
PRESENCE_MAX_LIFETIME = timedelta(minutes=60)
MAX_PRESENCE_IDS = 650
_ONE = re.compile(r"^/?communications/presences/(?P<id>[^/?]+)$", re.IGNORECASE)
_MANY = re.compile(
    r"^/?communications/presences\?\$filter=id\s+in\s*\((?P<ids>.*)\)$", re.IGNORECASE
)


def parse_presence_resource(resource: str) -> frozenset[str]:
    """The user ids a presence resource names; raises GraphError 400 otherwise."""
    one, many = _ONE.match(resource), _MANY.match(resource)
    if one:
        ids = [one.group("id").strip("'")]
    elif many:
        ids = [p.strip().strip("'") for p in many.group("ids").split(",") if p.strip()]
    else:
        raise GraphError(400, "InvalidRequest", f"Resource '{resource}' is not supported.")
    if not ids or len(ids) > MAX_PRESENCE_IDS:
        raise GraphError(
            400,
            "InvalidRequest",
            f"A presence subscription can watch between 1 and {MAX_PRESENCE_IDS} users.",
        )
    if not all(is_guid(i) for i in ids):
        raise GraphError(400, "InvalidRequest", "Presence resources must name users by id.")
    return frozenset(i.lower() for i in ids)


def _check_url(value: Any, name: str) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://", value, re.IGNORECASE):
        raise GraphError(400, "InvalidRequest", f"The {name} must be an absolute URL.")
    # Documented deviation: plain http is accepted for loopback receivers only.
    if value.lower().startswith("http://") and not is_loopback(value):
        raise GraphError(400, "InvalidRequest", f"The {name} must use HTTPS.")
    return value


def _check_expiration(value: Any) -> datetime:
    expiration = parse_iso(value)
    if expiration is None:
        raise GraphError(400, "InvalidRequest", "The expirationDateTime is not valid.")
    now = utcnow()
    if expiration <= now:
        raise GraphError(400, "InvalidRequest", "Subscription expiration must be in the future.")
    if expiration > now + PRESENCE_MAX_LIFETIME:
        raise GraphError(
            400, "InvalidRequest", "Subscription expiration can only be 60 minutes in the future."
        )
    return expiration


def _conflict() -> GraphError:
    # Graph's own wording for a second presence subscription of the same user and app.
    return GraphError(
        409,
        "ExtensionError",
        "Operation: Create; Exception: [Status Code: Conflict; Reason: A subscripton already "
        "exists. It must be deleted before a another can be made.]",
    )


def _app_only_refused(operation: str) -> GraphError:
    # Presence subscriptions are delegated only; the subscription service refuses an
    # app-only token in its ExtensionError shape, as Microsoft's samples have seen it.
    return GraphError(
        403,
        "ExtensionError",
        f"Operation: {operation}; Exception: [Status Code: Forbidden; Reason: The request is "
        "not authorized for this user or application.]",
    )


@dataclass(frozen=True)
class _Delivery:
    """How notifications are to be delivered: clientState and, for rich ones, the
    encryption certificate (its public key and thumbprint)."""

    client_state: str | None
    rich: bool
    certificate: str | None = None
    certificate_id: str | None = None
    public_key: rsa.RSAPublicKey | None = None
    thumbprint: str | None = None


def _delivery_of(body: dict[str, Any]) -> _Delivery:
    """clientState (≤ 128 characters) and, with includeResourceData, the encryption
    certificate, checked as Graph checks them for every resource; GraphError 400 if not."""
    client_state = body.get("clientState")
    if client_state is not None and (not isinstance(client_state, str) or len(client_state) > 128):
        raise GraphError(400, "InvalidRequest", "The clientState must be at most 128 characters.")
    if not body.get("includeResourceData"):
        return _Delivery(client_state, rich=False)
    certificate, certificate_id = (
        body.get("encryptionCertificate"),
        body.get("encryptionCertificateId"),
    )
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
    return _Delivery(client_state, True, certificate, certificate_id, public_key, thumbprint)


def _register(
    sim: Sim,
    call: Call,
    *,
    resource: str,
    user_ids: frozenset[str],
    change_type: str,
    endpoints: tuple[str, str | None],
    expiration: datetime,
    delivery: _Delivery,
    duplicate: Callable[[], bool],
) -> Result:
    """Validate the notification (and lifecycle) URL, then keep the subscription unless
    ``duplicate()`` says the app already has one on that resource (409) → 201."""
    principal = call.p
    notification_url, lifecycle_url = endpoints
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
        user_ids=user_ids,
        change_type=change_type,
        notification_url=notification_url,
        lifecycle_url=lifecycle_url,
        expiration=expiration,
        client_state=delivery.client_state,
        include_resource_data=delivery.rich,
        certificate=delivery.certificate,
        certificate_id=delivery.certificate_id,
        public_key=delivery.public_key,
        thumbprint=delivery.thumbprint,
    )
    with registry(sim).lock:
        if duplicate():
            raise _conflict()
        registry(sim).add(sub)
    return Result(201, sub.graph(call.graph_base, with_client_state=True))


def create(sim: Sim, call: Call) -> Result:
    """``POST /subscriptions`` → 201 after the validation handshake(s)."""
    body = call.json_object()
    principal = call.p
    resource = body.get("resource")
    if not isinstance(resource, str) or not resource:
        raise GraphError(400, "InvalidRequest", "The resource is required.")
    if chat_messages.is_chat_resource(resource):
        return _create_chat(sim, call, body, resource)
    user_ids = parse_presence_resource(resource)
    if principal.kind == "app":
        raise _app_only_refused("Create")
    require(call, PRESENCE_SUBSCRIBE)
    if body.get("changeType") != "updated":
        raise GraphError(
            400, "InvalidRequest", "Presence subscriptions support changeType 'updated'."
        )
    notification_url = _check_url(body.get("notificationUrl"), "notificationUrl")
    lifecycle_url = body.get("lifecycleNotificationUrl")
    if lifecycle_url is not None:
        lifecycle_url = _check_url(lifecycle_url, "lifecycleNotificationUrl")
    expiration = _check_expiration(body.get("expirationDateTime"))
    delivery = _delivery_of(body)

    def duplicate() -> bool:
        return any(
            s.client_id == principal.client_id
            and s.delegated_user == principal.user_id
            and not chat_messages.is_chat_resource(s.resource)
            for s in registry(sim).of_tenant(principal.tenant.id)
        )

    return _register(
        sim,
        call,
        resource=resource,
        user_ids=user_ids,
        change_type="updated",
        endpoints=(notification_url, lifecycle_url),
        expiration=expiration,
        delivery=delivery,
        duplicate=duplicate,
    )


def _create_chat(sim: Sim, call: Call, body: dict[str, Any], resource: str) -> Result:
    """``POST /subscriptions`` for a chat message resource → 201 after the handshakes."""
    principal = call.p
    parsed = chat_messages.parse(resource)
    assert parsed is not None
    chat_messages.check_scope(call, *parsed)
    change_type = chat_messages.change_type(body.get("changeType"))
    notification_url = _check_url(body.get("notificationUrl"), "notificationUrl")
    lifecycle_url = body.get("lifecycleNotificationUrl")
    if lifecycle_url is not None:
        lifecycle_url = _check_url(lifecycle_url, "lifecycleNotificationUrl")
    expiration = chat_messages.check_expiration(
        body.get("expirationDateTime"), lifecycle_url, "Create"
    )
    delivery = _delivery_of(body)
    key = parsed

    def duplicate() -> bool:
        return any(
            s.client_id == principal.client_id and chat_messages.parse(s.resource) == key
            for s in registry(sim).of_tenant(principal.tenant.id)
        )

    return _register(
        sim,
        call,
        resource=resource,
        user_ids=frozenset(),
        change_type=change_type,
        endpoints=(notification_url, lifecycle_url),
        expiration=expiration,
        delivery=delivery,
        duplicate=duplicate,
    )


def _visible(sim: Sim, call: Call) -> list[Subscription]:
    """Delegated callers see the app's subscriptions for themselves; app-only
    callers see every subscription of the app in the tenant."""
    now = utcnow()
    return [
        s
        for s in registry(sim).of_tenant(call.p.tenant.id)
        if s.client_id == call.p.client_id
        and s.expiration > now
        and (call.p.kind == "app" or s.delegated_user == call.p.user_id)
    ]


def _find(sim: Sim, call: Call, sub_id: str) -> Subscription:
    for sub in _visible(sim, call):
        if sub.id == sub_id.lower():
            return sub
    raise GraphError(404, "ResourceNotFound", f"The object was not found: Subscription '{sub_id}'.")


def list_all(sim: Sim, call: Call) -> Result:
    """``GET /subscriptions``: the caller app's own; clientState is never returned."""
    value = [s.graph(call.graph_base) for s in _visible(sim, call)]
    for item in value:
        item.pop("@odata.context")
    return Result(
        200, {"@odata.context": f"{call.graph_base}/$metadata#subscriptions", "value": value}
    )


def get_one(sim: Sim, call: Call, sid: str) -> Result:
    """``GET /subscriptions/{id}``."""
    return Result(200, _find(sim, call, sid).graph(call.graph_base))


def update(sim: Sim, call: Call, sid: str) -> Result:
    """``PATCH /subscriptions/{id}``: renew (expirationDateTime ≤ 60 min, chat
    messages 4,320) or change the notification URL / encryption certificate."""
    sub = _find(sim, call, sid)
    body = call.json_object()
    if sub.delegated_user is not None and call.p.kind == "app":
        raise _app_only_refused("Update")
    if "expirationDateTime" not in body:
        expiration = None
    elif chat_messages.is_chat_resource(sub.resource):
        expiration = chat_messages.check_expiration(
            body["expirationDateTime"], sub.lifecycle_url, "Update"
        )
    else:
        expiration = _check_expiration(body["expirationDateTime"])
    url = (
        _check_url(body["notificationUrl"], "notificationUrl")
        if "notificationUrl" in body
        else None
    )
    if url:
        validate_endpoint(url)
    key_and_thumb = None
    if body.get("encryptionCertificate"):
        key_and_thumb = load_encryption_certificate(body["encryptionCertificate"])
    with registry(sim).lock:
        if expiration:
            sub.expiration = expiration
        if url:
            sub.notification_url = url
        if key_and_thumb:
            sub.public_key, sub.thumbprint = key_and_thumb
            sub.certificate = body["encryptionCertificate"]
            sub.certificate_id = body.get("encryptionCertificateId") or sub.certificate_id
    return Result(200, sub.graph(call.graph_base))


def delete(sim: Sim, call: Call, sid: str) -> Result:
    """``DELETE /subscriptions/{id}`` → 204."""
    sub = _find(sim, call, sid)
    registry(sim).remove(sub.id)
    return Result(204)


def reauthorize(sim: Sim, call: Call, sid: str) -> Result:
    """``POST /subscriptions/{id}/reauthorize`` → 204 (answers reauthorizationRequired)."""
    _find(sim, call, sid)
    return Result(204)


AREA = Area(
    "subscriptions",
    routes=[
        ("GET", r"/subscriptions", list_all),
        ("POST", r"/subscriptions", create),
        ("GET", r"/subscriptions/(?P<sid>[^/]+)", get_one),
        ("PATCH", r"/subscriptions/(?P<sid>[^/]+)", update),
        ("DELETE", r"/subscriptions/(?P<sid>[^/]+)", delete),
        ("POST", r"/subscriptions/(?P<sid>[^/]+)/reauthorize", reauthorize),
    ],
    services=[Registry],
    chores=[drop_expired],
    user_removed=[user_removed],
    user_disabled=[user_disabled],
    tenant_removed=[tenant_removed],
)

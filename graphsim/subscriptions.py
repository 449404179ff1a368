"""Change notification subscriptions: the registry and the Graph endpoints.

Presence rules (docs/graph.md): delegated tokens only, resource
``/communications/presences/{id}`` or ``…?$filter=id in (…)`` (≤ 650 ids),
changeType ``updated``, at most 60 minutes, one per user per app (409),
includeResourceData needs an encryption certificate; notification URLs are
validated by a handshake. Chat message subscriptions: graphsim.chat_subscriptions.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import rsa

from graphsim.call import Call, Result
from graphsim.errors import GraphError, iso7, parse_iso, utcnow
from graphsim.notify import is_loopback, load_encryption_certificate, validate_endpoint
from graphsim.perms import PRESENCE_SUBSCRIBE, require
from graphsim.state import is_guid, new_id

if TYPE_CHECKING:
    from graphsim.sim import Sim

PRESENCE_MAX_LIFETIME = timedelta(minutes=60)
MAX_PRESENCE_IDS = 650
_ONE = re.compile(r"^/?communications/presences/(?P<id>[^/?]+)$", re.IGNORECASE)
_MANY = re.compile(
    r"^/?communications/presences\?\$filter=id\s+in\s*\((?P<ids>.*)\)$", re.IGNORECASE
)


@dataclass
class Subscription:
    """One subscription. ``user_ids`` are the watched users."""

    id: str
    tenant_id: str
    client_id: str
    creator_id: str
    delegated_user: str | None
    resource: str
    user_ids: frozenset[str]
    change_type: str
    notification_url: str
    lifecycle_url: str | None
    expiration: datetime
    client_state: str | None
    include_resource_data: bool
    certificate: str | None
    certificate_id: str | None
    public_key: rsa.RSAPublicKey | None
    thumbprint: str | None

    def graph(self, base: str, with_client_state: bool = False) -> dict[str, Any]:
        """The Graph representation; ``clientState`` only when asked (never on GET)."""
        return {
            "@odata.context": f"{base}/$metadata#subscriptions/$entity",
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.client_id,
            "changeType": self.change_type,
            "clientState": self.client_state if with_client_state else None,
            "notificationUrl": self.notification_url,
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": iso7(self.expiration),
            "creatorId": self.creator_id,
            "includeResourceData": self.include_resource_data,
            "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": self.certificate,
            "encryptionCertificateId": self.certificate_id,
            "notificationUrlAppId": None,
        }


class Registry:
    """All subscriptions, across tenants, behind one lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.subs: dict[str, Subscription] = {}

    def get(self, sub_id: str) -> Subscription | None:
        with self.lock:
            return self.subs.get(sub_id.lower())

    def add(self, sub: Subscription) -> None:
        with self.lock:
            self.subs[sub.id] = sub

    def remove(self, sub_id: str) -> Subscription | None:
        with self.lock:
            return self.subs.pop(sub_id.lower(), None)

    def of_tenant(self, tenant_id: str) -> list[Subscription]:
        with self.lock:
            return [s for s in self.subs.values() if s.tenant_id == tenant_id]

    def watching(self, tenant_id: str, user_id: str) -> list[Subscription]:
        """Live subscriptions of ``tenant_id`` that watch ``user_id``."""
        now = utcnow()
        with self.lock:
            return [
                s
                for s in self.subs.values()
                if s.tenant_id == tenant_id and user_id in s.user_ids and s.expiration > now
            ]

    def drop_expired(self) -> list[Subscription]:
        """Remove and return subscriptions past their expirationDateTime."""
        now = utcnow()
        with self.lock:
            gone = [s for s in self.subs.values() if s.expiration <= now]
            for sub in gone:
                del self.subs[sub.id]
            return gone


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


def create(sim: Sim, call: Call) -> Result:
    """``POST /subscriptions`` → 201 after the validation handshake(s)."""
    body = call.json_object()
    principal = call.p
    resource = body.get("resource")
    if not isinstance(resource, str) or not resource:
        raise GraphError(400, "InvalidRequest", "The resource is required.")
    # Imported here: the chat message rules build on this module.
    from graphsim import chat_subscriptions

    if chat_subscriptions.is_chat_resource(resource):
        return chat_subscriptions.create(sim, call, body, resource)
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

    def duplicate() -> bool:
        return any(
            s.client_id == principal.client_id
            and s.delegated_user == principal.user_id
            and not chat_subscriptions.is_chat_resource(s.resource)
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
        user_ids=user_ids,
        change_type="updated",
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


def _visible(sim: Sim, call: Call) -> list[Subscription]:
    """Delegated callers see the app's subscriptions for themselves; app-only
    callers see every subscription of the app in the tenant."""
    now = utcnow()
    return [
        s
        for s in sim.registry.of_tenant(call.p.tenant.id)
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
    """``PATCH /subscriptions/{id}``: renew (expirationDateTime ≤ 60 min, chat messages
    4,320) or change
    the notification URL / encryption certificate."""
    sub = _find(sim, call, sid)
    body = call.json_object()
    if sub.delegated_user is not None and call.p.kind == "app":
        raise _app_only_refused("Update")
    from graphsim import chat_subscriptions

    if "expirationDateTime" not in body:
        expiration = None
    elif chat_subscriptions.is_chat_resource(sub.resource):
        expiration = chat_subscriptions.check_expiration(
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
    with sim.registry.lock:
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
    sim.registry.remove(sub.id)
    return Result(204)


def reauthorize(sim: Sim, call: Call, sid: str) -> Result:
    """``POST /subscriptions/{id}/reauthorize`` → 204 (answers reauthorizationRequired)."""
    _find(sim, call, sid)
    return Result(204)

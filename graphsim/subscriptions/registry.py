"""The subscription registry: every subscription across tenants, its
lifecycle events, the background delivery of notifications, and what happens
to subscriptions when users or tenants go away."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from graphsim.core.errors import iso7, utcnow
from graphsim.core.sim import Service, Sim
from graphsim.core.state import Tenant
from graphsim.identity.tokens import validation_token
from graphsim.subscriptions.notify import Delivery, Notifier

LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")


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


class Registry(Service):
    """All subscriptions, across tenants, behind one lock, and the thread that
    delivers their notifications."""

    def __init__(self, sim: Sim) -> None:
        self.lock = threading.RLock()
        self.subs: dict[str, Subscription] = {}
        self.notifier = Notifier(lambda tid, cid: validation_token(sim.key, tid, cid))

    def start(self) -> None:
        """Start the notification thread."""
        self.notifier.start()

    def stop(self) -> None:
        """Stop the notification thread."""
        self.notifier.stop()

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

    def lifecycle(self, sub: Subscription, event: str) -> bool:
        """Send a lifecycle event for ``sub`` (``subscriptionRemoved`` also removes
        it). Returns False when the subscription has no lifecycle URL."""
        if event == "subscriptionRemoved":
            self.remove(sub.id)
        if not sub.lifecycle_url:
            return False
        item = {
            "subscriptionId": sub.id,
            "subscriptionExpirationDateTime": iso7(sub.expiration),
            "tenantId": sub.tenant_id,
            "clientState": sub.client_state,
            "lifecycleEvent": event,
        }
        self.notifier.enqueue(
            Delivery(sub.lifecycle_url, item, sub.tenant_id, sub.client_id, False)
        )
        return True


def registry(sim: Sim) -> Registry:
    """The simulator's subscription registry."""
    return sim.service(Registry)


def drop_expired(sim: Sim) -> None:
    """Housekeeping: forget subscriptions past their expirationDateTime."""
    registry(sim).drop_expired()


def user_removed(sim: Sim, tenant: Tenant, user_id: str) -> None:
    """Subscriptions watching only a removed user, or created by them, are removed
    with ``subscriptionRemoved``; the others stop watching the user."""
    subs = registry(sim)
    for sub in subs.of_tenant(tenant.id):
        if sub.delegated_user == user_id or sub.user_ids == frozenset({user_id}):
            subs.lifecycle(sub, "subscriptionRemoved")
        elif user_id in sub.user_ids:
            sub.user_ids = sub.user_ids - {user_id}


def user_disabled(sim: Sim, tenant: Tenant, user_id: str) -> None:
    """A disabled account loses the subscriptions it created."""
    subs = registry(sim)
    for sub in subs.of_tenant(tenant.id):
        if sub.delegated_user == user_id:
            subs.lifecycle(sub, "subscriptionRemoved")


def tenant_removed(sim: Sim, tenant: Tenant) -> None:
    """A tenant going away takes its subscriptions with it (no lifecycle events)."""
    subs = registry(sim)
    for sub in subs.of_tenant(tenant.id):
        subs.remove(sub.id)

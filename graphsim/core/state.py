"""In-memory state: tenants, apps, users, groups, presence records and chats
(the directory and the chats are also kept on disk by graphsim.core.persist).

Every tenant carries its own re-entrant lock; handlers hold it while they read
or change that tenant, so tenants never contend with each other. The store's
own lock guards only the tenant registry, refresh tokens and subscriptions.
"""

from __future__ import annotations

import bisect
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from graphsim.core.chats import Chat

GUID_RE = re.compile(r"^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$", re.IGNORECASE)
DNS_RE = re.compile(
    r"^(?=.{4,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$"
)


def is_guid(value: str) -> bool:
    """True when ``value`` is a GUID in its usual 8-4-4-4-12 form."""
    return bool(GUID_RE.match(value))


@dataclass
class Secret:
    """A client secret (password credential) of an app registration."""

    key_id: str
    value: str
    display_name: str
    start: datetime
    end: datetime

    def graph(self) -> dict[str, Any]:
        from graphsim.core.errors import iso

        return {
            "customKeyIdentifier": None,
            "displayName": self.display_name,
            "endDateTime": iso(self.end),
            "hint": self.value[:3],
            "keyId": self.key_id,
            "secretText": None,
            "startDateTime": iso(self.start),
        }


@dataclass
class App:
    """An app registration plus its service principal and consent in one tenant."""

    client_id: str
    object_id: str
    sp_object_id: str
    display_name: str
    permissions: list[str]
    delegated: list[str]
    secrets: list[Secret] = field(default_factory=list)
    # The registration's own settings that setup checks read.
    sign_in_audience: str = "AzureADMyOrg"
    redirect_uris: list[str] = field(default_factory=list)


@dataclass
class User:
    """A directory user: Graph properties in ``props`` plus sign-in settings."""

    id: str
    props: dict[str, Any]
    password: str | None = None
    force_change: bool = False
    mfa_required: bool = False
    version: int = 0
    # Display names of the directory roles the user holds (graphsim.directory_roles).
    roles: list[str] = field(default_factory=list)

    @property
    def upn(self) -> str:
        return str(self.props.get("userPrincipalName", ""))


@dataclass
class Tombstone:
    """A user removed from the directory, kept for delta queries."""

    id: str
    version: int
    reason: str  # "changed" (soft delete) or "deleted" (permanent)


@dataclass
class Group:
    """A security group; only its members matter here."""

    id: str
    display_name: str
    members: list[str] = field(default_factory=list)


@dataclass
class Session:
    """One presence session (a Teams client, or an app's setPresence)."""

    availability: str
    activity: str
    expires_at: datetime | None
    set_at: datetime


@dataclass
class PresenceRecord:
    """A user's presence inputs and the aggregated value readers see."""

    sessions: dict[str, Session] = field(default_factory=dict)
    preferred: Session | None = None
    availability: str = "Offline"
    activity: str = "Offline"
    sequence: int = 0


class Tenant:
    """One directory. Hold ``lock`` while reading or changing it."""

    def __init__(self, tenant_id: str, name: str, domain: str) -> None:
        self.id = tenant_id
        self.name = name
        self.domain = domain.lower()
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.upn_index: dict[str, str] = {}
        self.apps: dict[str, App] = {}
        self.groups: dict[str, Group] = {}
        self.tombstones: list[Tombstone] = []
        self.presence: dict[str, PresenceRecord] = {}
        self.chats: dict[str, Chat] = {}
        # Security defaults make every password sign-in demand MFA (AADSTS50076).
        self.security_defaults = False
        self.version = 0
        self.presence_sequence = 0
        # Advanced by every change worth keeping across a restart (not presence).
        self.revision = 0
        self._sorted_ids: list[str] | None = None

    def changed(self) -> None:
        """Note a change to users, apps, secrets or groups, so it gets saved."""
        self.revision += 1

    # --- users -------------------------------------------------------------------

    def next_version(self) -> int:
        """Advance the directory's change counter (for delta) and return it."""
        self.changed()
        self.version += 1
        return self.version

    def add_user(self, user: User) -> None:
        """Insert ``user``; side effect: bumps the directory version."""
        user.version = self.next_version()
        self.users[user.id] = user
        self.upn_index[user.upn.lower()] = user.id
        self._sorted_ids = None

    def touch_user(self, user: User, old_upn: str | None = None) -> None:
        """Record that ``user`` changed (for delta) and keep the UPN index right."""
        user.version = self.next_version()
        if old_upn is not None and old_upn.lower() != user.upn.lower():
            self.upn_index.pop(old_upn.lower(), None)
            self.upn_index[user.upn.lower()] = user.id

    def remove_user(self, user_id: str, reason: str) -> User | None:
        """Delete a user, leaving a tombstone with ``reason`` for delta."""
        user = self.users.pop(user_id, None)
        if user is None:
            return None
        self.upn_index.pop(user.upn.lower(), None)
        self.tombstones.append(Tombstone(user_id, self.next_version(), reason))
        self.presence.pop(user_id, None)
        for group in self.groups.values():
            if user_id in group.members:
                group.members.remove(user_id)
        self._sorted_ids = None
        return user

    def find_user(self, id_or_upn: str) -> User | None:
        """Look a user up by object id or by userPrincipalName (case-insensitive)."""
        user = self.users.get(id_or_upn.lower()) or self.users.get(id_or_upn)
        if user:
            return user
        user_id = self.upn_index.get(id_or_upn.lower())
        return self.users.get(user_id) if user_id else None

    def sorted_ids(self) -> list[str]:
        """User ids in a stable order, for keyset paging (cached until a change)."""
        if self._sorted_ids is None:
            self._sorted_ids = sorted(self.users)
        return self._sorted_ids

    def ids_after(self, after: str | None) -> list[str]:
        """The sorted user ids strictly after ``after`` (all when None)."""
        ids = self.sorted_ids()
        start = bisect.bisect_right(ids, after) if after else 0
        return ids[start:]

    # --- apps --------------------------------------------------------------------

    def app_by_object_id(self, object_id: str) -> App | None:
        """Find an app registration by its object id."""
        for app in self.apps.values():
            if app.object_id == object_id.lower():
                return app
        return None


class Store:
    """The whole simulator state: tenants plus cross-tenant registries."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tenants: dict[str, Tenant] = {}
        self.domains: dict[str, str] = {}
        self.refresh_tokens: dict[str, dict[str, Any]] = {}

    def add_tenant(self, tenant: Tenant) -> None:
        """Register a tenant under its id and its domain."""
        with self.lock:
            self.tenants[tenant.id] = tenant
            self.domains[tenant.domain] = tenant.id

    def remove_tenant(self, tenant: Tenant) -> None:
        """Forget a tenant entirely."""
        with self.lock:
            self.tenants.pop(tenant.id, None)
            self.domains.pop(tenant.domain, None)

    def tenant(self, ident: str) -> Tenant | None:
        """Look a tenant up by GUID or by domain name (case-insensitive)."""
        key = ident.lower()
        with self.lock:
            if key in self.tenants:
                return self.tenants[key]
            tenant_id = self.domains.get(key)
            return self.tenants.get(tenant_id) if tenant_id else None

    def all_tenants(self) -> list[Tenant]:
        """A snapshot list of the tenants."""
        with self.lock:
            return list(self.tenants.values())


def new_id() -> str:
    """A fresh random GUID string."""
    return str(uuid.uuid4())

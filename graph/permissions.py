"""Which Graph permissions each console feature needs, and a check of a
token's ``roles`` against them. Pure: no I/O.

The table is docs/graph.md, "Permissions ccbridge uses". Each feature needs every
one of its ``requires`` groups, and a group is satisfied by any one of its
permissions (the first is the one to ask for). Only application permissions
can be checked from an app token; delegated-only features are reported as
needing a system user, not as missing roles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import quote, urlencode


@dataclass(frozen=True)
class Feature:
    """A console feature and the application permissions behind it."""

    key: str
    name: str
    requires: tuple[tuple[str, ...], ...]
    optional: bool
    disables: str
    delegated: tuple[str, ...] = ()

    @property
    def delegated_only(self) -> bool:
        """True when Graph offers no application permission for it."""
        return not self.requires

    @property
    def permissions(self) -> tuple[str, ...]:
        """Every application permission named for this feature, in table order."""
        return tuple(p for group in self.requires for p in group)


FEATURES: tuple[Feature, ...] = (
    Feature(
        "directory",
        "Directory",
        (("User.Read.All", "Directory.Read.All"),),
        optional=False,
        disables="Without it the console cannot read Teams users, so it cannot sync the "
        "directory or map agents.",
    ),
    Feature(
        "agent_teams",
        "Agent teams from groups",
        (("GroupMember.Read.All", "Group.Read.All"),),
        optional=True,
        disables="Without it agent teams cannot be filled from Entra groups; build them by "
        "hand instead.",
    ),
    Feature(
        "create_system_users",
        "Create system users",
        (("User.ReadWrite.All", "User.Create"),),
        optional=True,
        disables="Without it the console cannot create system users in Entra ID; create them "
        "yourself and enter their credentials.",
    ),
    Feature(
        "secret_expiry",
        "Client secret expiry",
        (("Application.Read.All",),),
        optional=True,
        disables="Without it the console cannot read when the client secret expires; enter "
        "the date by hand.",
    ),
    Feature(
        "read_presence",
        "Read presence",
        (("Presence.Read.All", "Presence.ReadWrite.All"),),
        optional=False,
        disables="Without it the console cannot read Teams presence to reconcile agents after "
        "outages.",
    ),
    Feature(
        "set_presence",
        "Set presence",
        (("Presence.ReadWrite.All",),),
        optional=False,
        disables="Without it contact-center states cannot change agents' Teams presence.",
    ),
    Feature(
        "presence_subscriptions",
        "Presence change notifications",
        (),
        optional=False,
        disables="Graph only offers presence subscriptions to a signed-in user: add system "
        "users (delegated Presence.Read.All) to follow Teams presence changes.",
        delegated=("Presence.Read.All",),
    ),
    Feature(
        "chat_read",
        "Read and subscribe to chats",
        (("Chat.Read.All", "Chat.ReadWrite.All"),),
        optional=True,
        disables="Without it the console cannot follow customer chats in Teams.",
    ),
    Feature(
        "chat_send",
        "Send chat messages",
        (),
        optional=True,
        disables="Graph only lets a signed-in user send chat messages: a system user with "
        "delegated ChatMessage.Send and Chat.ReadWrite sends them.",
        delegated=("ChatMessage.Send", "Chat.ReadWrite"),
    ),
    Feature(
        "mailboxes",
        "Mailboxes",
        (("Mail.ReadWrite",), ("Mail.Send",)),
        optional=True,
        disables="Without them the console cannot read or send mail for shared mailboxes.",
    ),
)
FEATURES_BY_KEY = {f.key: f for f in FEATURES}


class FeatureStatus(StrEnum):
    GRANTED = "granted"
    MISSING = "missing"  # a required feature lacks a permission
    OPTIONAL_MISSING = "optional_missing"
    NEEDS_SYSTEM_USER = "needs_system_user"  # delegated only: not an app role


@dataclass(frozen=True)
class PermissionStatus:
    name: str
    granted: bool


@dataclass(frozen=True)
class FeatureCheck:
    """One feature against the granted roles. ``permissions`` lists each
    application permission the feature names, granted or not."""

    feature: Feature
    status: FeatureStatus
    permissions: tuple[PermissionStatus, ...]
    missing: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.status is FeatureStatus.GRANTED

    @property
    def message(self) -> str:
        """What the administrator should read next to the feature."""
        if self.status is FeatureStatus.GRANTED:
            return "Granted."
        if self.status is FeatureStatus.NEEDS_SYSTEM_USER:
            return "Needs a system user (delegated). " + self.feature.disables
        return f"Missing {' and '.join(self.missing)}. {self.feature.disables}"


def check_roles(roles: Iterable[str]) -> list[FeatureCheck]:
    """Check a token's ``roles`` claim against :data:`FEATURES`, in table order.
    Missing or empty roles mean nothing is consented (docs/graph.md)."""
    granted = {r.strip() for r in roles}
    checks = []
    for feature in FEATURES:
        statuses = tuple(PermissionStatus(p, p in granted) for p in feature.permissions)
        missing = tuple(g[0] for g in feature.requires if not any(p in granted for p in g))
        if feature.delegated_only:
            status = FeatureStatus.NEEDS_SYSTEM_USER
        elif not missing:
            status = FeatureStatus.GRANTED
        else:
            status = FeatureStatus.OPTIONAL_MISSING if feature.optional else FeatureStatus.MISSING
        checks.append(FeatureCheck(feature, status, statuses, missing))
    return checks


def admin_consent_url(authority_host: str, tenant: str, client_id: str) -> str:
    """Where a tenant administrator grants the app's permissions:
    ``{authority_host}/{tenant}/adminconsent?client_id={client_id}``."""
    host = authority_host.rstrip("/")
    query = urlencode({"client_id": client_id.strip()})
    return f"{host}/{quote(tenant.strip(), safe='')}/adminconsent?{query}"

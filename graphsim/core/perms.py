"""Which permissions each Graph operation accepts (application / delegated)."""

from __future__ import annotations

from graphsim.call import Call
from graphsim.errors import GraphError

Perms = tuple[tuple[str, ...], tuple[str, ...]]

USER_READ: Perms = (
    ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"),
    (
        "User.Read.All",
        "User.ReadWrite.All",
        "User.ReadBasic.All",
        "Directory.Read.All",
        "Directory.AccessAsUser.All",
    ),
)
USER_CREATE: Perms = (
    ("User.ReadWrite.All", "User.Create", "Directory.ReadWrite.All"),
    ("User.ReadWrite.All", "Directory.AccessAsUser.All"),
)
USER_WRITE: Perms = (
    ("User.ReadWrite.All", "Directory.ReadWrite.All"),
    ("User.ReadWrite.All", "Directory.AccessAsUser.All"),
)
GROUP_MEMBERS: Perms = (
    (
        "GroupMember.Read.All",
        "Group.Read.All",
        "GroupMember.ReadWrite.All",
        "Group.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    ),
    ("GroupMember.Read.All", "Group.Read.All", "Directory.Read.All"),
)
APPLICATION_READ: Perms = (
    ("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All"),
    ("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All"),
)
PRESENCE_READ: Perms = (
    ("Presence.Read.All", "Presence.ReadWrite.All"),
    ("Presence.Read.All", "Presence.ReadWrite.All"),
)
PRESENCE_WRITE: Perms = (
    ("Presence.ReadWrite.All",),
    ("Presence.ReadWrite", "Presence.ReadWrite.All"),
)
# Presence subscriptions are delegated-only (docs/graph.md).
PRESENCE_SUBSCRIBE: Perms = ((), ("Presence.Read.All", "Presence.ReadWrite.All"))


def require(call: Call, perms: Perms) -> None:
    """Raise GraphError 403 ``Authorization_RequestDenied`` unless the token grants one."""
    if not call.p.has_any(*perms):
        raise GraphError(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )

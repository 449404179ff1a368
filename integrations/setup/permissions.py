"""Which permissions the Azure guides ask the app for, per feature, and the
verdict on what the tenant granted. Pure: no I/O.

The lists are the Azure app guide's (directory, chat and presence) and the CXone
guide's (User.ReadWrite.All, to create system users). A permission is needed
when a feature that uses it is in use, optional otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from integrations.setup.checks import Check, Group, State

PRESENCE, CHAT, DIRECTORY, CREATE_USERS = "presence", "chat", "directory", "create_users"
FEATURE_NAMES = {
    PRESENCE: "presence sync",
    CHAT: "expert chat",
    DIRECTORY: "the directory",
    CREATE_USERS: "creating system users",
}


@dataclass(frozen=True)
class Wanted:
    name: str
    application: bool
    features: tuple[str, ...]
    why: str


WANTED: tuple[Wanted, ...] = (
    Wanted("User.Read.All", True, (DIRECTORY,), "read Teams users to map agents"),
    Wanted("Presence.ReadWrite.All", True, (PRESENCE,), "set and read Teams presence"),
    Wanted("Chat.ReadWrite.All", True, (CHAT,), "follow expert chats"),
    Wanted("ChannelMessage.Read.All", True, (CHAT,), "read channel messages"),
    Wanted("User.ReadWrite.All", True, (CREATE_USERS,), "create system users in Entra ID"),
    Wanted("Presence.Read.All", False, (PRESENCE,), "subscribe to presence as a system user"),
    Wanted("Subscription.Read.All", False, (PRESENCE, CHAT), "list its own subscriptions"),
    Wanted("User.Read.All", False, (DIRECTORY,), "read users as the service account"),
    Wanted("Directory.Read.All", False, (DIRECTORY,), "read the directory as the service account"),
    Wanted("Group.Read.All", False, (DIRECTORY,), "read groups as the service account"),
    Wanted("Chat.ReadWrite", False, (CHAT,), "open chats with experts"),
    Wanted("ChatMessage.Send", False, (CHAT,), "send chat messages"),
    Wanted("ChannelMessage.Send", False, (CHAT,), "send channel messages"),
    Wanted("Chat.ManageDeletion.All", False, (CHAT,), "delete ended chats"),
)


def permission_checks(
    *,
    granted: set[str] | None,
    consented: set[str] | None,
    in_use: set[str],
    consent_url: str,
    granted_error: str = "",
    consented_error: str = "",
) -> list[Check]:
    """One row per wanted permission: green when granted (application) or
    consented for all users (delegated); red when missing and needed by a
    feature in use, amber when missing but optional, or when it could not be read."""
    rows = []
    for wanted in WANTED:
        kind = "application" if wanted.application else "delegated"
        have = granted if wanted.application else consented
        error = granted_error if wanted.application else consented_error
        needed = bool(set(wanted.features) & in_use)
        features = ", ".join(FEATURE_NAMES[f] for f in wanted.features)
        key = f"permissions.{kind}.{wanted.name}"
        title = f"{wanted.name} ({kind})"
        label = "needed" if needed else "optional"
        if have is None:
            rows.append(
                Check(
                    key,
                    Group.PERMISSIONS,
                    title,
                    State.AMBER,
                    error,
                    "Check API permissions in Azure yourself: App registrations → the "
                    "app → API permissions.",
                )
            )
        elif wanted.name in have:
            what = "Granted" if wanted.application else "Consented for all users"
            rows.append(
                Check(
                    key, Group.PERMISSIONS, title, State.GREEN, f"{what}; {label} for {features}."
                )
            )
        else:
            rows.append(
                Check(
                    key,
                    Group.PERMISSIONS,
                    title,
                    State.RED if needed else State.AMBER,
                    f"Missing; {label} for {features} (to {wanted.why}).",
                    f"Azure → App registrations → the app → API permissions → Add a permission "
                    f"→ Microsoft Graph → {kind.capitalize()} permissions → {wanted.name}, then "
                    f"Grant admin consent, or open the admin-consent link: {consent_url}",
                )
            )
    return rows

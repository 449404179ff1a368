"""The two console roles, kept in sync with the code after every migrate.

Administrator holds every permission of ccbridge's own apps plus user
management; Supervisor holds the explicit list below. Later features add
their permissions to SUPERVISOR_PERMISSIONS; Administrators get them for free.
"""

from django.contrib.auth.models import Group, Permission

ADMINISTRATOR = "Administrator"
SUPERVISOR = "Supervisor"
ROLES = (ADMINISTRATOR, SUPERVISOR)

OWN_APPS = ("console", "integrations", "accounts", "presence", "chat", "mailboxes")

SUPERVISOR_PERMISSIONS = (
    "console.view_dashboard",
    "integrations.view_jobrun",
    "integrations.view_integrationaccount",
    "integrations.view_setuprun",
    "accounts.view_directoryuser",
    "accounts.sync_directory",
    "accounts.view_agent",
    "accounts.view_businessunit",
    "accounts.view_agentteam",
    "accounts.map_agents",
    "accounts.toggle_teams",
    "presence.view_presencerule",
    "presence.assign_presencerule",
    "presence.view_reasoncode",
    "presence.view_subscription",
    "presence.view_agentpresence",
    "presence.view_syncrecord",
    "chat.view_conference",
    "chat.view_conferencemessage",
    "mailboxes.view_mailbox",
    "mailboxes.view_mailboxtest",
)


def _permissions(labels) -> list[Permission]:
    perms = []
    for label in labels:
        app_label, codename = label.split(".", 1)
        perms.extend(
            Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        )
    return perms


def roles_sync() -> None:
    """Create both groups and set their permissions to exactly what the code says."""
    admin, _ = Group.objects.get_or_create(name=ADMINISTRATOR)
    admin.permissions.set(
        Permission.objects.filter(content_type__app_label__in=(*OWN_APPS, "auth"))
    )
    supervisor, _ = Group.objects.get_or_create(name=SUPERVISOR)
    supervisor.permissions.set(_permissions(SUPERVISOR_PERMISSIONS))


def sync_roles_after_migrate(**kwargs) -> None:
    roles_sync()


def role_of(user) -> str:
    """The user's role name, or "" for a user in neither group."""
    names = {group.name for group in user.groups.all()}
    for role in ROLES:
        if role in names:
            return role
    return ""


def role_assign(user, role: str) -> None:
    """Put the user in exactly one role group."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    user.groups.remove(*Group.objects.filter(name__in=ROLES).exclude(name=role))
    user.groups.add(Group.objects.get(name=role))

"""The header navigation: each entry shows only to users holding its permission."""

from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    permission: str


NAVIGATION: tuple[NavItem, ...] = (
    NavItem("Dashboard", "console:dashboard", "console.view_dashboard"),
    NavItem("Teams account", "integrations:account", "integrations.view_integrationaccount"),
    NavItem("Setup", "integrations:setup", "integrations.view_setuprun"),
    NavItem("Directory", "accounts:directory", "accounts.view_directoryuser"),
    NavItem("Mapping", "accounts:mapping", "accounts.view_agent"),
    NavItem("Rules", "presence:rule_list", "presence.view_presencerule"),
    NavItem("Board", "sync:board", "presence.view_agentpresence"),
    NavItem("Chats", "chat:conferences", "chat.view_conference"),
    NavItem("Subscriptions", "sync:subscriptions", "presence.view_subscription"),
    NavItem("System users", "sync:system_users", "presence.view_systemuser"),
    NavItem("Mailboxes", "mailboxes:list", "mailboxes.view_mailbox"),
    NavItem("Jobs", "console:job_list", "integrations.view_jobrun"),
    NavItem("Users", "console:user_list", "console.manage_users"),
    NavItem("API keys", "integrations:apikey_list", "integrations.view_apikey"),
    NavItem("ACD webhook", "sync:acd_settings", "presence.view_acdendpoint"),
    NavItem("Alerts", "console:alerts", "console.manage_alerts"),
    NavItem("Audit log", "console:audit_log", "console.view_auditlog"),
)


def navigation_for(user) -> list[NavItem]:
    if not user.is_authenticated:
        return []
    return [item for item in NAVIGATION if user.has_perm(item.permission)]

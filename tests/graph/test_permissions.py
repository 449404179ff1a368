"""The permission check behind "Test connection" (docs/graph.md, "Permissions
ccbridge uses"): per feature, each application permission granted or missing."""

from __future__ import annotations

from graph.permissions import FEATURES, FeatureStatus, admin_consent_url, check_roles

EVERY_APP_ROLE = [
    "User.Read.All", "GroupMember.Read.All", "User.ReadWrite.All", "Application.Read.All",
    "Presence.Read.All", "Presence.ReadWrite.All", "Chat.Read.All", "Mail.ReadWrite", "Mail.Send",
]  # fmt: skip


def by_key(roles: list[str]) -> dict:
    return {c.feature.key: c for c in check_roles(roles)}


def test_it_lists_every_feature_of_the_table_in_order() -> None:
    keys = [c.feature.key for c in check_roles([])]
    assert keys == [f.key for f in FEATURES]
    assert keys == [
        "directory", "agent_teams", "create_system_users", "secret_expiry", "read_presence",
        "set_presence", "presence_subscriptions", "chat_read", "chat_send", "mailboxes",
    ]  # fmt: skip


def test_everything_consented_grants_every_application_feature() -> None:
    checks = by_key(EVERY_APP_ROLE)
    for key, check in checks.items():
        if check.feature.delegated_only:
            assert check.status is FeatureStatus.NEEDS_SYSTEM_USER, key
        else:
            assert check.status is FeatureStatus.GRANTED, key
            assert check.missing == ()


def test_no_roles_means_nothing_is_consented() -> None:
    """docs/graph.md: missing or empty roles = nothing consented."""
    checks = by_key([])
    assert checks["directory"].status is FeatureStatus.MISSING
    assert checks["directory"].missing == ("User.Read.All",)
    assert checks["set_presence"].status is FeatureStatus.MISSING
    assert checks["secret_expiry"].status is FeatureStatus.OPTIONAL_MISSING
    assert "enter the date by hand" in checks["secret_expiry"].message


def test_directory_read_all_is_an_alternative_to_user_read_all() -> None:
    """docs/graph.md: directory needs User.Read.All (or Directory.Read.All)."""
    check = by_key(["Directory.Read.All"])["directory"]
    assert check.status is FeatureStatus.GRANTED
    granted = {p.name: p.granted for p in check.permissions}
    assert granted == {"User.Read.All": False, "Directory.Read.All": True}


def test_user_create_is_enough_to_create_system_users() -> None:
    """docs/graph.md: create system users needs User.ReadWrite.All (least: User.Create)."""
    assert by_key(["User.Create"])["create_system_users"].ok


def test_mailboxes_need_both_mail_permissions() -> None:
    """docs/graph.md: mailboxes need Mail.ReadWrite and Mail.Send."""
    check = by_key(["Mail.ReadWrite"])["mailboxes"]
    assert check.status is FeatureStatus.OPTIONAL_MISSING
    assert check.missing == ("Mail.Send",)
    assert by_key(["Mail.ReadWrite", "Mail.Send"])["mailboxes"].ok


def test_delegated_only_features_need_a_system_user_not_an_app_role() -> None:
    """docs/graph.md: presence subscriptions and chat send are not supported with
    application permissions."""
    for roles in ([], EVERY_APP_ROLE):
        checks = by_key(roles)
        for key in ("presence_subscriptions", "chat_send"):
            assert checks[key].status is FeatureStatus.NEEDS_SYSTEM_USER
            assert checks[key].message.startswith("Needs a system user (delegated).")
            assert checks[key].missing == ()
    assert by_key([])["presence_subscriptions"].feature.delegated == ("Presence.Read.All",)


def test_missing_required_permission_names_it_and_what_breaks() -> None:
    message = by_key(["Presence.Read.All"])["set_presence"].message
    assert message.startswith("Missing Presence.ReadWrite.All.")
    assert "Teams presence" in message


def test_admin_consent_url() -> None:
    """docs/graph.md: https://login.microsoftonline.com/{tenant}/adminconsent?client_id={client}."""
    url = admin_consent_url(
        "https://login.microsoftonline.com/", "contoso.onmicrosoft.com", "1234-abcd"
    )
    assert url == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/adminconsent?client_id=1234-abcd"
    )

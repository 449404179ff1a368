"""Each setup check in each of its states, against the simulator over real HTTPS.

The tenant starts set up as the Azure guides ask; each test breaks one step
through the control API and reads the row the administrator would see.
"""

from datetime import UTC, datetime, timedelta

import pytest

from integrations.models import SetupRun
from integrations.setup.collect import redirect_uri
from integrations.setup.services import setup_run_execute
from presence.sync_models import Subscription
from tests.integrations.factories import IntegrationAccountFactory
from tests.plugins.graphsim_server import CCBRIDGE_APPLICATION_PERMISSIONS
from tests.presence.factories import SubscriptionFactory, SystemUserFactory
from tests.presence.support_sync import SYSTEM_PASSWORD, sim_system_user

PUBLIC_URL = "https://ccbridge.contoso.example"
# The delegated permissions of the Azure app guide, consented for every user.
GUIDE_DELEGATED = [
    "Chat.ReadWrite", "Chat.ManageDeletion.All", "ChatMessage.Send", "ChannelMessage.Send",
    "Directory.Read.All", "Group.Read.All", "Presence.Read.All", "Subscription.Read.All",
    "User.Read.All", "User.Read",
]  # fmt: skip
# What the app may read for the checks themselves, on top of the guide's permissions.
READS = ["ChannelMessage.Read.All", "Directory.Read.All", "Policy.Read.All"]


@pytest.fixture
def tenant(db, sim_tenant, graphsim, graph_settings, settings):
    """A tenant set up as the guides ask, with the account and one system user."""
    settings.CCBRIDGE_PUBLIC_URL = PUBLIC_URL
    graphsim.control.update_app(
        sim_tenant.tenant_id,
        sim_tenant.client_id,
        permissions=CCBRIDGE_APPLICATION_PERMISSIONS + READS,
        delegated=GUIDE_DELEGATED,
        redirect_uris=[redirect_uri()],
    )
    IntegrationAccountFactory.for_tenant(sim_tenant)
    return sim_tenant


@pytest.fixture
def system_user(graphsim, tenant):
    user = sim_system_user(graphsim, tenant)
    return SystemUserFactory(username=user["userPrincipalName"], password=SYSTEM_PASSWORD)


def _run() -> dict[str, dict]:
    run = setup_run_execute(run=SetupRun.objects.create())
    return {row["key"]: row for row in run.checks}


def _state(rows: dict[str, dict], key: str) -> str:
    return rows[key]["state"]


def test_a_tenant_set_up_as_the_guides_ask_is_green(tenant, system_user):
    SubscriptionFactory(system_user=system_user)

    rows = _run()

    assert {k: r["state"] for k, r in rows.items() if r["state"] != "green"} == {}
    assert SetupRun.objects.get().state == "green"
    assert "Single tenant" in rows["registration.audience"]["evidence"]


# --- app registration -----------------------------------------------------------------


def test_a_wrong_object_id_is_red(tenant, system_user):
    from integrations.models import IntegrationAccount

    IntegrationAccount.objects.update(object_id="00000000-0000-0000-0000-00000000dead")
    rows = _run()
    assert _state(rows, "registration.found") == "red"
    assert "00000000-0000-0000-0000-00000000dead" in rows["registration.found"]["evidence"]


def test_no_object_id_is_amber_and_says_where_to_copy_it_from(tenant, system_user):
    from integrations.models import IntegrationAccount

    IntegrationAccount.objects.update(object_id="")
    rows = _run()
    assert _state(rows, "registration.found") == "amber"
    assert "Overview" in rows["registration.found"]["fix"]


def test_an_object_id_of_another_app_does_not_match_the_client_id(graphsim, tenant, system_user):
    from integrations.models import IntegrationAccount

    other = graphsim.control.create_app(tenant.tenant_id, display_name="someone else's")
    IntegrationAccount.objects.update(object_id=other["object_id"])
    rows = _run()
    assert _state(rows, "registration.client_id") == "red"
    assert other["client_id"] in rows["registration.client_id"]["evidence"]


def test_a_multi_tenant_app_is_amber(graphsim, tenant, system_user):
    graphsim.control.update_app(
        tenant.tenant_id, tenant.client_id, sign_in_audience="AzureADMultipleOrgs"
    )
    rows = _run()
    assert _state(rows, "registration.audience") == "amber"
    assert "Accounts in this organizational directory only" in rows["registration.audience"]["fix"]


def test_a_missing_redirect_uri_is_red_and_names_it(graphsim, tenant, system_user):
    graphsim.control.update_app(tenant.tenant_id, tenant.client_id, redirect_uris=[])
    rows = _run()
    assert _state(rows, "registration.redirect_uri") == "red"
    assert f"{PUBLIC_URL}/signin/" in rows["registration.redirect_uri"]["fix"]


def test_a_secret_expiring_within_15_days_is_amber(graphsim, tenant, system_user):
    soon = datetime.now(UTC) + timedelta(days=10)
    graphsim.control.update_app(tenant.tenant_id, tenant.client_id, secret_expires_at=soon)
    rows = _run()
    assert _state(rows, "registration.secret") == "amber"
    assert (
        "in 9 days" in rows["registration.secret"]["evidence"]
        or "in 10 days" in (rows["registration.secret"]["evidence"])
    )


def test_a_secret_30_days_away_is_green(graphsim, tenant, system_user):
    later = datetime.now(UTC) + timedelta(days=30)
    graphsim.control.update_app(tenant.tenant_id, tenant.client_id, secret_expires_at=later)
    assert _state(_run(), "registration.secret") == "green"


def test_an_expired_secret_stops_the_round_at_the_sign_in(graphsim, tenant, system_user):
    graphsim.control.expire_secrets(tenant.tenant_id, tenant.client_id)
    rows = _run()
    assert list(rows) == ["registration.token"]
    assert _state(rows, "registration.token") == "red"
    assert "AADSTS7000222" in rows["registration.token"]["fix"]


def test_without_application_read_all_the_registration_is_amber(graphsim, tenant, system_user):
    # Directory.Read.All would let the app read registrations as well.
    unread = ("Application.Read.All", "Directory.Read.All")
    kept = [p for p in CCBRIDGE_APPLICATION_PERMISSIONS + READS if p not in unread]
    graphsim.control.update_app(tenant.tenant_id, tenant.client_id, permissions=kept)
    rows = _run()
    assert _state(rows, "registration.found") == "amber"
    assert "Application.Read.All" in rows["registration.found"]["evidence"]
    assert _state(rows, "permissions.application.User.Read.All") == "amber"


# --- permissions -----------------------------------------------------------------------


def test_a_needed_application_permission_missing_is_red_with_the_consent_link(
    graphsim, tenant, system_user
):
    kept = [p for p in CCBRIDGE_APPLICATION_PERMISSIONS + READS if p != "Presence.ReadWrite.All"]
    graphsim.control.update_app(tenant.tenant_id, tenant.client_id, permissions=kept)
    row = _run()["permissions.application.Presence.ReadWrite.All"]
    assert row["state"] == "red"
    assert "needed for presence sync" in row["evidence"]
    assert f"/{tenant.tenant_id}/adminconsent?client_id={tenant.client_id}" in row["fix"]


def test_a_permission_of_a_feature_not_in_use_is_optional(graphsim, tenant, system_user):
    kept = [p for p in CCBRIDGE_APPLICATION_PERMISSIONS + READS if p != "ChannelMessage.Read.All"]
    graphsim.control.update_app(tenant.tenant_id, tenant.client_id, permissions=kept)
    row = _run()["permissions.application.ChannelMessage.Read.All"]
    assert row["state"] == "amber"
    assert "optional for expert chat" in row["evidence"]


def test_delegated_consent_is_read_from_the_permission_grants(graphsim, tenant, system_user):
    kept = [p for p in GUIDE_DELEGATED if p != "Subscription.Read.All"]
    graphsim.control.update_app(tenant.tenant_id, tenant.client_id, delegated=kept)
    rows = _run()
    assert _state(rows, "permissions.delegated.Subscription.Read.All") == "red"
    assert _state(rows, "permissions.delegated.Presence.Read.All") == "green"
    assert "Consented for all users" in rows["permissions.delegated.Presence.Read.All"]["evidence"]


# --- service account and system users ---------------------------------------------------


def test_security_defaults_on_are_red_and_block_the_sign_in(graphsim, tenant, system_user):
    graphsim.control.request(
        "PUT", f"/tenants/{tenant.tenant_id}/security-defaults", json={"enabled": True}
    )
    rows = _run()
    assert _state(rows, "accounts.security_defaults") == "red"
    sign_in = rows[f"accounts.sign_in.{system_user.username.lower()}"]
    assert sign_in["state"] == "red"
    assert "AADSTS50076" in sign_in["evidence"]


def test_a_system_user_with_mfa_is_red_with_the_fix(graphsim, tenant):
    user = sim_system_user(graphsim, tenant, mfa_required=True)
    SystemUserFactory(username=user["userPrincipalName"], password=SYSTEM_PASSWORD)
    row = _run()[f"accounts.sign_in.{user['userPrincipalName'].lower()}"]
    assert row["state"] == "red"
    assert "Conditional Access" in row["fix"]


def test_a_wrong_password_is_red(graphsim, tenant):
    user = sim_system_user(graphsim, tenant)
    SystemUserFactory(username=user["userPrincipalName"], password="not-the-password")
    row = _run()[f"accounts.sign_in.{user['userPrincipalName'].lower()}"]
    assert row["state"] == "red"
    assert "AADSTS50126" in row["fix"]


def test_global_administrator_is_flagged_naming_a_narrower_role(graphsim, tenant, system_user):
    graphsim.control.request(
        "PUT",
        f"/tenants/{tenant.tenant_id}/users/{system_user.username}/roles",
        json={"roles": ["Global Administrator", "Teams Administrator"]},
    )
    row = _run()[f"accounts.roles.{system_user.username.lower()}"]
    assert row["state"] == "amber"
    assert "Global Administrator" in row["evidence"]
    assert "Teams Administrator" in row["fix"]


def test_no_admin_role_is_green(tenant, system_user):
    row = _run()[f"accounts.roles.{system_user.username.lower()}"]
    assert row["state"] == "green"
    assert "none" in row["evidence"]


def test_without_policy_read_all_security_defaults_are_amber(graphsim, tenant, system_user):
    kept = [p for p in CCBRIDGE_APPLICATION_PERMISSIONS + READS if p != "Policy.Read.All"]
    graphsim.control.update_app(tenant.tenant_id, tenant.client_id, permissions=kept)
    row = _run()["accounts.security_defaults"]
    assert row["state"] == "amber"
    assert "Policy.Read.All" in row["evidence"]


def test_no_system_user_is_amber(tenant):
    assert _state(_run(), "accounts.none") == "amber"


def test_the_chat_service_account_reports_into_the_page(tenant, system_user):
    from chat.models import ChatServiceAccount

    account = ChatServiceAccount.objects.create(
        system_user=system_user, ready=False, status_detail="Chat.ReadWrite is not consented."
    )
    rows = _run()
    assert _state(rows, "accounts.chat_service_account") == "red"
    assert "Chat.ReadWrite is not consented." in rows["accounts.chat_service_account"]["evidence"]
    # Chat is in use now: its permissions are needed, not optional.
    assert (
        "needed for expert chat" in rows["permissions.application.Chat.ReadWrite.All"]["evidence"]
    )

    ChatServiceAccount.objects.filter(pk=account.pk).update(ready=True)
    assert _state(_run(), "accounts.chat_service_account") == "green"


# --- public webhook ----------------------------------------------------------------------


def test_an_http_public_url_is_red(settings, tenant, system_user):
    settings.CCBRIDGE_PUBLIC_URL = "http://127.0.0.1:8000"
    assert _state(_run(), "webhook.https") == "red"


def test_an_active_subscription_proves_the_handshake(tenant, system_user):
    rows = _run()
    assert _state(rows, "webhook.validation") == "amber"
    SubscriptionFactory(system_user=system_user)
    assert _state(_run(), "webhook.validation") == "green"


def test_a_failed_validation_is_red(tenant, system_user):
    SubscriptionFactory(
        system_user=system_user,
        status=Subscription.Status.FAILED,
        last_error="Subscription validation request failed (HTTP 400, ValidationError).",
    )
    assert _state(_run(), "webhook.validation") == "red"


def test_another_server_subscribed_with_this_app_is_red(graphsim, tenant, system_user):
    graphsim.control.request(
        "POST",
        f"/tenants/{tenant.tenant_id}/apps/{tenant.client_id}/subscriptions",
        json={"notification_url": "https://old-server.contoso.example/webhook"},
    )
    row = _run()["webhook.one_server"]
    assert row["state"] == "red"
    assert "https://old-server.contoso.example/webhook" in row["evidence"]

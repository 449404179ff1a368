"""System users: adding an account, checking its sign-in, creating accounts in Azure.

Graph facts pinned here (docs/graph.md, "Identity platform"): the password grant
fails with AADSTS50076 when MFA is required and AADSTS50126 for a wrong
password; ``POST /users`` needs accountEnabled, displayName, mailNickname,
userPrincipalName and passwordProfile.
"""

import pytest
from django.urls import reverse

from integrations.models import AuditEntry, JobRun
from presence.subscriptions import tasks as subscription_tasks
from presence.subscriptions.system_users import (
    AZURE_PREFIX,
    SystemUserExists,
    strong_password,
    system_user_add,
    system_user_check,
    system_users_create_in_azure,
    system_users_needed,
)
from presence.sync_models import SystemUser
from tests.plugins.celery_worker import wait_for
from tests.presence.support_sync import (
    SYSTEM_PASSWORD,
    sim_account,
    sim_system_user,
    small_tenant_fixture,  # noqa: F401
)
from tests.support.secrets import stored_value


@pytest.fixture
def account(small_tenant, graph_settings, db):
    return sim_account(small_tenant)


def audit_text() -> str:
    return " ".join(f"{e.summary} {e.changes}" for e in AuditEntry.objects.all())


@pytest.mark.parametrize(
    ("agents", "needed"), [(0, 0), (1, 1), (650, 1), (651, 2), (800, 2), (1300, 2), (1301, 3)]
)
def test_one_system_user_per_650_mapped_agents(agents, needed):
    assert system_users_needed(agents) == needed


def test_adding_an_account_signs_it_in_and_keeps_the_password_secret(
    graphsim, small_tenant, account, administrator_client
):
    made = sim_system_user(graphsim, small_tenant)

    response = administrator_client.post(
        reverse("sync:system_users"),
        {"username": made["userPrincipalName"], "password": SYSTEM_PASSWORD},
    )

    assert response.status_code == 302
    user = SystemUser.objects.get()
    assert user.status == SystemUser.Status.OK, user.status_detail
    assert user.graph_id == made["id"]  # the token's oid
    assert user.checked_at is not None
    assert user.password == SYSTEM_PASSWORD
    assert SYSTEM_PASSWORD not in stored_value(user, "password")
    assert "access_token" not in stored_value(user, "token_cache")
    assert "AccessToken" in user.token_cache
    page = administrator_client.get(reverse("sync:system_users")).content.decode()
    assert made["userPrincipalName"] in page and "Signed in" in page
    assert SYSTEM_PASSWORD not in page
    assert SYSTEM_PASSWORD not in audit_text()
    assert AuditEntry.objects.filter(action="system_user.add").exists()


def test_the_same_account_cannot_be_added_twice(account):
    system_user_add(actor=None, username="Presence@X.example", password="a")
    with pytest.raises(SystemUserExists):
        system_user_add(actor=None, username="presence@x.example", password="b")


def test_a_name_that_is_not_a_user_principal_name_is_a_field_error(account, administrator_client):
    response = administrator_client.post(
        reverse("sync:system_users"), {"username": "presence/../x@x.example", "password": "pw"}
    )
    assert response.status_code == 400
    assert "is not a user principal name" in response.content.decode()
    assert not SystemUser.objects.exists()


def test_mfa_required_tells_the_admin_to_exclude_the_account(
    graphsim, small_tenant, account, administrator_client
):
    made = sim_system_user(graphsim, small_tenant, mfa_required=True)
    user = system_user_add(actor=None, username=made["userPrincipalName"], password=SYSTEM_PASSWORD)

    system_user_check(user)

    assert user.status == SystemUser.Status.MFA_REQUIRED
    assert "AADSTS50076" in user.status_detail
    page = administrator_client.get(reverse("sync:system_users")).content.decode()
    assert "MFA required" in page
    assert "Exclude this account from MFA" in page
    assert "security defaults" in page and "Conditional Access" in page


def test_a_wrong_password_is_shown_and_replacing_it_fixes_the_sign_in(
    graphsim, small_tenant, account, administrator_client
):
    made = sim_system_user(graphsim, small_tenant)
    administrator_client.post(
        reverse("sync:system_users"),
        {"username": made["userPrincipalName"], "password": "Not-The-Passw0rd"},
    )
    user = SystemUser.objects.get()
    assert user.status == SystemUser.Status.WRONG_PASSWORD
    page = administrator_client.get(reverse("sync:system_users")).content.decode()
    assert "Wrong password" in page and "AADSTS50126" in page and "Replace password" in page

    administrator_client.post(
        reverse("sync:system_user_password", args=[user.pk]), {"password": SYSTEM_PASSWORD}
    )

    user.refresh_from_db()
    assert user.status == SystemUser.Status.OK
    assert "Not-The-Passw0rd" not in audit_text() and SYSTEM_PASSWORD not in audit_text()


def test_check_sign_in_notices_mfa_switched_on_later(graphsim, small_tenant, account):
    made = sim_system_user(graphsim, small_tenant)
    user = system_user_add(actor=None, username=made["userPrincipalName"], password=SYSTEM_PASSWORD)
    assert system_user_check(user).status == SystemUser.Status.OK
    graphsim.control.set_mfa(small_tenant.tenant_id, made["id"], True)
    assert system_user_check(user).status == SystemUser.Status.MFA_REQUIRED


def test_strong_passwords_are_long_random_and_mixed():
    passwords = {strong_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert len(password) == 32
        assert any(c.islower() for c in password) and any(c.isupper() for c in password)
        assert any(c.isdigit() for c in password) and any(not c.isalnum() for c in password)


@pytest.mark.parametrize("by_domain", [False, True])
def test_creating_system_users_in_azure(graphsim, small_tenant, graph_settings, db, by_domain):
    """docs/graph.md: POST /users with accountEnabled, displayName, mailNickname,
    userPrincipalName and passwordProfile → 201."""
    sim_account(small_tenant, by_domain=by_domain)

    created = system_users_create_in_azure(actor=None, count=2, sleep=lambda s: None)

    assert [u.username for u in created] == [
        f"{AZURE_PREFIX}1@{small_tenant.domain}",
        f"{AZURE_PREFIX}2@{small_tenant.domain}",
    ]
    posts = [
        c
        for c in graphsim.control.calls(tenant=small_tenant.tenant_id)
        if c["method"] == "POST" and c["path"].endswith("/users")
    ]
    assert [c["status"] for c in posts] == [201, 201]
    in_azure = {
        u["userPrincipalName"]: u for u in graphsim.control.list_users(small_tenant.tenant_id)
    }
    for user in created:
        assert user.created_in_azure and user.status == SystemUser.Status.OK, user.status_detail
        assert in_azure[user.username]["accountEnabled"] is True
        assert in_azure[user.username]["displayName"].startswith("ccbridge presence ")
        assert user.graph_id == in_azure[user.username]["id"]
        password = user.password
        assert len(password) == 32 and password not in stored_value(user, "password")
        assert password not in audit_text()

    # Numbering continues after the existing ones.
    [third] = system_users_create_in_azure(actor=None, count=1, sleep=lambda s: None)
    assert third.username.startswith(f"{AZURE_PREFIX}3@")


def test_without_user_create_permission_the_reason_is_given(graphsim, small_tenant, account):
    from presence.subscriptions.system_users import SystemUserError

    permissions = ["User.Read.All", "Presence.Read.All"]
    graphsim.control.update_app(
        small_tenant.tenant_id, small_tenant.client_id, permissions=permissions
    )
    with pytest.raises(SystemUserError, match=r"User\.ReadWrite\.All"):
        system_users_create_in_azure(actor=None, count=1, sleep=lambda s: None)
    assert not SystemUser.objects.exists()


@pytest.mark.worker
def test_create_in_azure_from_the_page_runs_in_the_worker(
    celery_worker, graphsim, small_tenant, administrator_client
):
    sim_account(small_tenant)
    page = administrator_client.get(reverse("sync:system_users")).content.decode()
    assert "Create in Azure" in page

    response = administrator_client.post(reverse("sync:system_users_create"), {"count": 2})

    assert response.status_code == 302
    job = JobRun.objects.get(kind=subscription_tasks.CREATE_KIND)

    def finished():
        job.refresh_from_db()
        return job.is_finished

    wait_for(finished, timeout=60, what="the create job")
    assert job.status == JobRun.Status.SUCCEEDED, job.error or celery_worker.log()
    assert job.counts == {"created": 2, "signed_in": 2}
    users = list(SystemUser.objects.order_by("username"))
    assert [u.username.split("@")[0] for u in users] == [f"{AZURE_PREFIX}1", f"{AZURE_PREFIX}2"]
    assert all(u.status == SystemUser.Status.OK for u in users)
    page = administrator_client.get(reverse("sync:system_users")).content.decode()
    for user in users:
        password = user.password
        assert password not in page and password not in audit_text()
        assert password not in job.message and password not in celery_worker.log()
    assert "Created by ccbridge in Azure" in page


def test_the_create_form_suggests_how_many_are_missing(account, administrator_client):
    from tests.presence.support_sync import map_agents

    map_agents([{"id": f"00000000-0000-0000-0000-{i:012d}"} for i in range(700)])
    page = administrator_client.get(reverse("sync:system_users")).content.decode()
    assert "700 mapped agents need 2 system users" in page
    assert 'name="count" value="2"' in page


def test_disable_and_remove(graphsim, small_tenant, account, administrator_client):
    made = sim_system_user(graphsim, small_tenant)
    user = system_user_add(actor=None, username=made["userPrincipalName"], password=SYSTEM_PASSWORD)
    administrator_client.post(reverse("sync:system_user_toggle", args=[user.pk]), {"enabled": "0"})
    user.refresh_from_db()
    assert not user.enabled
    confirm = administrator_client.get(reverse("sync:system_user_remove", args=[user.pk]))
    assert "stays in Microsoft Entra ID" in confirm.content.decode()
    administrator_client.post(reverse("sync:system_user_remove", args=[user.pk]))
    assert not SystemUser.objects.exists()
    assert AuditEntry.objects.filter(action="system_user.remove").exists()


def test_an_account_deleted_from_the_tenant_is_failing_with_what_to_do(
    graphsim, small_tenant, account, administrator_client
):
    made = sim_system_user(graphsim, small_tenant)
    user = system_user_add(actor=None, username=made["userPrincipalName"], password=SYSTEM_PASSWORD)
    assert system_user_check(user).status == SystemUser.Status.OK
    graphsim.control.delete_user(small_tenant.tenant_id, made["id"], permanent=True)

    system_user_check(user)

    assert user.status == SystemUser.Status.FAILED
    assert "AADSTS50034" in user.status_detail
    page = administrator_client.get(reverse("sync:system_users")).content.decode()
    assert "no longer exists in the tenant" in page
    assert "Replace password" in page and "Create in Azure" in page
    assert "1 cannot sign in" in page


def test_you_have_enough_counts_accounts_that_sign_in_not_enabled_rows(
    graphsim, small_tenant, account, administrator_client
):
    from tests.presence.support_sync import map_agents

    map_agents(small_tenant.users[:5])
    ghost = system_user_add(
        actor=None, username=f"ccbridge_presence_9@{small_tenant.domain}", password="Gone-Passw0rd!"
    )
    system_user_check(ghost)
    assert ghost.enabled and ghost.status == SystemUser.Status.FAILED

    page = administrator_client.get(reverse("sync:system_users")).content.decode()

    assert "You have enough for now" not in page
    assert "You need 1 more." in page
    assert 'name="count" value="1"' in page
    assert 'class="notice su-failing"' in page

"""The demo's system users: running the demo again puts back accounts the tenant
lost and counts only accounts that sign in."""

import pytest

from demo.seed import DEMO_AGENTS, demo_system_users_ensure
from presence.subscriptions.system_users import (
    system_user_add,
    system_user_check,
    system_users_create_in_azure,
    system_users_needed,
)
from presence.sync_models import SystemUser
from tests.presence.factories import SystemUserFactory
from tests.presence.support_sync import (
    SYSTEM_PASSWORD,
    sim_account,
    sim_system_user,
    small_tenant_fixture,  # noqa: F401
)

NEEDED = system_users_needed(DEMO_AGENTS)


@pytest.fixture
def account(small_tenant, graph_settings, db):
    return sim_account(small_tenant)


def _upns(graphsim, tenant) -> set[str]:
    return {u["userPrincipalName"] for u in graphsim.control.list_users(tenant.tenant_id)}


def test_a_system_user_the_tenant_lost_is_recreated_with_its_name_and_password(
    graphsim, small_tenant, account
):
    first, *_ = system_users_create_in_azure(actor=None, count=NEEDED, sleep=lambda _s: None)
    assert first.status == SystemUser.Status.OK
    # What a simulator restart without its data folder used to do.
    graphsim.control.delete_user(small_tenant.tenant_id, first.graph_id, permanent=True)

    result = demo_system_users_ensure()

    assert result == (1, 0)
    first.refresh_from_db()
    assert first.status == SystemUser.Status.OK, first.status_detail
    assert first.username in _upns(graphsim, small_tenant)
    assert SystemUser.objects.count() == NEEDED


def test_accounts_that_cannot_sign_in_do_not_count_as_enough(graphsim, small_tenant, account):
    made = sim_system_user(graphsim, small_tenant, mfa_required=True)
    blocked = SystemUserFactory(  # status OK: as last seen, before MFA was switched on
        username=made["userPrincipalName"], password=SYSTEM_PASSWORD
    )

    result = demo_system_users_ensure()

    assert result == (0, NEEDED)
    blocked.refresh_from_db()
    assert blocked.status == SystemUser.Status.MFA_REQUIRED
    working = SystemUser.objects.filter(status=SystemUser.Status.OK)
    assert working.count() == NEEDED


def test_outside_the_demo_a_lost_account_is_reported_not_recreated(graphsim, small_tenant, account):
    made = sim_system_user(graphsim, small_tenant)
    user = system_user_add(actor=None, username=made["userPrincipalName"], password=SYSTEM_PASSWORD)
    graphsim.control.delete_user(small_tenant.tenant_id, made["id"], permanent=True)

    system_user_check(user)

    assert user.status == SystemUser.Status.FAILED and "AADSTS50034" in user.status_detail
    assert made["userPrincipalName"] not in _upns(graphsim, small_tenant)

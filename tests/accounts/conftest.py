"""Fixtures for the accounts tests: the integration account, and a tenant big
enough that a full directory sync takes more than one page."""

import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.plugins.graphsim_server import (
    CCBRIDGE_APPLICATION_PERMISSIONS,
    CCBRIDGE_DELEGATED_PERMISSIONS,
    GraphSimControlError,
    GraphSimServer,
    SimTenant,
)

# More than one /users/delta page of 999: two pages.
BIG_TENANT_USERS = 1300


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """These tests sign users in with force_login: a slow hash only costs a second a user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def big_tenant(graphsim: GraphSimServer) -> Iterator[SimTenant]:
    """A 1,300-user tenant, made once; tests must not change it (use sim_tenant for that)."""
    control = graphsim.control
    domain = f"big{uuid.uuid4().hex[:10]}.example"
    tenant = control.create_tenant(
        name="Northwind", domain=domain, users=BIG_TENANT_USERS, seed=4242
    )
    app = control.create_app(
        tenant["tenant_id"],
        permissions=CCBRIDGE_APPLICATION_PERMISSIONS,
        delegated=CCBRIDGE_DELEGATED_PERMISSIONS,
        secret_expires_at=datetime.now(UTC) + timedelta(days=60),
    )
    yield SimTenant(
        tenant_id=tenant["tenant_id"],
        domain=tenant["domain"],
        name=tenant["name"],
        client_id=app["client_id"],
        client_secret=app["client_secret"],
        object_id=app["object_id"],
        users=control.list_users(tenant["tenant_id"]),
        authority=f"{graphsim.authority_host}/{tenant['tenant_id']}",
    )
    with contextlib.suppress(GraphSimControlError):
        control.delete_tenant(tenant["tenant_id"])


@pytest.fixture
def big_account(make_account, big_tenant, graph_settings, graphsim):
    """The integration account pointed at the 1,300-user tenant."""
    yield make_account(
        tenant=big_tenant.tenant_id,
        client_id=big_tenant.client_id,
        secret=big_tenant.client_secret,
        object_id=big_tenant.object_id,
    )
    graphsim.control.clear_faults()

"""Fixtures for the demo tests: the 1,300-user tenant the accounts tests use."""

import pytest

from tests.accounts.conftest import big_tenant  # noqa: F401 - the fixture, shared


@pytest.fixture
def big_account(make_account, big_tenant, graph_settings, graphsim):  # noqa: F811
    """The integration account pointed at the 1,300-user tenant."""
    yield make_account(
        tenant=big_tenant.tenant_id,
        client_id=big_tenant.client_id,
        secret=big_tenant.client_secret,
        object_id=big_tenant.object_id,
    )
    graphsim.control.clear_faults()

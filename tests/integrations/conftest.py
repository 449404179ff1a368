import pytest

from integrations import crypto
from integrations.models import IntegrationAccount

DEFAULT_CLIENT = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def make_account(db):
    """Store an integration account directly (forms and services are tested elsewhere)."""

    def make(
        *, tenant="contoso.example", client_id=DEFAULT_CLIENT, secret="s3cret-value~abc", **fields
    ):
        account = IntegrationAccount(
            name=fields.pop("name", "Contoso Teams"),
            tenant=tenant,
            client_id=client_id,
            **fields,
        )
        account.client_secret_encrypted = crypto.encrypt(secret)
        account.save()
        return account

    return make


@pytest.fixture
def sim_account(make_account, sim_tenant, graph_settings):
    """The integration account pointed at a fresh, fully consented simulator tenant."""
    return make_account(
        tenant=sim_tenant.tenant_id,
        client_id=sim_tenant.client_id,
        secret=sim_tenant.client_secret,
        object_id=sim_tenant.object_id,
    )

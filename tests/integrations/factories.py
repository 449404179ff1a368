"""Factories for the integration account, job runs and connection tests."""

import factory

from integrations.models import ConnectionTest, IntegrationAccount, JobRun

DEFAULT_CLIENT_ID = "11111111-2222-3333-4444-555555555555"


class IntegrationAccountFactory(factory.django.DjangoModelFactory):
    """The one integration account; its secret is stored encrypted by the model field.

    Point it at a simulator tenant with ``IntegrationAccountFactory.for_tenant(tenant)``.
    """

    class Meta:
        model = IntegrationAccount

    name = "Contoso Teams"
    tenant = "contoso.example"
    client_id = DEFAULT_CLIENT_ID
    client_secret = "s3cret-value~abc"

    @classmethod
    def for_tenant(cls, tenant, *, by_domain: bool = False, **fields) -> IntegrationAccount:
        """The account signed in to a simulator tenant (by id, or by its domain)."""
        fields.setdefault("client_secret", tenant.client_secret)
        return cls(
            tenant=tenant.domain if by_domain else tenant.tenant_id,
            client_id=tenant.client_id,
            object_id=tenant.object_id,
            **fields,
        )


class JobRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = JobRun

    kind = "system.selfcheck"


class ConnectionTestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConnectionTest

    account = factory.SubFactory(IntegrationAccountFactory)
